"""HEAD on every GET endpoint of the FastAPI app (RFC 9110, 9.3.2), which declares GET only.

A HEAD request reaches the app as a GET; the response keeps its status and headers (its
Content-Length too) and loses its body. A 405's Allow header names HEAD wherever it names GET.
"""

from app.asgi import ASGIApp, Message, Receive, Scope, Send
from app.routes import ROUTE


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif scope["method"] == "HEAD":
            await self._head(scope, receive, send)
        else:
            await self.app(scope, receive, _allow_head(send))

    async def _head(self, scope: Scope, receive: Receive, send: Send) -> None:
        as_get = {**scope, "method": "GET"}

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                message = {**message, "body": b""}
            await send(message)

        try:
            await self.app(as_get, receive, send_without_body)
        finally:
            for key in ("route", ROUTE):  # which route answered, for metrics and traces
                if key in as_get:
                    scope[key] = as_get[key]


def _allow_head(send: Send) -> Send:
    async def send_allow(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] == 405:
            message = {**message, "headers": [_with_head(h) for h in message["headers"]]}
        await send(message)

    return send_allow


def _with_head(header: tuple[bytes, bytes]) -> tuple[bytes, bytes]:
    name, value = header
    if name.lower() != b"allow":
        return header
    methods = [m.strip() for m in value.split(b",")]
    if b"GET" in methods and b"HEAD" not in methods:
        methods.insert(methods.index(b"GET") + 1, b"HEAD")
    return name, b", ".join(methods)
