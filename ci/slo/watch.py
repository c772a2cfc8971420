"""The watch: the build's numbers over the rule's window, with a progress line now and then.

The window starts when the watch does (synthetic traffic, when the rule has some, runs through
it) and lasts ``rule.window``. Then the watch waits, at most ``SETTLE_SECONDS``, until Prometheus
has scraped every pod of the build once more, so the window's last requests count, and asks for
the final numbers over exactly that span (``ci.slo.queries``). A progress look that gets no answer
is reported and the watch goes on; the final one is asked again for ``FINAL_SECONDS``, then the
command fails without a verdict (nothing is recorded).
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ci.errors import CiError
from ci.slo.judge import Numbers, describe
from ci.slo.prometheus import Unreachable, finite
from ci.slo.queries import Build

QUERY_SECONDS = 10.0  # each query's deadline
SETTLE_SECONDS = 60.0  # at most this long after the window for a scrape of every pod
FINAL_SECONDS = 60.0  # the final numbers are asked again this long when Prometheus fails
RETRY_SECONDS = 1.0


class Client(Protocol):
    def query(self, expr: str, at: float, timeout: float) -> list[tuple[dict[str, str], float]]:
        """The instant vector ``expr`` evaluates to at Unix time ``at``."""


@dataclass(frozen=True)
class Look:
    """The numbers over one span, and how many pods of the build reported in it."""

    numbers: Numbers
    pods: int
    start: float
    end: float

    def describe(self) -> str:
        numbers = self.numbers
        counted = describe(numbers.served, numbers.error_ratio, numbers.latency_p95)
        return f"{self.pods} {'pod' if self.pods == 1 else 'pods'}, {counted}"


def measure(client: Client, build: Build, start: float, at: float) -> Look:
    """The build's numbers from ``start`` to ``at`` (Unix seconds)."""
    window = max(0.001, at - start)

    def scalar(expr: str) -> float | None:
        result = client.query(expr, at, QUERY_SECONDS)
        return finite(result[0][1]) if result else None

    numbers = Numbers(
        requests=scalar(build.requests(window)) or 0.0,
        errors=scalar(build.errors(window)) or 0.0,
        latency_p95=scalar(build.latency(window)),
    )
    return Look(numbers, int(scalar(build.targets(window)) or 0), start, at)


@dataclass
class Watch:
    client: Client
    build: Build
    seconds: float  # the rule's window
    every: float  # seconds between progress lines
    label: str  # "dev 1a2b3c4d"
    log: Callable[[str], None] = lambda line: print(line, flush=True)
    clock: Callable[[], float] = time.time  # Unix time: Prometheus' clock
    sleep: Callable[[float], None] = time.sleep
    progress_suffix: Callable[[], str] = lambda: ""  # e.g. the synthetic traffic's summary

    def window(self) -> float:
        """Watch until the window ends, printing progress; returns the window's start."""
        start = self.clock()
        end = start + self.seconds
        while (now := self.clock()) < end:
            self.sleep(min(self.every, end - now))
            now = self.clock()
            if now < end:
                self._progress(start, now)
        return start

    def final(self, start: float) -> Look:
        """The numbers over the window, once Prometheus has scraped past its end."""
        at = self._settle(start + self.seconds)
        deadline = self.clock() + FINAL_SECONDS
        while True:
            try:
                return measure(self.client, self.build, start, at)
            except Unreachable as error:
                if self.clock() >= deadline:
                    raise CiError(f"{error}: no verdict, nothing recorded") from None
                self.log(f"{self.label}: {error}; asking again")
                self.sleep(RETRY_SECONDS)

    def _progress(self, start: float, now: float) -> None:
        try:
            look = measure(self.client, self.build, start, now)
        except Unreachable as error:
            self.log(f"{self.label}: {now - start:.0f}s of {self.seconds:g}s: {error}")
            return
        suffix = self.progress_suffix()
        line = f"{self.label}: {now - start:.0f}s of {self.seconds:g}s: {look.describe()}"
        self.log(line + (f"; {suffix}" if suffix else ""))

    def _settle(self, end: float) -> float:
        """The time to measure at: once every pod of the build was scraped at or after ``end``
        (at once when no pod reports the build; at most SETTLE_SECONDS late)."""
        give_up = max(end, self.clock()) + SETTLE_SECONDS
        while (now := self.clock()) < give_up:
            if self._scraped_since(end, now):
                return max(now, end)
            self.sleep(RETRY_SECONDS / 4)
        return self.clock()

    def _scraped_since(self, end: float, now: float) -> bool:
        """Whether every pod of the build was scraped at or after ``end`` (true when no pod
        reports the build; false while Prometheus does not answer)."""
        try:
            found = self.client.query(self.build.last_scrape(), now, QUERY_SECONDS)
        except Unreachable:
            return False
        return not found or found[0][1] >= end
