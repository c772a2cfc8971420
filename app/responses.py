"""JSON responses rendered once into bytes, served the same way by the fast path and FastAPI."""

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
from starlette.responses import JSONResponse

Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]

JSON_TYPE = "application/json"


def json_bytes(content: Any) -> bytes:
    return orjson.dumps(content)


class JSONBytes(JSONResponse):
    """A JSON response rendered with orjson (bytes are taken as already rendered). A JSONResponse,
    so FastAPI documents each route's response model in the OpenAPI schema."""

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else json_bytes(content)


class Prebuilt:
    """One complete JSON response (status, headers, body) as ready-made ASGI messages.

    The headers are exactly what Starlette writes for the same body, so a request answered here
    and the same request answered by FastAPI look identical on the wire.
    """

    __slots__ = ("body", "body_message", "start_message", "status")

    def __init__(self, status: int, content: Any) -> None:
        self.status = status
        self.body = json_bytes(content)
        self.start_message = start_message(status, self.body)
        self.body_message = {"type": "http.response.body", "body": self.body}

    async def send(self, send: Send) -> None:
        await send(self.start_message)
        await send(self.body_message)

    def response(self) -> JSONBytes:
        return JSONBytes(self.body, status_code=self.status)


def start_message(status: int, body: bytes) -> Message:
    return {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-length", str(len(body)).encode("ascii")),
            (b"content-type", JSON_TYPE.encode("ascii")),
        ],
    }
