"""The service with one extra, test-only endpoint: GET /test/slow?seconds=N answers after N seconds.

Used to have requests in flight while the real service shuts down; every other request goes to
the service exactly as `app.main:app` builds it (settings from the environment, logging, lifespan).
"""

import asyncio

from app.main import app as service
from app.responses import Prebuilt


async def app(scope, receive, send) -> None:
    if scope["type"] == "http" and scope["path"] == "/test/slow":
        seconds = float(scope["query_string"].decode().partition("=")[2] or "1")
        await asyncio.sleep(seconds)
        response = Prebuilt(200, {"slept": seconds})
        await send(response.start_message())
        await send(response.body_message)
        return
    await service(scope, receive, send)
