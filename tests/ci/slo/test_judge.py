"""The judgement of a verification (``ci.slo.judge``): table-driven, in-process."""

from datetime import datetime, timedelta, timezone

import pytest

from ci.gitops.promotion import VerifyRule
from ci.gitops.verdicts import Outcome, Verdict
from ci.slo.judge import Numbers, describe, final_line, judge, timestamp, verdict

RULE = VerifyRule(
    window=timedelta(minutes=5), max_error_ratio=0.01, max_latency_p95=0.5, min_requests=50
)
ERRORS = "error ratio {:.4f} above max_error_ratio 0.01"
SLOW = "p95 latency {:.3g}s above max_latency_p95 0.5s"


@pytest.mark.parametrize(
    ("requests", "errors", "p95", "outcome", "reason"),
    [
        (1000, 0, 0.0003, Outcome.PASSED, ""),
        (1000, 10, 0.5, Outcome.PASSED, ""),  # both thresholds met exactly: at most
        (50, 0, 0.1, Outcome.PASSED, ""),  # exactly min_requests is enough
        (1000, 11, 0.1, Outcome.FAILED, ERRORS.format(0.011)),
        (1000, 0, 0.51, Outcome.FAILED, SLOW.format(0.51)),
        (1000, 500, 2.5, Outcome.FAILED, f"{ERRORS.format(0.5)}; {SLOW.format(2.5)}"),
        (100, 100, None, Outcome.FAILED, ERRORS.format(1.0)),
        (49, 0, 0.1, Outcome.INCONCLUSIVE, "49 requests, fewer than min_requests 50"),
        # Too few requests is too little evidence, however bad they look.
        (10, 10, 9.0, Outcome.INCONCLUSIVE, "10 requests, fewer than min_requests 50"),
        (0, 0, None, Outcome.INCONCLUSIVE, "0 requests, fewer than min_requests 50"),
        # Prometheus extrapolates: 49.6 requests are 50 served.
        (49.6, 0.4, 0.1, Outcome.PASSED, ""),
        (49.4, 0, 0.1, Outcome.INCONCLUSIVE, "49 requests, fewer than min_requests 50"),
        (1000.2, 10.4, None, Outcome.PASSED, ""),  # no latency observed: not judged on it
    ],
)
def test_judge(requests, errors, p95, outcome, reason):
    judgement = judge(RULE, Numbers(requests, errors, p95))
    assert (judgement.outcome, judgement.reason) == (outcome, reason)


@pytest.mark.parametrize(
    ("requests", "errors", "served", "failed", "ratio"),
    [
        (0, 0, 0, 0, None),
        (0.4, 0.4, 0, 0, None),
        (10, 3, 10, 3, 0.3),
        (9.6, 2.5, 10, 2, 0.2),  # round half to even
        (10, 12, 10, 10, 1.0),  # never more errors than requests
        (-1, -1, 0, 0, None),  # never negative
    ],
)
def test_counts_are_whole_and_consistent(requests, errors, served, failed, ratio):
    numbers = Numbers(requests, errors, None)
    assert (numbers.served, numbers.failed, numbers.error_ratio) == (served, failed, ratio)


def test_the_verdict_carries_the_build_the_numbers_and_the_window():
    found = verdict(
        "dev", "1a2b3c4d", "sha256:" + "a" * 64, RULE, Numbers(200, 20, 0.02), (0.0, 300.4)
    )
    assert found == Verdict(
        env="dev",
        tag="1a2b3c4d",
        digest="sha256:" + "a" * 64,
        outcome=Outcome.FAILED,
        requests=200,
        error_ratio=0.1,
        latency_p95=0.02,
        started="1970-01-01T00:00:00Z",
        finished="1970-01-01T00:05:00Z",
        reason="error ratio 0.1000 above max_error_ratio 0.01",
    )


def test_timestamps_are_utc_to_the_second():
    moment = datetime(2026, 12, 1, 9, 5, 5, tzinfo=timezone(timedelta(hours=1)))
    assert timestamp(moment.timestamp() + 0.9) == "2026-12-01T08:05:05Z"


@pytest.mark.parametrize(
    ("numbers", "line"),
    [
        ((57, 1 / 57, 0.000312), "57 requests, error ratio 0.0175, p95 0.000312s"),
        ((0, None, None), "0 requests, error ratio -, p95 -"),
        ((3, 0.0, 1.5), "3 requests, error ratio 0.0000, p95 1.5s"),
    ],
)
def test_describe(numbers, line):
    assert describe(*numbers) == line


def _verdict(outcome: Outcome, reason: str, requests: int = 300) -> Verdict:
    return Verdict("dev", "1a2b3c4d", None, outcome, requests, 0.5, 0.25, "t0", "t1", reason=reason)


@pytest.mark.parametrize(
    ("outcome", "reason", "line"),
    [
        (
            Outcome.PASSED,
            "",
            "dev 1a2b3c4d passed verification: 300 requests, error ratio 0.5000, p95 0.25s"
            " over 300s",
        ),
        (
            Outcome.FAILED,
            "error ratio 0.5000 above max_error_ratio 0.01",
            "dev 1a2b3c4d failed verification: error ratio 0.5000 above max_error_ratio 0.01"
            " (300 requests, error ratio 0.5000, p95 0.25s over 300s)",
        ),
        (
            Outcome.INCONCLUSIVE,
            "300 requests, fewer than min_requests 500",
            "dev 1a2b3c4d is not verified (inconclusive): 300 requests, fewer than min_requests"
            " 500 (300 requests, error ratio 0.5000, p95 0.25s over 300s); nothing rolled back",
        ),
    ],
)
def test_the_final_line_names_the_outcome_the_threshold_and_the_numbers(outcome, reason, line):
    assert final_line(_verdict(outcome, reason), 300.2) == line
