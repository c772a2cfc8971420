"""A real OCI registry (the CNCF distribution registry, Debian ``docker-registry``) for tests.

``running_registry(workdir, username, password)`` starts it on 127.0.0.1 and a free port, with
htpasswd (bcrypt) basic auth when a username is given, and stops its process group on exit.
Configure it with the credentials moto's ECR hands out (``MotoServer.ecr_credentials()``) and
the real ECR login flow (get-login-password | buildah login --password-stdin) runs end to end.
Plain http: clients need ``--tls-verify=false`` / ``REGISTRY_INSECURE=true``.

``recording_server()`` is the other side of a credentials test: a host that must never be sent
the registry login, recording what it was sent.
"""

import contextlib
import http.server
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from harness.network import listening, serving_thread
from tests.support.tools import require_tools


@dataclass
class LocalRegistry:
    port: int
    root: Path
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``: the registry part of an image reference."""
        return f"127.0.0.1:{self.port}"


def _config(root: Path, port: int, htpasswd: Path | None) -> str:
    auth = (
        f"auth:\n  htpasswd:\n    realm: test-registry\n    path: {htpasswd}\n" if htpasswd else ""
    )
    return (
        "version: 0.1\n"
        "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n  secret: local-test-secret\n"
        f"{auth}"
    )


@contextlib.contextmanager
def running_registry(
    workdir: Path, username: str | None = None, password: str | None = None
) -> Iterator[LocalRegistry]:
    """Serve a registry from ``workdir`` (created); with ``username``, htpasswd auth is on."""
    tools = require_tools("docker-registry", *(["htpasswd"] if username else []))
    workdir.mkdir(parents=True, exist_ok=True)
    htpasswd = None
    if username:
        line = subprocess.run(
            [tools["htpasswd"], "-Bbn", username, password or ""],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        htpasswd = workdir / "htpasswd"
        htpasswd.write_text(line + "\n")
    log = open(workdir / "registry.log", "wb")  # noqa: SIM115
    config = workdir / "config.yml"

    def registry(port: int) -> list[str]:
        config.write_text(_config(workdir, port, htpasswd))
        return [tools["docker-registry"], "serve", str(config)]

    try:
        with listening(registry, timeout=20, stdout=log, stderr=subprocess.STDOUT) as port:
            yield LocalRegistry(port=port, root=workdir, username=username, password=password)
    finally:
        log.close()


@dataclass
class RecordingServer:
    """A server on 127.0.0.1 that is no registry of ours: it records the Authorization header
    of every request (None when absent) and answers HEAD with ``status`` (a 307 to ``redirect``
    when that is set), so a test can assert that no credentials reached it."""

    port: int = 0
    status: int = 404
    redirect: str = ""
    authorizations: list[str | None] = field(default_factory=list)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"


def _recording_handler(state: RecordingServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:
            state.authorizations.append(self.headers.get("Authorization"))
            if state.redirect:
                self.send_response(307)
                self.send_header("Location", f"{state.redirect}{self.path}")
            else:
                self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_HEAD

    return Handler


@contextlib.contextmanager
def recording_server(status: int = 404, redirect: str = "") -> Iterator[RecordingServer]:
    """Serve a ``RecordingServer`` on a thread (in-process: fine for unit tests)."""
    state = RecordingServer(status=status, redirect=redirect)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _recording_handler(state))
    state.port = server.server_address[1]
    thread = serving_thread(server)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
