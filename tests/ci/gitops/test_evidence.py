"""``ci.gitops.evidence``: the promotion rule on evidence, table-driven on a fixed clock: a
passed verification when the source has a verify rule, then its soak, counted from the passed
verdict's start (or, without a rule, from the commit that set the build)."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from ci.gitops.evidence import shortfall, span
from ci.gitops.promotion import parse_policy
from ci.gitops.verdicts import Outcome, Verdict

NOW = datetime(2026, 1, 2, 3, 30, tzinfo=UTC)
RULE = "{window: 5m, max_error_ratio: 0.01, max_latency_p95: 0.5, min_requests: 50}"
BOTH = parse_policy(f"order: [dev, prod]\nverify:\n  dev: {RULE}\nsoak:\n  dev: 30m\n")
VERIFY_ONLY = parse_policy(f"order: [dev, prod]\nverify:\n  dev: {RULE}\n")
SOAK_ONLY = parse_policy("order: [dev, prod]\nsoak:\n  dev: 30m\n")
NONE = parse_policy("order: [dev, prod]\n")
DIGEST = "sha256:" + "1" * 64
PASSED = Verdict(
    "dev", "abc1234", DIGEST, Outcome.PASSED, 80, 0.0, 0.1, "2026-01-02T03:18:00Z",
    "2026-01-02T03:23:00Z",
)  # fmt: skip
FAILED = replace(PASSED, outcome=Outcome.FAILED, reason="p95 0.9s above 0.5s")
SET_AT = datetime(2026, 1, 2, 3, 0, tzinfo=UTC)
NO_VERDICT = "dev has no verdict on abc1234: its policy asks for a passed verification"

CASES = [
    # (name, policy, verdicts, set at, expected)
    ("no rules", NONE, (), None, None),
    ("no verdict", BOTH, (), SET_AT, NO_VERDICT),
    ("another build's verdict", BOTH, (replace(PASSED, digest=None),), SET_AT, NO_VERDICT),
    (
        "failed",
        BOTH,
        (FAILED,),
        SET_AT,
        "dev has no passed verification of abc1234: failed verification of abc1234 in dev: p95"
        " 0.9s above 0.5s (80 requests, error ratio 0, p95 0.1s)",
    ),
    (
        "verified, soaking",
        BOTH,
        (PASSED,),
        SET_AT,
        "dev has run abc1234 verified for 12m of its 30m soak: 18m left",
    ),
    ("verified long enough", BOTH, (replace(PASSED, started="2026-01-02T03:00:00Z"),), None, None),
    ("verified, no soak", VERIFY_ONLY, (PASSED,), None, None),
    ("soak from the commit", SOAK_ONLY, (), SET_AT, None),
    (
        "soak from the commit, soaking",
        SOAK_ONLY,
        (),
        NOW - timedelta(minutes=29, seconds=30),
        "dev has run abc1234 for 29m of its 30m soak: 30s left",
    ),
    (
        "soak, set when unknown",
        SOAK_ONLY,
        (),
        None,
        "dev cannot tell since when it runs abc1234: its policy asks for a 30m soak",
    ),
    (
        "a verdict from the future counts as just started",
        BOTH,
        (replace(PASSED, started="2026-01-02T04:00:00Z"),),
        None,
        "dev has run abc1234 verified for 0s of its 30m soak: 30m left",
    ),
]


@pytest.mark.parametrize(
    ("name", "policy", "verdicts", "set_at", "expected"), CASES, ids=[case[0] for case in CASES]
)
def test_shortfall(name, policy, verdicts, set_at, expected) -> None:
    assert shortfall(policy, "dev", "abc1234", DIGEST, verdicts, set_at, NOW) == expected


def test_another_environment_has_no_rules() -> None:
    assert shortfall(BOTH, "prod", "abc1234", None, (), None, NOW) is None


@pytest.mark.parametrize(
    ("duration", "down", "up"),
    [
        (timedelta(seconds=0), "0s", "0s"),
        (timedelta(seconds=44.5), "44s", "45s"),
        (timedelta(minutes=12, seconds=30), "12m", "13m"),
        (timedelta(minutes=65), "1h5m", "1h5m"),
        (timedelta(hours=63), "2d15h", "2d15h"),
        (timedelta(days=31), "31d", "31d"),
    ],
)
def test_spans(duration, down, up) -> None:
    assert (span(duration), span(duration, up=True)) == (down, up)
