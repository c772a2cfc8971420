"""JSON responses rendered once into bytes, as ready-made ASGI messages (no framework needed)."""

from typing import Any

import orjson

from app.asgi import Message, Send

JSON_TYPE = "application/json"


def json_bytes(content: Any) -> bytes:
    return orjson.dumps(content)


def start_message(status: int, body: bytes) -> Message:
    """Exactly the headers Starlette's JSONResponse writes for the same body, in its order."""
    return {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-length", str(len(body)).encode("ascii")),
            (b"content-type", JSON_TYPE.encode("ascii")),
        ],
    }


class Prebuilt:
    """One complete JSON response (status, headers, body), rendered once."""

    __slots__ = ("body", "body_message", "start_message", "status")

    def __init__(self, status: int, content: Any) -> None:
        self.status = status
        self.body = json_bytes(content)
        self.start_message = start_message(status, self.body)
        self.body_message = {"type": "http.response.body", "body": self.body}

    async def send(self, send: Send) -> None:
        await send(self.start_message)
        await send(self.body_message)
