"""The signing tools' edge: cosign (sign, attest, verify) and syft (the SBOM), run against the
registry the image is in, offline: a key pair, no transparency log, no Fulcio.

- **Tools** come from the project's tools folder (``$TOOLS_DIR/bin``, default ``.tools/bin``,
  where ``make tools`` builds them), else from PATH.
- **Registry credentials** go only to the configured registry's host (``ci.registry``'s rule):
  a throw-away ``DOCKER_CONFIG`` folder (mode 0700, removed when the command ends) that both
  tools read; never argv. A plain-http registry (``REGISTRY_INSECURE=true``, the tests') gets
  cosign's ``--allow-http-registry``/``--allow-insecure-registry`` and syft's variables.
- **The signing key** is a reference (``SigningKey.reference``): ``env://COSIGN_PRIVATE_KEY``
  (the PEM in that variable), the path of a GitLab *file* variable, or a KMS URI
  (``awskms:///alias/...``); cosign reads its password from ``COSIGN_PASSWORD`` itself.
- Signatures and attestations use cosign's tag scheme (``sha256-<hex>.sig``/``.att``), which
  registries without the OCI referrers API (ECR's tag listing, the tests' registry) hold.
"""

import base64
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ci.errors import CiError, UsageError, one_line
from ci.registry import ImageRef, auth_from_environ, insecure_from_env

ROOT = Path(__file__).resolve().parent.parent
TOOLS_DIR_VARIABLE = "TOOLS_DIR"
# The cosign flags of an offline, key-based flow (cosign v3.1): no Rekor upload, no signing config
# from the public-good TUF root, and the classic format in tags (`sha256-<hex>.sig`/`.att`), which
# registries without the referrers API hold and admission controllers read. cosign v3 marks
# `--tlog-upload` and `--new-bundle-format` deprecated (it warns) but honours them.
OFFLINE_WRITE = ("--tlog-upload=false", "--use-signing-config=false", "--new-bundle-format=false")
OFFLINE_VERIFY = ("--insecure-ignore-tlog",)
TIMEOUT_SECONDS = 300.0
# The newest CycloneDX version GitLab's cyclonedx report parser reads (syft's default is newer).
CYCLONEDX_VERSION = "1.6"


def tool(name: str, environ: Mapping[str, str] = os.environ) -> str:
    """The path of ``name``: the project's tools folder first, then PATH."""
    folder = Path(environ.get(TOOLS_DIR_VARIABLE) or ROOT / ".tools") / "bin"
    if (folder / name).is_file():
        return str(folder / name)
    found = shutil.which(name, path=environ.get("PATH"))
    if found is None:
        raise CiError(f"{name} not found in {folder} or on PATH: run `make tools`")
    return found


@dataclass(frozen=True)
class SigningKey:
    """Where cosign finds the private key; the password is cosign's ``COSIGN_PASSWORD``."""

    reference: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "SigningKey | None":
        """``COSIGN_KEY`` (a KMS URI or a path), else ``COSIGN_PRIVATE_KEY`` (a file
        variable's path, or the PEM itself), else None."""
        if environ.get("COSIGN_KEY"):
            return cls(environ["COSIGN_KEY"])
        value = environ.get("COSIGN_PRIVATE_KEY", "")
        if not value:
            return None
        if value.lstrip().startswith("-----BEGIN"):
            return cls("env://COSIGN_PRIVATE_KEY")
        if not Path(value).is_file():
            raise UsageError("COSIGN_PRIVATE_KEY is neither a PEM key nor a file's path")
        return cls(value)


@dataclass(frozen=True)
class Registry:
    """How the tools reach ``image``'s registry: the child environment and cosign's flags."""

    env: dict[str, str] = field(repr=False)
    flags: tuple[str, ...]


def _docker_config(folder: Path, image: ImageRef, environ: Mapping[str, str]) -> None:
    auth = auth_from_environ(image, environ)
    auths = {}
    if auth is not None:
        token = base64.b64encode(f"{auth.username}:{auth.password}".encode()).decode()
        auths[image.host] = {"auth": token}
    path = folder / "config.json"
    path.touch(mode=0o600)
    path.write_text(json.dumps({"auths": auths}))


@contextlib.contextmanager
def registry_access(image: ImageRef, environ: Mapping[str, str] = os.environ) -> Iterator[Registry]:
    """The tools' access to ``image``'s registry while the block runs (credentials removed
    after it)."""
    with tempfile.TemporaryDirectory(prefix="ci-docker-config-") as folder:
        _docker_config(Path(folder), image, environ)
        env = {**environ, "DOCKER_CONFIG": folder}
        flags: tuple[str, ...] = ()
        if insecure_from_env(environ):
            flags = ("--allow-http-registry", "--allow-insecure-registry")
            env["SYFT_REGISTRY_INSECURE_USE_HTTP"] = "true"
            env["SYFT_REGISTRY_INSECURE_SKIP_TLS_VERIFY"] = "true"
        yield Registry(env, flags)


def run_tool(argv: list[str], env: Mapping[str, str], what: str) -> str:
    """Run a tool; its stdout, or CiError naming ``what`` failed with the tool's last words."""
    try:
        result = subprocess.run(
            argv, env=dict(env), capture_output=True, text=True, timeout=TIMEOUT_SECONDS
        )
    except subprocess.TimeoutExpired:
        raise CiError(f"{what}: timed out after {TIMEOUT_SECONDS:.0f} s") from None
    if result.returncode != 0:
        raise CiError(f"{what}: {last_words(result.stderr)}")
    return result.stdout


def last_words(stderr: str) -> str:
    """The line a tool's error output ends with (cosign prints ``Error: ...`` last)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error:")]
    text = (errors or lines or ["no output"])[-1]
    return one_line(text.removeprefix("Error:").strip())[:300]


def sbom(reference: str, registry: Registry, output: Path) -> None:
    """The CycloneDX JSON SBOM of the image ``reference`` (by digest), written to ``output``."""
    argv = [tool("syft", registry.env), "scan", f"registry:{reference}", "--quiet"]
    argv += ["--output", f"cyclonedx-json@{CYCLONEDX_VERSION}={output}"]
    run_tool(argv, registry.env, f"syft could not read {reference}")


# A tool run: its argv, and what failed when it does (the error's words).
ToolCommand = tuple[list[str], str]


def attest_command(
    reference: str, registry: Registry, key: SigningKey, kind: str, predicate: Path
) -> ToolCommand:
    """``cosign attest``: ``predicate`` as a signed in-toto attestation of type ``kind``."""
    argv = [tool("cosign", registry.env), "attest", "--yes", "--key", key.reference]
    argv += [*OFFLINE_WRITE, *registry.flags, "--type", kind, "--predicate", str(predicate)]
    return [*argv, reference], f"cosign attest --type {kind} failed"


def sign_command(reference: str, registry: Registry, key: SigningKey) -> ToolCommand:
    argv = [tool("cosign", registry.env), "sign", "--yes", "--key", key.reference]
    return [*argv, *OFFLINE_WRITE, *registry.flags, reference], "cosign sign failed"


def attest(reference: str, registry: Registry, key: SigningKey, kind: str, predicate: Path) -> None:
    """Attach ``predicate`` as a signed in-toto attestation of type ``kind`` to the digest."""
    run_tools([attest_command(reference, registry, key, kind, predicate)], registry.env)


def sign(reference: str, registry: Registry, key: SigningKey) -> None:
    run_tools([sign_command(reference, registry, key)], registry.env)


def run_tools(commands: Sequence[ToolCommand], env: Mapping[str, str]) -> None:
    """Run the tools at once (side by side: they write different tags); CiError naming the
    first of them that failed, once all ended."""
    if len(commands) <= 1:
        for argv, what in commands:
            run_tool(argv, env, what)
        return
    with ThreadPoolExecutor(max_workers=len(commands)) as pool:
        runs = [pool.submit(run_tool, argv, env, what) for argv, what in commands]
    for done in runs:
        done.result()


def public_key(registry: Registry, key: SigningKey) -> str:
    """The PEM public key of the signing key (what ``gitops/cosign.pub`` must hold)."""
    argv = [tool("cosign", registry.env), "public-key", "--key", key.reference]
    return run_tool(argv, registry.env, "cosign public-key failed")


def verify_command(
    reference: str, registry: Registry, key_file: Path, kind: str | None
) -> list[str]:
    """``cosign verify`` (kind None) or ``cosign verify-attestation --type kind``."""
    verb = ["verify"] if kind is None else ["verify-attestation", "--type", kind]
    argv = [tool("cosign", registry.env), *verb, "--key", str(key_file), *OFFLINE_VERIFY]
    return [*argv, *registry.flags, "--output", "json", reference]


def verified(
    reference: str, registry: Registry, key_file: Path, kinds: tuple[str | None, ...]
) -> dict[str | None, list[dict] | str]:
    """Each of ``kinds`` verified at once (processes side by side): kind -> the verified
    payloads (one JSON object a line), or why verification failed (one line)."""
    running = {
        kind: subprocess.Popen(
            verify_command(reference, registry, key_file, kind),
            env=registry.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for kind in kinds
    }
    results: dict[str | None, list[dict] | str] = {}
    for kind, process in running.items():
        try:
            stdout, stderr = process.communicate(timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            results[kind] = f"timed out after {TIMEOUT_SECONDS:.0f} s"
            continue
        results[kind] = _payloads(stdout) if process.returncode == 0 else last_words(stderr)
    return results


def _payloads(stdout: str) -> list[dict]:
    found = []
    for line in stdout.splitlines():
        with contextlib.suppress(ValueError):
            value = json.loads(line)
            found += value if isinstance(value, list) else [value]
    return [value for value in found if isinstance(value, dict)]
