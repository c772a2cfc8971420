"""Graceful shutdown: on SIGTERM readiness turns 503 at once, the app keeps serving for a delay
(so the pod leaves the Service endpoints), then the server's own graceful shutdown runs.

Built only on public contracts: Python's `signal` module, the ASGI lifespan (the handler is put
in at startup and taken out at shutdown), and what every ASGI server does with SIGTERM (uvicorn:
stop accepting, finish in-flight requests within `--timeout-graceful-shutdown`, run the lifespan
shutdown, exit). The app never touches the server: after the delay it gives SIGTERM back to
whoever handled it before and raises it again, so the server sees the very signal Kubernetes sent.
"""

import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

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

    The first SIGTERM flips readiness and, `delay` seconds later, hands the signal over: the
    previous handler (the server's, or the default action) is put back and SIGTERM raised again,
    so the server shuts down exactly as it would have without the app. A second SIGTERM hands
    over at once.
    """

    def __init__(self, state: ShutdownState, delay: float) -> None:
        self.state = state
        self.delay = delay
        self._previous: Handler = None
        self._installed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None

    def install(self) -> bool:
        """Take over SIGTERM; only possible (and only needed) in the main thread of a server."""
        if threading.current_thread() is not threading.main_thread():
            return False
        self._loop = asyncio.get_running_loop()
        self._previous = signal.signal(signal.SIGTERM, self._on_sigterm)
        self._installed = True
        return True

    def uninstall(self) -> None:
        """Put the previous handler back (lifespan shutdown), unless handed over already."""
        if self._timer is not None:
            self._timer.cancel()
        if self._installed and signal.getsignal(signal.SIGTERM) == self._on_sigterm:
            signal.signal(signal.SIGTERM, self._restorable_previous())
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
        """SIGTERM back to its previous handler, and raised again for it (once)."""
        if not self._installed:
            return
        self.uninstall()
        signal.raise_signal(signal.SIGTERM)

    def _restorable_previous(self) -> Callable[[int, FrameType | None], Any] | int:
        # None: the handler was not set from Python; the default action is the closest.
        return self._previous if self._previous is not None else signal.SIG_DFL
