"""A small Argo CD API on 127.0.0.1 answering recorded Applications (``FakeArgoCD``), optionally
over TLS with a test CA (the fixtures ``argocd``, ``argocd_tls`` and ``test_ca`` are in
tests/ci/conftest.py); HTTP servers answering as a test says (``serving``)."""

import contextlib
import http.server
import json
import ssl
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app import SERVICE_NAME
from harness.network import serving_thread
from tests.ci.wait.recorded import at, recorded
from tests.support.git_remotes import Remote
from tests.support.tools import require_tools

TOKEN = 'argocd-Tok/+=#%$" en'  # any character may be in a token
APP = f"{SERVICE_NAME}-dev"
Answer = tuple[int, dict[str, Any]]
ERRORS = {
    401: {"error": "invalid session: token is invalid", "code": 16},
    403: {"error": "permission denied", "code": 7},
    404: {"error": 'applications.argoproj.io "x" not found', "code": 5},
    503: {"error": "upstream connect error", "code": 14},
}


def error(status: int) -> Answer:
    body = ERRORS[status]
    return status, {**body, "message": body["error"]}


@dataclass
class FakeArgoCD:
    """Answers ``GET /api/v1/applications/{name}`` from ``script`` (one entry per request, the
    last one repeated) or from ``follow`` (a function of the application name), and the
    resource tree from ``tree``. Requests are recorded."""

    url: str = ""
    token: str = TOKEN
    apps: tuple[str, ...] = (APP,)
    script: list[Answer | dict[str, Any]] = field(default_factory=list)
    follow: Callable[[str], dict[str, Any]] | None = None
    tree: dict[str, Any] = field(default_factory=lambda: {"nodes": []})
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, Authorization)
    _served: int = 0

    def answer(self, path: str, authorization: str) -> Answer:
        self.requests.append((path, authorization))
        if authorization != f"Bearer {self.token}":
            return error(401)
        route = urllib.parse.urlsplit(path).path
        prefix = "/api/v1/applications/"
        if not route.startswith(prefix):
            return error(404)
        name, _, rest = urllib.parse.unquote(route[len(prefix) :]).partition("/")
        if name not in self.apps:
            return error(403)  # what Argo CD answers for an application the token cannot see
        if rest == "resource-tree":
            return 200, self.tree
        if rest:
            return error(404)
        if self.follow is not None:
            return 200, self.follow(name)
        entry = self.script[min(self._served, len(self.script) - 1)]
        self._served += 1
        return entry if isinstance(entry, tuple) else (200, entry)

    @property
    def application_requests(self) -> list[str]:
        return [path for path, _ in self.requests if "resource-tree" not in path]


class _Handler(http.server.BaseHTTPRequestHandler):
    fake: FakeArgoCD

    def log_message(self, *args):
        pass

    def do_GET(self):
        status, body = self.server.fake.answer(self.path, self.headers.get("Authorization", ""))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def serve(fake: FakeArgoCD, context: ssl.SSLContext | None = None) -> Iterator[FakeArgoCD]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.fake = fake
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    scheme = "https" if context else "http"
    fake.url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    thread = serving_thread(server)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class Authority:
    ca: Path
    cert: Path
    key: Path


def make_test_ca(tmp_path: Path) -> Authority:
    """A CA and a certificate for 127.0.0.1 signed by it (openssl)."""
    openssl = require_tools("openssl")["openssl"]
    folder = tmp_path / "tls"
    folder.mkdir()

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=folder, check=True, capture_output=True, timeout=60)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Test CA",
        "-keyout", "ca.key", "-out", "ca.pem")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", "server.key", "-out", "server.csr")  # fmt: skip
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.pem")  # fmt: skip
    return Authority(folder / "ca.pem", folder / "server.pem", folder / "server.key")


def settings(server: str, **extra: str) -> dict[str, str]:
    """The variables ``python -m ci wait`` reads to ask the Argo CD at ``server``."""
    return {
        "ARGOCD_SERVER": server,
        "ARGOCD_AUTH_TOKEN": TOKEN,
        "WAIT_INTERVAL": "0.1",
        "WAIT_TIMEOUT": "20",
        **extra,
    }


def follow_the_branch(remote: Remote, base: str = "synced-healthy") -> Callable[[str], dict]:
    """An Argo CD that has synced the branch tip: ``base`` at the tip with its image."""

    def answer(name: str) -> dict[str, Any]:
        env = name.rsplit("-", 1)[-1]
        return at(recorded(base), remote.tip(), images=[remote.image(env)])

    return answer


DIGEST_1, DIGEST_2 = "sha256:" + "a1" * 32, "sha256:" + "b2" * 32


def deploy_here(run, remote: Remote, tag: str, digest: str = DIGEST_1, env: str = "dev") -> str:
    """``python -m ci deploy`` through ``run`` (the ``ci`` fixture: in this process, git only,
    unit tier); the commit it pushed."""
    result = run("deploy", "--repo", remote.url, "--env", env, "--tag", tag, "--digest", digest)
    assert result.returncode == 0, result.stderr
    return remote.tip()


Respond = Callable[[http.server.BaseHTTPRequestHandler], None]


class _Scripted(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.seen.append((self.path, self.headers.get("Authorization", "")))
        self.server.respond(self)


@dataclass
class Served:
    url: str
    seen: list[tuple[str, str]]  # (path, Authorization) of each request


@contextlib.contextmanager
def serving(respond: Respond, context: ssl.SSLContext | None = None) -> Iterator[Served]:
    """An HTTP server on 127.0.0.1 whose every GET ``respond`` answers (on its own thread)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    server.daemon_threads = True
    server.respond, server.seen = respond, []
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    scheme = "https" if context else "http"
    thread = serving_thread(server)
    thread.start()
    try:
        yield Served(f"{scheme}://127.0.0.1:{server.server_address[1]}", server.seen)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def redirect_to(location: str, status: int = 302) -> Respond:
    def respond(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return respond


DRIP_SECONDS = 0.05
DRIP_LIMIT = 10.0  # the server gives up after this long (bounded, also against a client that hangs)


def dripping(part: str, stop: threading.Event):
    """A server that sends its answer's ``part`` ("headers" or "body") one byte at a time."""
    body = b'{"metadata": {"name": "x"}}' + b" " * 10_000

    def respond(handler) -> None:
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        slow, fast = (head, b"") if part == "headers" else (b"", head)
        handler.wfile.write(fast)
        handler.wfile.flush()
        ends = time.monotonic() + DRIP_LIMIT
        for byte in (slow or body)[: int(DRIP_LIMIT / DRIP_SECONDS)]:
            if stop.is_set() or time.monotonic() > ends:
                return
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(DRIP_SECONDS)

    return respond
