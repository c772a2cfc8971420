"""The ceiling: a hand-written ASGI app serving the service's endpoints with no framework.

Same responses as the service (health's JSON shape, probes, echo), the least work per request this
stack allows: responses that never change are built once at import, echo encodes with orjson.
"""

import os
import socket
from urllib.parse import parse_qsl

import orjson


def _host_facts() -> tuple[str, str | None]:
    hostname = socket.gethostname()
    try:
        ip = socket.gethostbyname(hostname)
    except OSError:  # the hostname may not resolve (containers, sandboxes)
        ip = None
    return hostname, ip


_HOSTNAME, _IP = _host_facts()
HEALTH = orjson.dumps(
    {
        "status": "ok",
        "version": os.environ.get("APP_VERSION", "dev"),
        "revision": os.environ.get("APP_REVISION", ""),
        "debug": {"hostname": _HOSTNAME, "ip": _IP},
    }
)
OK = orjson.dumps({"status": "ok"})
NOT_FOUND = orjson.dumps({"detail": "Not Found"})
NOT_ALLOWED = orjson.dumps({"detail": "Method Not Allowed"})
MISSING_TEXT = orjson.dumps({"detail": "query parameter 'text' is required"})


def _messages(status: int, body: bytes) -> tuple[dict, dict]:
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    return start, {"type": "http.response.body", "body": body}


# The responses that never change, as ready-made ASGI messages.
STATIC = {
    "/-/health": _messages(200, HEALTH),
    "/-/liveness": _messages(200, OK),
    "/-/readiness": _messages(200, OK),
}


async def _respond(send, status: int, body: bytes) -> None:
    start, body_message = _messages(status, body)
    await send(start)
    await send(body_message)


async def _lifespan(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    path = scope["path"]
    messages = STATIC.get(path)
    if messages is None and path != "/api/echo":
        await _respond(send, 404, NOT_FOUND)
    elif scope["method"] not in ("GET", "HEAD"):
        await _respond(send, 405, NOT_ALLOWED)
    elif messages is not None:
        await send(messages[0])
        await send(messages[1])
    else:
        query = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
        text = next((value for key, value in query if key == "text"), None)
        if text is None:
            await _respond(send, 422, MISSING_TEXT)
        else:
            await _respond(send, 200, orjson.dumps({"text": text}))
