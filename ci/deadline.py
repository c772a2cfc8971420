"""Durations from the command line, and the deadline a whole command keeps (wait, verify-deploy).

A duration is a finite number of seconds, more than 0 and at most a week: ``nan`` compares false
with everything (a loop on ``remaining <= 0`` never ends), ``inf`` and ``1e400`` (which float()
reads as inf) never come, and ``time.sleep`` refuses numbers past a C ``time_t``.
"""

import math
import time
from collections.abc import Callable

from ci.errors import UsageError

MAX_SECONDS = 7 * 24 * 3600.0


def seconds(text: str | float, name: str) -> float:
    """``text`` as a duration; UsageError (exit 2) naming ``name`` otherwise."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = math.nan
    if not (0 < value <= MAX_SECONDS):  # false for nan too
        raise UsageError(
            f"{name} must be a positive number of seconds, got {str(text)[:40]!r}"
            f" (finite, at most {MAX_SECONDS:.0f}: a week)"
        )
    return value


class Deadline:
    """``seconds`` from now, on ``clock``."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds, self.clock = seconds, clock
        self.start = clock()
        self.at = self.start + seconds

    def remaining(self) -> float:
        return self.at - self.clock()

    def elapsed(self) -> float:
        return self.clock() - self.start

    def cap(self, limit: float, floor: float) -> float:
        """What one step may take: ``limit``, less when the deadline is nearer, at least
        ``floor`` (a last look at the deadline still gets an answer)."""
        return max(floor, min(limit, self.remaining()))
