"""The stand-in's one node: pulls an image from the registry and runs a container with buildah.

``start_container`` pulls the rendered reference (by digest when it has one), makes a working
container (``buildah from``) and starts the spec's process with ``buildah run --isolation chroot``
on the host network: as the spec's user, with its env on top of the image's, on 127.0.0.1 and a
free port (the container port is rewritten, see ``podspec.container_argv``). A read-only root is
made by bind-mounting every top-level directory of the image read-only over itself (buildah run
has no --read-only, and needs /etc writable for /etc/hosts: hence --no-hosts); emptyDir mounts
such as /tmp are tmpfs. Everything is stopped and removed by its own id.
"""

import contextlib
import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from harness.image import buildah, image_present, tool_env
from harness.network import free_port
from tests.support.argocd.podspec import PodSpec, Probe, container_argv, pull_reference

# Not made read-only: kernel file systems and what buildah run mounts itself.
KERNEL_DIRS = {"proc", "sys", "dev", "run", "tmp"}
PULL_TIMEOUT = 300.0
# What `buildah run` adds after its process exits non-zero.
BUILDAH_EXIT = re.compile(r"(subprocess exited with status \d+|Error: exit status \d+)")


class StartError(RuntimeError):
    """The container could not be started (image pull, buildah); str() is one line."""


def _buildah(*args: str) -> str:
    return _run(buildah(*args))


def _run(argv: list[str]) -> str:
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, env=tool_env(), timeout=PULL_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise StartError(f"{argv[0]}: {error}") from None
    if done.returncode != 0:
        raise StartError(_error_text(done.stderr) or f"{argv[0]} failed")
    return done.stdout.strip()


def _error_text(stderr: str) -> str:
    """One line: the ``msg="..."`` of a logrus-style fatal line (skopeo), else the whole text."""
    found = re.search(r'level=(?:fatal|error) msg="((?:[^"\\]|\\.)*)"', stderr)
    if found:
        return found[1].replace('\\"', '"')
    return " ".join(stderr.split())


@dataclass(frozen=True)
class Pulled:
    image_id: str
    fresh: bool  # not in the local storage before: the stand-in removes it when it stops
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]


def pull(image: str, creds: Mapping[str, str], insecure: Collection[str] = ()) -> Pulled:
    """Pull ``image`` from its registry (always: a node's IfNotPresent could run a stale local
    copy); ``creds``: registry host -> "user:password"; ``insecure``: hosts served over http.

    ``skopeo inspect`` asks the registry first: it fails at once where ``buildah pull`` (1.28)
    retries three times, two seconds apart, whatever ``--retry`` says.
    """
    reference = pull_reference(image)
    host = reference.split("/", 1)[0]
    access = [f"--tls-verify={'false' if host in insecure else 'true'}"]
    if host in creds:
        access += ["--creds", creds[host]]
    try:
        manifest = _run(["skopeo", "inspect", "--raw", *access, f"docker://{reference}"])
        config_digest = json.loads(manifest).get("config", {}).get("digest", "")
        fresh = not image_present(config_digest.removeprefix("sha256:"))
        image_id = _buildah("pull", "--quiet", *access, f"docker://{reference}").splitlines()[-1]
    except (StartError, ValueError) as error:
        raise StartError(f'failed to pull image "{image}": {error}') from None
    config = json.loads(_buildah("inspect", "--type", "image", image_id))["OCIv1"]["config"]
    return Pulled(
        image_id=image_id,
        fresh=fresh,
        entrypoint=tuple(config.get("Entrypoint") or ()),
        cmd=tuple(config.get("Cmd") or ()),
    )


@dataclass
class Container:
    """One running container of a pod: its buildah working container and its process."""

    name: str
    spec: PodSpec
    image_id: str
    ctr: str
    port: int
    process: subprocess.Popen = field(repr=False)
    log: Path
    started: float = field(default_factory=time.monotonic)
    stopping_since: float | None = None

    def exit_code(self) -> int | None:
        return self.process.poll()

    def output_tail(self, lines: int = 3, limit: int = 600) -> str:
        """The container's last output lines, without buildah's own exit report."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        own = [line.strip() for line in text.splitlines() if line.strip()]
        own = [line for line in own if not BUILDAH_EXIT.fullmatch(line)]
        return " | ".join(own[-lines:])[-limit:]

    def probe(self, probe: Probe) -> bool:
        """One httpGet probe on the container's (rewritten) port: 200-399 is success."""
        port = self.port if probe.port == self.spec.container_port else probe.port
        url = f"http://127.0.0.1:{port}{probe.path}"
        try:
            with urllib.request.urlopen(url, timeout=probe.timeout) as response:
                return 200 <= response.status < 400
        except urllib.error.HTTPError as error:
            return 200 <= error.code < 400
        except (urllib.error.URLError, OSError):
            return False

    def terminate(self) -> None:
        """SIGTERM to the container's process group (the pod's graceful shutdown begins)."""
        if self.stopping_since is None:
            self.stopping_since = time.monotonic()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)

    def stopped(self, force: bool = False) -> bool:
        """True once the process is gone; SIGKILL to its group first when ``force``."""
        if self.process.poll() is None:
            if not force:
                return False
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        return True

    def remove(self) -> None:
        """Delete the working container (its process has exited)."""
        for step in ("umount", "rm"):
            subprocess.run(
                buildah(step, self.ctr), capture_output=True, env=tool_env(), check=False
            )


def start_container(spec: PodSpec, pulled: Pulled, name: str, logdir: Path) -> Container:
    """``buildah from`` the pulled image and start the spec's process (not waiting for it)."""
    port = free_port()
    argv = container_argv(spec, pulled.entrypoint, pulled.cmd, port)
    ctr = _buildah("from", "--pull=false", "--name", name, pulled.image_id)
    try:
        run = ["run", "--isolation", "chroot", "--network", "host", "--no-hosts"]
        if spec.user:
            run += ["--user", spec.user]
        if spec.working_dir:
            run += ["--workingdir", spec.working_dir]
        for key, value in spec.env:
            run += ["--env", f"{key}={value}"]
        if spec.read_only_root:
            root = Path(_buildah("mount", ctr))
            writable = {p.strip("/").split("/")[0] for p in spec.writable_paths}
            for entry in sorted(root.iterdir()):
                skip = KERNEL_DIRS | writable
                if entry.is_dir() and not entry.is_symlink() and entry.name not in skip:
                    run += ["--volume", f"{entry}:/{entry.name}:ro"]
        for path in spec.writable_paths:
            run += ["--mount", f"type=tmpfs,destination={path}"]
        log = logdir / f"{name}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                buildah(*run, ctr, "--", *argv),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=tool_env(),
                start_new_session=True,
            )
    except BaseException:
        subprocess.run(buildah("rm", ctr), capture_output=True, env=tool_env(), check=False)
        raise
    return Container(
        name=name, spec=spec, image_id=pulled.image_id, ctr=ctr, port=port, process=process, log=log
    )


def remove_images(image_ids: Collection[str]) -> None:
    """``buildah rmi`` the images the node pulled (by id; never ones it found there)."""
    if image_ids:
        subprocess.run(buildah("rmi", *image_ids), capture_output=True, env=tool_env(), check=False)
