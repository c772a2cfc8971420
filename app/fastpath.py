"""The hot paths, answered without FastAPI: a pure function of the request.

GET and HEAD of the probes, health and metrics, and a well-formed `GET /api/echo?text=...`, get
their response here: probes and health from bytes rendered at startup. Everything else (errors,
422, odd queries, /docs, /openapi.json) goes to the FastAPI app, which declares every endpoint
too and stays the reference: tests check both give the same status, headers and body.

Paths are matched as the routes see them, without the root path (uvicorn's --root-path), and
the route answered is noted in the scope for metrics and traces. The layer that sends the answer
(app/observe.py) does what FastAPI adds around its routes (middleware, exception handlers), or it
is absent: tests/app/test_fastpath.py pins that.
"""

from app.asgi import Scope
from app.echo import ECHO_PATH, echo_text, render_echo
from app.metrics import METRICS_PATH, Metrics
from app.probes import READINESS_PATH, Probes
from app.responses import Rendered
from app.routes import ROUTE, route_path


class FastPath:
    def __init__(
        self, probes: Probes, echo_max_length: int, metrics: Metrics | None = None
    ) -> None:
        self.probes = probes
        self.static = probes.static()
        self.echo_max_length = echo_max_length
        self.metrics = metrics

    def answer(self, scope: Scope) -> Rendered | None:
        """The response to an HTTP request (its body is dropped for HEAD), or None for FastAPI."""
        method = scope["method"]
        if method != "GET" and method != "HEAD":
            return None
        root_path = scope.get("root_path")
        path = route_path(scope["path"], root_path) if root_path else scope["path"]
        response = self.static.get(path)
        if response is None:
            if path == ECHO_PATH:
                text = echo_text(scope["query_string"], self.echo_max_length)
                if text is None:
                    return None
                response = Rendered(200, render_echo(text))
            elif path == READINESS_PATH:
                response = self.probes.readiness()
            elif path == METRICS_PATH and self.metrics is not None:
                body, content_type = self.metrics.render(_header(scope, b"accept"))
                response = Rendered(200, body, content_type)
            else:
                return None
        scope[ROUTE] = path
        return response


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None
