"""The service with two extra, test-only endpoints: GET /test/slow?seconds=N answers after N
seconds, GET /test/in-flight says how many of those are being served.

Used to have requests in flight while the real service shuts down; every other request goes to
the service exactly as `app.main:app` builds it (settings from the environment, logging, lifespan).
"""

import asyncio

from app.main import app as service
from app.responses import Prebuilt

in_flight = 0


async def app(scope, receive, send) -> None:
    global in_flight
    if scope["type"] == "http" and scope["path"] == "/test/slow":
        seconds = float(scope["query_string"].decode().partition("=")[2] or "1")
        in_flight += 1
        try:
            await asyncio.sleep(seconds)
        finally:
            in_flight -= 1
        await _answer(send, {"slept": seconds})
        return
    if scope["type"] == "http" and scope["path"] == "/test/in-flight":
        await _answer(send, {"in_flight": in_flight})
        return
    await service(scope, receive, send)


async def _answer(send, body: dict) -> None:
    response = Prebuilt(200, body)
    await send(response.start_message())
    await send(response.body_message)
