"""Calling an ASGI app directly with a raw query string (no HTTP client rewriting the URL)."""

import asyncio
from dataclasses import dataclass
from typing import Any

from app.asgi import ASGIApp


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


def call(app: ASGIApp, path: str, query: bytes = b"", method: str = "GET") -> Answer:
    """One HTTP request through `app`, on a fresh event loop."""
    return asyncio.run(_call(app, path, query, method))


async def _call(app: ASGIApp, path: str, query: bytes, method: str) -> Answer:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start, *bodies = sent
    return Answer(
        status=start["status"],
        headers=list(start.get("headers", [])),
        body=b"".join(message.get("body", b"") for message in bodies),
    )
