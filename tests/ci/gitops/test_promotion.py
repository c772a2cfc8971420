"""``ci.gitops.promotion``: the whole policy of gitops/promotion.yaml, validated on read."""

from datetime import timedelta
from pathlib import Path

import pytest

from ci.errors import UsageError
from ci.gitops.promotion import PROMOTION_FILE, Traffic, parse_order, parse_policy

FULL = """\
order: [dev, prod]
verify:
  dev: {window: 5m, max_error_ratio: 0.01, max_latency_p95: 0.5, min_requests: 50,
        traffic: {paths: ["/api/echo?text=verify", /-/health], rate: 2}}
soak:
  dev: 30m
freeze:
  - {environments: [prod], cron: "0 17 * * 5", duration: 63h, timezone: Europe/Berlin,
     reason: weekend}
"""


def test_the_whole_policy_is_read() -> None:
    policy = parse_policy(FULL)
    assert policy.order.order == ("dev", "prod")
    rule = policy.verify["dev"]
    assert (rule.window, rule.max_error_ratio, rule.max_latency_p95, rule.min_requests) == (
        timedelta(minutes=5),
        0.01,
        0.5,
        50,
    )
    assert rule.traffic == Traffic(("/api/echo?text=verify", "/-/health"), 2.0)
    assert policy.soak == {"dev": timedelta(minutes=30)}
    assert [window.reason for window in policy.freeze] == ["weekend"]
    assert "prod" not in policy.verify


@pytest.mark.parametrize("text", [None, "", "  \n", "# only a comment\n"])
def test_no_file_means_no_rules(text: str | None) -> None:
    policy = parse_policy(text)
    assert (policy.order.order, dict(policy.verify), dict(policy.soak), policy.freeze) == (
        (),
        {},
        {},
        (),
    )


def test_order_only_files_keep_working() -> None:
    assert parse_order("order: [dev, staging, prod]\n").order == ("dev", "staging", "prod")
    assert parse_policy("order: [dev]\nsoak: {dev: 45s}\n").soak["dev"] == timedelta(seconds=45)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("order: [dev]\nverfy: {}\n", "unknown key 'verfy'"),
        ("order: dev\n", "expected 'order:' with a list"),
        ("order: [dev, dev]\n", "dev is listed twice"),
        ("order: [dev, 7]\n", "order: environment names are strings, not 7"),
        ("order: [dev]\nsoak: [dev]\n", "soak must map environments"),
        ("order: [dev]\nsoak: {dev: soon}\n", "soak.dev: 'soon' is not a duration"),
        ("order: [dev]\nsoak: {dev: 30}\n", "soak.dev must be a duration like 30m, not 30"),
        ("order: [dev]\nsoak: {dev: 40d}\n", "soak.dev: '40d' is not between 1s and 31d"),
        ("order: [dev]\nsoak: {Dev: 1m}\n", "soak"),
        ("order: [dev]\nverify: {dev: 5m}\n", "verify.dev must be a mapping"),
        (
            "order: [dev]\nverify: {dev: {window: 5m, max_error_ratio: 0.01, min_requests: 5}}\n",
            "verify.dev.max_latency_p95 is missing",
        ),
        (
            "order: [dev]\nverify: {dev: {window: 5m, max_error_ratio: 2, max_latency_p95: 1,"
            " min_requests: 5}}\n",
            "verify.dev.max_error_ratio must be a number from 0 to 1, not 2",
        ),
        (
            "order: [dev]\nverify: {dev: {window: 5m, max_error_ratio: 0.1, max_latency_p95: 1,"
            " min_requests: 2.5}}\n",
            "verify.dev.min_requests must be a whole number",
        ),
        (
            "order: [dev]\nverify: {dev: {window: 5m, max_error_ratio: 0.1, max_latency_p95: yes,"
            " min_requests: 5}}\n",
            "verify.dev.max_latency_p95 must be a number",
        ),
        (
            "order: [dev]\nverify: {dev: {window: 5m, max_error_ratio: 0.1, max_latency_p95: 1,"
            " min_requests: 5, p99: 2}}\n",
            "verify.dev: unknown key 'p99'",
        ),
        (
            "order: [dev]\nverify: {dev: {window: 5m, max_error_ratio: 0.1, max_latency_p95: 1,"
            " min_requests: 5, traffic: {paths: [api/echo]}}}\n",
            "verify.dev.traffic.paths: 'api/echo' is not a path starting with /",
        ),
        (
            "order: [dev]\nverify: {dev: {window: 5m, max_error_ratio: 0.1, max_latency_p95: 1,"
            " min_requests: 5, traffic: {paths: [/], rate: 1000}}}\n",
            "verify.dev.traffic.rate must be a number from 0.1 to 20",
        ),
        (
            "order: [dev]\nfreeze: [{environments: [prod], cron: '0 25 * * *', duration: 1h,"
            " timezone: UTC, reason: x}]\n",
            "freeze[0].cron",
        ),
        (
            "order: [dev]\nfreeze: [{environments: [prod], cron: '0 1 * * *', duration: 1h,"
            " timezone: Mars/Olympus, reason: x}]\n",
            "freeze[0].timezone",
        ),
        ("order: [dev\n", "not valid YAML"),
    ],
)
def test_bad_files_exit_2_naming_the_key(text: str, error: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse_policy(text)
    assert raised.value.exit_code == 2
    assert str(raised.value).startswith(PROMOTION_FILE)
    assert error in str(raised.value)


def test_the_repository_policy_is_valid() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    policy = parse_policy((root / PROMOTION_FILE).read_text())
    assert policy.order.order[0] == "dev"


def test_the_shipped_policy_and_its_commented_example_are_valid() -> None:
    """gitops/promotion.yaml ships the order, and the rest of the policy as a commented example a
    team uncomments: both parse, so the example cannot drift from the parser."""
    text = (Path(__file__).resolve().parents[3] / "gitops" / "promotion.yaml").read_text()
    shipped = parse_policy(text)
    assert shipped.order.order == ("dev", "prod")
    assert (shipped.verify, shipped.soak, shipped.freeze) == ({}, {}, ())
    example = text[text.index("# verify:") :].splitlines()
    uncommented = parse_policy(text + "\n".join(line.removeprefix("# ") for line in example))
    assert set(uncommented.verify) == set(uncommented.soak) == {"dev"}
    assert [window.environments for window in uncommented.freeze] == [("prod",)]
