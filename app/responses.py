"""Responses rendered once into bytes, as ready-made ASGI messages (no framework needed)."""

from typing import Any

import orjson

from app.asgi import Message, Send

JSON_TYPE = "application/json"
EMPTY_BODY: Message = {"type": "http.response.body", "body": b""}


def json_bytes(content: Any) -> bytes:
    return orjson.dumps(content)


def start_message(status: int, body: bytes, content_type: str = JSON_TYPE) -> Message:
    """Exactly the headers Starlette's Response writes for the same body, in its order."""
    return {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-length", str(len(body)).encode("ascii")),
            (b"content-type", content_type.encode("latin-1")),
        ],
    }


async def send_response(
    send: Send, status: int, body: bytes, content_type: str = JSON_TYPE, head: bool = False
) -> None:
    """One response; for HEAD, the same headers (Content-Length included) and no body."""
    await send(start_message(status, body, content_type))
    await send(EMPTY_BODY if head else {"type": "http.response.body", "body": body})


class Prebuilt:
    """One complete JSON response (status, headers, body), rendered once."""

    __slots__ = ("body", "body_message", "start_message", "status")

    def __init__(self, status: int, content: Any) -> None:
        self.status = status
        self.body = json_bytes(content)
        self.start_message = start_message(status, self.body)
        self.body_message = {"type": "http.response.body", "body": self.body}

    async def send(self, send: Send, head: bool = False) -> None:
        await send(self.start_message)
        await send(EMPTY_BODY if head else self.body_message)
