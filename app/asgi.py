"""ASGI plumbing shared by the layers: types, and an app built on first use (off the event loop)."""

import asyncio
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class LazyApp:
    """An ASGI app made by `factory` once, on first use or by warm_up(), in a worker thread.

    The FastAPI app sits behind one: importing and building it is most of the start-up time,
    and the fast path can serve the probes without it.
    """

    def __init__(self, factory: Callable[[], ASGIApp]) -> None:
        self._factory = factory
        self._app: ASGIApp | None = None
        self._lock = threading.Lock()

    @property
    def built(self) -> bool:
        return self._app is not None

    def build(self) -> ASGIApp:
        """The app (built now if needed). Thread-safe; the factory runs once."""
        with self._lock:
            if self._app is None:
                self._app = self._factory()
            return self._app

    def warm_up(self) -> "asyncio.Future[ASGIApp]":
        """Start building in a worker thread now, without waiting for it."""
        return asyncio.get_running_loop().run_in_executor(None, self.build)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self._app
        if app is None:
            app = await asyncio.get_running_loop().run_in_executor(None, self.build)
        await app(scope, receive, send)
