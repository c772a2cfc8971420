"""The watch loop (``ci.slo.watch``) on a fake clock: when it looks, what it prints, how it waits
for the window's last scrape, and what it does when Prometheus does not answer.

A real Prometheus cannot be made to fail at a chosen moment, nor be watched for minutes in the
unit tier, so the answers here come from a scripted client that says what it was asked and when;
the real loop against a real Prometheus is in tests/ci/commands/test_verify.py."""

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from ci.errors import CiError
from ci.slo.judge import Numbers
from ci.slo.prometheus import Unreachable
from ci.slo.queries import Build
from ci.slo.watch import FINAL_SECONDS, SETTLE_SECONDS, Look, Watch, measure

START = 1_000_000.0
BUILD = Build("1a2b3c4d")


@dataclass
class Clock:
    now: float = START

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Scripted:
    """Answers by the kind of query: 10 requests a second, 1 in 10 a 5xx, p95 2 ms, one pod
    scraped every ``scrape`` seconds; Unreachable when ``refuse(kind, seconds from START)``."""

    clock: Clock
    scrape: float = 1.0
    pods: int = 1
    refuse: Callable[[str, float], bool] = lambda kind, elapsed: False
    asked: list[tuple[str, float, float]] = field(default_factory=list)

    def query(self, expr: str, at: float, timeout: float):
        kind = kind_of(expr)
        self.asked.append((kind, at - START, self.clock() - START))
        if self.refuse(kind, self.clock() - START):
            raise Unreachable("Prometheus at http://p is unreachable (refused)")
        if not self.pods:
            return []
        window = at - START
        value = {
            "requests": 10 * window,
            "errors": window,
            "latency": 0.002,
            "pods": self.pods,
            "last scrape": START + (self.clock() - START) // self.scrape * self.scrape,
        }[kind]
        return [({}, value)]


def kind_of(expr: str) -> str:
    if expr.startswith("histogram_quantile"):
        return "latency"
    if expr.startswith("count("):
        return "pods"
    if expr.startswith("min(timestamp"):
        return "last scrape"
    return "errors" if '=~"5.."' in expr else "requests"


def watcher(clock: Clock, client: Scripted, seconds: float = 10, every: float = 3) -> Watch:
    lines = []
    watch = Watch(client, BUILD, seconds, every, "dev 1a2b3c4d", lines.append, clock, clock.sleep)
    watch.lines = lines  # type: ignore[attr-defined]
    return watch


def test_measure_asks_for_the_numbers_over_the_span():
    clock = Clock()
    look = measure(Scripted(clock), BUILD, START, START + 30)
    assert look == Look(Numbers(300.0, 30.0, 0.002), 1, START, START + 30)
    assert look.describe() == "1 pod, 300 requests, error ratio 0.1000, p95 0.002s"


def test_progress_now_and_then_then_the_final_numbers_after_the_last_scrape():
    clock = Clock()
    client = Scripted(clock, scrape=4)
    watch = watcher(clock, client)
    start = watch.window()
    assert (start, clock.now) == (START, START + 10)
    assert watch.lines == [
        "dev 1a2b3c4d: 3s of 10s: 1 pod, 30 requests, error ratio 0.1000, p95 0.002s",
        "dev 1a2b3c4d: 6s of 10s: 1 pod, 60 requests, error ratio 0.1000, p95 0.002s",
        "dev 1a2b3c4d: 9s of 10s: 1 pod, 90 requests, error ratio 0.1000, p95 0.002s",
    ]
    look = watch.final(start)
    # Scraped at 8 s, then at 12 s: the numbers are asked for at 12 s, over 12 s.
    assert (look.start, look.end) == (START, START + 12)
    assert look.numbers.served == 120
    assert [kind for kind, _, _ in client.asked[-4:]] == ["requests", "errors", "latency", "pods"]


def test_no_pod_of_the_build_no_wait():
    clock = Clock()
    watch = watcher(clock, Scripted(clock, pods=0))
    look = watch.final(watch.window())
    assert (look.end, look.pods, look.numbers) == (START + 10, 0, Numbers(0.0, 0.0, None))


def test_a_scrape_that_never_comes_is_waited_for_at_most_the_settle_time():
    clock = Clock()
    watch = watcher(clock, Scripted(clock, scrape=1000))
    look = watch.final(watch.window())
    assert look.end == pytest.approx(START + 10 + SETTLE_SECONDS)


def test_a_progress_look_without_an_answer_is_reported_and_the_watch_goes_on():
    clock = Clock()
    watch = watcher(clock, Scripted(clock, refuse=lambda kind, elapsed: 5 <= elapsed < 7))
    watch.final(watch.window())
    assert watch.lines[1] == (
        "dev 1a2b3c4d: 6s of 10s: Prometheus at http://p is unreachable (refused)"
    )
    assert watch.lines[2].startswith("dev 1a2b3c4d: 9s of 10s: 1 pod, 90 requests")


def test_the_final_numbers_are_asked_again_while_prometheus_does_not_answer():
    clock = Clock()
    refuse = lambda kind, elapsed: kind == "requests" and 10 <= elapsed < 12  # noqa: E731
    watch = watcher(clock, Scripted(clock, refuse=refuse))
    look = watch.final(watch.window())
    assert (look.start, look.end) == (START, START + 10)  # the span settled on, not the retry's
    again = "dev 1a2b3c4d: Prometheus at http://p is unreachable (refused); asking again"
    assert watch.lines[-2:] == [again, again]


def test_the_wait_for_the_last_scrape_outlasts_a_prometheus_that_does_not_answer():
    clock = Clock()
    watch = watcher(clock, Scripted(clock, refuse=lambda kind, elapsed: 10 <= elapsed < 13))
    look = watch.final(watch.window())
    assert look.end == START + 13


def test_without_an_answer_for_the_final_numbers_there_is_no_verdict():
    clock = Clock()
    watch = watcher(clock, Scripted(clock, refuse=lambda kind, elapsed: elapsed >= 10))
    with pytest.raises(CiError) as error:
        watch.final(watch.window())
    assert str(error.value) == (
        "Prometheus at http://p is unreachable (refused): no verdict, nothing recorded"
    )
    assert clock.now - START == pytest.approx(10 + SETTLE_SECONDS + FINAL_SECONDS, abs=1)


def test_a_window_shorter_than_the_interval_prints_no_progress():
    clock = Clock()
    watch = watcher(clock, Scripted(clock), seconds=2, every=30)
    watch.window()
    assert (watch.lines, clock.now) == ([], START + 2)
