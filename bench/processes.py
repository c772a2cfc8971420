"""Child processes that an interrupt cannot orphan."""

import contextlib
import functools
import os
import signal
from collections.abc import Collection, Iterator
from typing import Any

INTERRUPTS = {signal.SIGINT, signal.SIGTERM}


@contextlib.contextmanager
def interrupts_held(cpus: Collection[int] | None = None) -> Iterator[dict[str, Any]]:
    """Hold SIGINT and SIGTERM back while a child is created and recorded.

    Without this, an interrupt landing inside subprocess.Popen() (after the fork, before the Popen
    object reaches the caller) leaves a child nobody can stop. Held, it arrives once the caller has
    the Popen. Yields the Popen keyword arguments that give the child the usual signal mask back
    (and, given `cpus`, run it on those CPUs only, its threads included).
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, INTERRUPTS)
    try:
        yield {"preexec_fn": functools.partial(_child_setup, previous, cpus)}
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _child_setup(mask: Collection[int], cpus: Collection[int] | None) -> None:
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    if cpus:
        os.sched_setaffinity(0, cpus)


def split_cpus() -> tuple[frozenset[int], frozenset[int]] | None:
    """(the load generator's CPU, the servers' CPUs) on a machine with two CPUs or more, else None.

    Pinned apart, wrk and the server under load never share or swap a CPU, and every server
    runs on the same one: the servers compare on equal terms, round after round."""
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return None
    return frozenset(available[:1]), frozenset(available[1:])
