"""The build job's buildah storage as GitLab's runners give it: empty at every job.

The documented build runner (docs/pipeline.md, "The build runner") is a Docker or Kubernetes
executor: each job starts in a new container, so buildah's storage starts empty, the base image
is pulled from a registry, and nothing a previous pipeline built is on the machine. The shell
executor of gitlab-ci-local shares the test process's storage between pipelines instead: a later
build would find the earlier one's layers and base image, figures no such runner gives. So a
measured pipeline's jobs (``Stage.measure``) get a storage of their own
(``CONTAINERS_STORAGE_CONF``, a graph root under the test's folder), and the base image comes
from the tests' registry, pinned by digest as production pins it; the other pipelines share
the test process's storage (each e2e worker has its own: ``tests/conftest.py``).

A storage is removed once its pipeline ended, in the background, as a runner discards a job's
container (vfs keeps a copy of the root filesystem per layer: seconds to minutes of disk work
here), and before the next measured pipeline starts.
"""

import base64
import contextlib
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

from harness.image import buildah, tool_env

STORAGE_VARIABLE = "CONTAINERS_STORAGE_CONF"


def registry_base_image(local: str, registry_host: str, credentials: str, folder: Path) -> str:
    """``local`` pushed to the registry: ``HOST/NAME@sha256:...``, what the jobs pull."""
    name = local.removeprefix("localhost/").split(":", 1)[0]
    auth = folder / "base-push-auth.json"
    token = base64.b64encode(credentials.encode()).decode()
    auth.write_text(json.dumps({"auths": {registry_host: {"auth": token}}}))
    digest_file = folder / "base.digest"
    subprocess.run(
        [
            *buildah("push", "--quiet", "--tls-verify=false", "--authfile", str(auth)),
            *("--digestfile", str(digest_file), local, f"docker://{registry_host}/{name}:e2e"),
        ],
        env=tool_env(),
        capture_output=True,
        check=True,
        timeout=300,
    )
    return f"{registry_host}/{name}@{digest_file.read_text().strip()}"


class JobStorage:
    """An empty buildah storage per measured pipeline; each removed in the background once
    used."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.removals: list[threading.Thread] = []

    def fresh(self, label: str) -> dict[str, str]:
        """The variables that give one pipeline's jobs an empty storage of their own, once
        the removals of earlier ones ended (their disk work would slow this one's build)."""
        for removal in self.removals:
            removal.join()
        graph = self.root / label
        graph.mkdir(parents=True)
        conf = self.root / f"{label}.conf"
        conf.write_text(
            f'[storage]\ndriver = "vfs"\ngraphroot = "{graph / "graph"}"\n'
            f'runroot = "{graph / "run"}"\n'
        )
        return {STORAGE_VARIABLE: str(conf)}

    def discard(self, variables: dict[str, str]) -> None:
        """Remove the storage these variables named, in the background."""
        conf = Path(variables[STORAGE_VARIABLE])
        folder = conf.with_suffix("")
        removal = threading.Thread(target=shutil.rmtree, args=(folder, True), daemon=True)
        removal.start()
        self.removals.append(removal)

    @contextlib.contextmanager
    def removed_afterwards(self) -> Iterator["JobStorage"]:
        try:
            yield self
        finally:
            for removal in self.removals:
                removal.join()
            shutil.rmtree(self.root, ignore_errors=True)
