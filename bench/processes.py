"""Child processes that an interrupt cannot orphan."""

import contextlib
import functools
import signal
from collections.abc import Iterator
from typing import Any

INTERRUPTS = {signal.SIGINT, signal.SIGTERM}


@contextlib.contextmanager
def interrupts_held() -> Iterator[dict[str, Any]]:
    """Hold SIGINT and SIGTERM back while a child is created and recorded.

    Without this, an interrupt landing inside subprocess.Popen() (after the fork, before the Popen
    object reaches the caller) leaves a child nobody can stop. Held, it arrives once the caller has
    the Popen. Yields the Popen keyword arguments that give the child the usual signal mask back.
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, INTERRUPTS)
    try:
        yield {
            "preexec_fn": functools.partial(signal.pthread_sigmask, signal.SIG_SETMASK, previous)
        }
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
