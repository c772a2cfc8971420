"""The judgement of one verification, from its numbers and the environment's rule (pure).

- **inconclusive** when fewer than ``min_requests`` were served over the window: too little
  evidence either way (not verified, and nothing is rolled back), whatever the other numbers say;
- else **failed** when the error ratio (5xx answers over all answers) is above
  ``max_error_ratio`` or the p95 latency above ``max_latency_p95`` seconds: the reason names
  every threshold broken;
- else **passed**. A threshold met exactly passes ("at most").
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from ci.gitops.promotion import VerifyRule
from ci.gitops.verdicts import Outcome, Verdict


@dataclass(frozen=True)
class Numbers:
    """What Prometheus counted for the build over the window (``requests`` and ``errors`` may
    be fractional: Prometheus extrapolates counter increases)."""

    requests: float
    errors: float
    latency_p95: float | None  # seconds; None when nothing was observed

    @property
    def served(self) -> int:
        return max(0, round(self.requests))

    @property
    def failed(self) -> int:
        return min(self.served, max(0, round(self.errors)))

    @property
    def error_ratio(self) -> float | None:
        return self.failed / self.served if self.served else None


@dataclass(frozen=True)
class Judgement:
    outcome: Outcome
    reason: str = ""  # the thresholds broken, or why it is inconclusive; "" when passed


def judge(rule: VerifyRule, numbers: Numbers) -> Judgement:
    if numbers.served < rule.min_requests:
        return Judgement(
            Outcome.INCONCLUSIVE,
            f"{numbers.served} requests, fewer than min_requests {rule.min_requests}",
        )
    broken = []
    ratio = numbers.error_ratio or 0.0
    if ratio > rule.max_error_ratio:
        broken.append(f"error ratio {ratio:.4f} above max_error_ratio {rule.max_error_ratio:g}")
    p95 = numbers.latency_p95
    if p95 is not None and p95 > rule.max_latency_p95:
        broken.append(f"p95 latency {p95:.3g}s above max_latency_p95 {rule.max_latency_p95:g}s")
    if broken:
        return Judgement(Outcome.FAILED, "; ".join(broken))
    return Judgement(Outcome.PASSED)


def verdict(
    env: str,
    tag: str,
    digest: str | None,
    rule: VerifyRule,
    numbers: Numbers,
    window: tuple[float, float],
) -> Verdict:
    """The verdict on the build ``tag`` in ``env`` from ``numbers`` counted over ``window``
    (start and end, Unix seconds)."""
    judgement = judge(rule, numbers)
    return Verdict(
        env=env,
        tag=tag,
        digest=digest,
        outcome=judgement.outcome,
        requests=numbers.served,
        error_ratio=numbers.error_ratio,
        latency_p95=numbers.latency_p95,
        started=timestamp(window[0]),
        finished=timestamp(window[1]),
        reason=judgement.reason,
    )


def timestamp(seconds: float) -> str:
    """Unix seconds as ISO 8601 in UTC, to the second: ``2026-11-25T00:03:28Z``."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def describe(requests: int, error_ratio: float | None, latency_p95: float | None) -> str:
    """``57 requests, error ratio 0.0175, p95 0.00031s`` (``-`` for what was not observed)."""
    ratio = "-" if error_ratio is None else f"{error_ratio:.4f}"
    p95 = "-" if latency_p95 is None else f"{latency_p95:.3g}s"
    return f"{requests} requests, error ratio {ratio}, p95 {p95}"


def final_line(verdict: Verdict, seconds: float) -> str:
    """What ``verify`` ends with: the outcome, the threshold broken, the numbers."""
    numbers = describe(verdict.requests, verdict.error_ratio, verdict.latency_p95)
    numbers = f"{numbers} over {seconds:.0f}s"
    build = f"{verdict.env} {verdict.tag}"
    if verdict.outcome is Outcome.PASSED:
        return f"{build} passed verification: {numbers}"
    if verdict.outcome is Outcome.FAILED:
        return f"{build} failed verification: {verdict.reason} ({numbers})"
    return (
        f"{build} is not verified (inconclusive): {verdict.reason} ({numbers}); nothing rolled back"
    )
