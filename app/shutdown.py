"""Graceful shutdown: on SIGTERM readiness turns 503 at once, the app keeps serving for a delay
(so the pod leaves the Service endpoints), then uvicorn's own graceful shutdown runs."""

import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from app import uvicorn_signals

log = logging.getLogger("app.shutdown")

Handler = Callable[[int, FrameType | None], Any] | int | None


class ShutdownState:
    """Whether shutdown has begun. Read on every readiness probe, so a plain attribute."""

    __slots__ = ("shutting_down",)

    def __init__(self) -> None:
        self.shutting_down = False

    def begin(self) -> None:
        self.shutting_down = True


class DelayedSigterm:
    """Installed over the server's SIGTERM handler while the app runs (lifespan startup).

    The first SIGTERM flips readiness and, `delay` seconds later, hands over to the server: for
    uvicorn that is its programmatic stop (app/uvicorn_signals.py: the process ends with status 0
    once in-flight requests are done); any other previous handler is called (or the
    default action taken). A second SIGTERM hands over at once.
    """

    def __init__(self, state: ShutdownState, delay: float) -> None:
        self.state = state
        self.delay = delay
        self._previous: Handler = None
        self._installed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._handed_over = False

    def install(self) -> bool:
        """Take over SIGTERM; only possible (and only needed) in the main thread of a server."""
        if threading.current_thread() is not threading.main_thread():
            return False
        self._loop = asyncio.get_running_loop()
        self._previous = signal.signal(signal.SIGTERM, self._on_sigterm)
        self._installed = True
        return True

    def uninstall(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._installed and signal.getsignal(signal.SIGTERM) == self._on_sigterm:
            signal.signal(signal.SIGTERM, self._previous)
        self._installed = False

    def _on_sigterm(self, sig: int, frame: FrameType | None) -> None:
        # A signal handler does the least it can (flip the flag) and leaves the rest to the loop.
        assert self._loop is not None
        if self.state.shutting_down:
            self._loop.call_soon_threadsafe(self._hand_over)
            return
        self.state.begin()
        self._loop.call_soon_threadsafe(self._start_delay)

    def _start_delay(self) -> None:
        log.info("SIGTERM: readiness now 503; serving %.1fs more, then shutting down", self.delay)
        if self.delay <= 0:
            self._hand_over()
        else:
            assert self._loop is not None
            self._timer = self._loop.call_later(self.delay, self._hand_over)

    def _hand_over(self) -> None:
        if self._handed_over:
            return
        self._handed_over = True
        previous = self._previous
        server = uvicorn_signals.server_of(previous)
        if server is not None:
            uvicorn_signals.stop(server)
        elif callable(previous):
            previous(signal.SIGTERM, None)
        else:  # SIG_DFL or SIG_IGN: let the system default (or ignoring) apply, as without us
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
            signal.raise_signal(signal.SIGTERM)
