"""Responses rendered into bytes with their headers, as ASGI messages (no framework needed)."""

from typing import Any

import orjson

from app.asgi import Message

JSON_TYPE = "application/json"
EMPTY_BODY: Message = {"type": "http.response.body", "body": b""}


def json_bytes(content: Any) -> bytes:
    return orjson.dumps(content)


def response_headers(body: bytes, content_type: str = JSON_TYPE) -> list[tuple[bytes, bytes]]:
    """Exactly the headers Starlette's Response writes for the same body, in its order."""
    return [
        (b"content-length", str(len(body)).encode("ascii")),
        (b"content-type", content_type.encode("latin-1")),
    ]


class Rendered:
    """One complete response: status, headers and body, the body's ASGI message made once."""

    __slots__ = ("body", "body_message", "headers", "status")

    def __init__(self, status: int, body: bytes, content_type: str = JSON_TYPE) -> None:
        self.status = status
        self.body = body
        self.headers = response_headers(body, content_type)
        self.body_message = {"type": "http.response.body", "body": body}

    def start_message(self, *extra: tuple[bytes, bytes]) -> Message:
        return {
            "type": "http.response.start",
            "status": self.status,
            "headers": [*self.headers, *extra],
        }


class Prebuilt(Rendered):
    """A JSON response rendered once, at startup."""

    __slots__ = ()

    def __init__(self, status: int, content: Any) -> None:
        super().__init__(status, json_bytes(content))
