"""Verification verdicts: what ``python -m ci verify`` concluded about one build in one
environment, from the service's own metrics (``ci.slo``), as the write-back records it."""

from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"  # a threshold broken: the build is rolled back and rejected
    INCONCLUSIVE = "inconclusive"  # too few requests: not verified, nothing rolled back


@dataclass(frozen=True)
class Verdict:
    """One verification: the build (``tag``, ``digest``), its numbers over the window from
    ``started`` to ``finished`` (ISO 8601, UTC), and ``reason``: the threshold broken, or why it
    was inconclusive ("" when it passed)."""

    env: str
    tag: str
    digest: str | None
    outcome: Outcome
    requests: int
    error_ratio: float | None  # None: no requests
    latency_p95: float | None  # seconds; None: no requests
    started: str
    finished: str
    reason: str = ""
