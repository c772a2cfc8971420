"""The stand-in's API server: the two read calls ``ci wait`` makes, as Argo CD's API server answers.

``GET /api/v1/applications/{name}`` and ``GET /api/v1/applications/{name}/resource-tree`` on
127.0.0.1, ``Authorization: Bearer TOKEN`` required (401 without it or with another token, in
Argo CD's gRPC-gateway error shape; 404 for an unknown Application). ``?refresh=normal`` (or hard)
makes the controller poll the remote now.
"""

import hmac
import json
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from harness.network import serving_thread
from tests.support.argocd import model
from tests.support.argocd.controller import Controller

UNAUTHENTICATED = 16  # gRPC status codes, as Argo CD's gateway reports them
NOT_FOUND = 5
UNIMPLEMENTED = 12


def _error(code: int, message: str) -> dict[str, Any]:
    return {"error": message, "code": code, "message": message}


def handler_for(controller: Controller, token: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "argocd-standin"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:
            controller.requests.append(f"{self.command} {self.path}")

        def do_GET(self) -> None:
            parsed = urllib.parse.urlsplit(self.path)
            if not self._authorized():
                self._send(401, _error(UNAUTHENTICATED, "invalid session: token is not valid"))
                return
            parts = parsed.path.strip("/").split("/")
            if parts[:3] != ["api", "v1", "applications"] or len(parts) not in (4, 5):
                self._send(404, _error(UNIMPLEMENTED, f"Not Implemented: {parsed.path}"))
                return
            if len(parts) == 5 and parts[4] != "resource-tree":
                self._send(404, _error(UNIMPLEMENTED, f"Not Implemented: {parsed.path}"))
                return
            name = urllib.parse.unquote(parts[3])
            if "refresh" in urllib.parse.parse_qs(parsed.query):
                controller.refresh()
            render: Callable = model.resource_tree if len(parts) == 5 else model.application
            with controller.lock:
                state = controller.apps.get(name)
                body = render(state) if state is not None else None
            if body is None:
                message = f'applications.argoproj.io "{name}" not found'
                self._send(404, _error(NOT_FOUND, message))
                return
            self._send(200, body)

        def _authorized(self) -> bool:
            scheme, _, given = self.headers.get("Authorization", "").partition(" ")
            return scheme == "Bearer" and hmac.compare_digest(given.encode(), token.encode())

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _not_allowed(self) -> None:
            self._send(405, _error(UNIMPLEMENTED, "method not allowed"))

        do_POST = do_PUT = do_PATCH = do_DELETE = _not_allowed

    return Handler


class ApiServer:
    """The HTTP server in a thread; ``url`` is its base URL (http://127.0.0.1:PORT)."""

    def __init__(self, controller: Controller, token: str) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(controller, token))
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = serving_thread(self.httpd)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=10)
