"""A pure-ASGI layer in front of FastAPI for the hot paths.

GET and HEAD of the probes, health and metrics, and a well-formed `GET /api/echo?text=...`, are
answered here: probes and health from bytes rendered at startup. Everything else (errors, 422,
odd queries, /docs, /openapi.json) goes to the FastAPI app, which declares every endpoint too and
stays the reference: tests check both give the same status, headers and body.

Paths are matched as the routes see them, without the root path (uvicorn's --root-path), and
the route answered is noted in the scope for metrics and traces. What FastAPI adds around its
routes (middleware, exception handlers) is either done outside both (app/observe.py) or absent:
tests/app/test_fastpath.py pins that.
"""

from app.asgi import ASGIApp, Receive, Scope, Send
from app.echo import ECHO_PATH, echo_text, render_echo
from app.metrics import METRICS_PATH, Metrics
from app.probes import READINESS_PATH, Probes
from app.responses import EMPTY_BODY, send_response
from app.routes import ROUTE, route_path


class FastPath:
    def __init__(
        self, app: ASGIApp, probes: Probes, echo_max_length: int, metrics: Metrics | None = None
    ) -> None:
        self.app = app
        self.probes = probes
        self.static = probes.static()
        self.echo_max_length = echo_max_length
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method = scope["method"]
            if method == "GET" or method == "HEAD":
                root_path = scope.get("root_path")
                path = route_path(scope["path"], root_path) if root_path else scope["path"]
                prebuilt = self.static.get(path)
                if prebuilt is not None:
                    scope[ROUTE] = path
                    await send(prebuilt.start_message)
                    await send(prebuilt.body_message if method == "GET" else EMPTY_BODY)
                    return
                if path == ECHO_PATH:
                    text = echo_text(scope["query_string"], self.echo_max_length)
                    if text is not None:
                        scope[ROUTE] = path
                        await send_response(send, 200, render_echo(text), head=method == "HEAD")
                        return
                elif path == READINESS_PATH:
                    scope[ROUTE] = path
                    await self.probes.readiness().send(send, head=method == "HEAD")
                    return
                elif path == METRICS_PATH and self.metrics is not None:
                    scope[ROUTE] = path
                    body, content_type = self.metrics.render(_header(scope, b"accept"))
                    await send_response(send, 200, body, content_type, head=method == "HEAD")
                    return
        await self.app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None
