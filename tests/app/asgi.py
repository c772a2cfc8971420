"""Calling an ASGI app directly with a raw query string (no HTTP client rewriting the URL).

Requests carry a fixed X-Request-ID (REQUEST_ID) unless other headers are given, so that two
answers to the same request compare equal, the echoed id included."""

import asyncio
from dataclasses import dataclass
from typing import Any

from app.asgi import ASGIApp
from app.shutdown import ShutdownState

REQUEST_ID = b"test-request"
HEADERS = ((b"host", b"testserver"), (b"x-request-id", REQUEST_ID))


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


def call(
    app: ASGIApp,
    path: str,
    query: bytes = b"",
    method: str = "GET",
    headers: tuple[tuple[bytes, bytes], ...] = HEADERS,
    root_path: str = "",
) -> Answer:
    """One HTTP request through `app`, on a fresh event loop. With a root_path, `path` is the
    route's path: the scope's path gets the root path in front, as uvicorn's --root-path does."""
    return asyncio.run(_call(app, root_path + path, query, method, headers, root_path))


async def _call(
    app: ASGIApp,
    path: str,
    query: bytes,
    method: str,
    headers: tuple[tuple[bytes, bytes], ...],
    root_path: str,
    sent: list[dict[str, Any]] | None = None,
) -> Answer:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": root_path,
        "headers": list(headers),
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent = [] if sent is None else sent

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return answer(sent)


def answer(sent: list[dict[str, Any]]) -> Answer:
    """The response the ASGI messages in `sent` make up."""
    start, *bodies = sent
    return Answer(
        status=start["status"],
        headers=list(start.get("headers", [])),
        body=b"".join(message.get("body", b"") for message in bodies),
    )


def call_failing(app: ASGIApp, path: str) -> tuple[Answer, BaseException]:
    """A request during which `app` raises: what was sent before, and the exception."""
    sent: list[dict[str, Any]] = []
    try:
        asyncio.run(_call(app, path, b"", "GET", HEADERS, "", sent))
    except Exception as exc:
        return answer(sent), exc
    raise AssertionError(f"{path} did not raise")


class BrokenState(ShutdownState):
    """Readiness that raises: an exception on the fast path."""

    @property
    def shutting_down(self) -> bool:
        raise ZeroDivisionError("readiness cannot tell")

    @shutting_down.setter
    def shutting_down(self, value: bool) -> None:
        pass
