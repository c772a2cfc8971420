"""``ci.gitops.verdicts``: the record of verification verdicts, text in and text out: the file
round-trips, odd files are one ValuesError naming the file and entry, one verdict per build
(newest), newest first, at most MAX_VERDICTS; Argo CD reads neither record file."""

import math
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci import chart
from ci.gitops.rejections import REJECTED_FILE, format_rejections
from ci.gitops.tags import environments_from_paths
from ci.gitops.values import ValuesError
from ci.gitops.verdicts import (
    MAX_VERDICTS,
    Outcome,
    Verdict,
    describe,
    format_verdicts,
    latest,
    normalized,
    numbers,
    parse_time,
    parse_verdicts,
    verdicts_path,
    with_verdict,
)
from tests.support.git_remotes import copy_deploy_layout

PATH = verdicts_path("dev")
DIGEST = "sha256:" + "1" * 64
PASSED = Verdict(
    "dev", "abc1234", DIGEST, Outcome.PASSED, 812, 0.0012, 0.12, "2026-01-02T03:00:00Z",
    "2026-01-02T03:05:00Z",
)  # fmt: skip
FAILED = replace(PASSED, outcome=Outcome.FAILED, error_ratio=0.23, reason="error ratio above 0.01")


def at(minutes: int) -> str:
    moment = datetime(2026, 1, 2, tzinfo=UTC) + timedelta(minutes=minutes)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_path_is_beside_the_values_file() -> None:
    assert PATH == "gitops/dev/verdicts.yaml"


@pytest.mark.parametrize(
    "verdicts",
    [
        (),
        (PASSED,),
        (FAILED, replace(PASSED, tag="old", digest=None, error_ratio=None, latency_p95=None)),
        (replace(PASSED, outcome=Outcome.INCONCLUSIVE, requests=0, reason='quiet: "3" < 50'),),
    ],
)
def test_the_file_round_trips(verdicts) -> None:
    text = format_verdicts("dev", verdicts)
    assert text.startswith("# Verification verdicts of dev")
    assert parse_verdicts(text, PATH) == verdicts


@given(
    st.builds(
        Verdict,
        env=st.just("dev"),
        tag=st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,20}", fullmatch=True),
        digest=st.none() | st.from_regex(r"sha256:[0-9a-f]{64}", fullmatch=True),
        outcome=st.sampled_from(Outcome),
        requests=st.integers(0, 10**9),
        error_ratio=st.none() | st.floats(0, 1),
        latency_p95=st.none() | st.floats(0, 3600),
        started=st.just(at(0)),
        finished=st.just(at(5)),
        reason=st.text(st.characters(blacklist_categories=["Cs"]), max_size=40),
    )
)
def test_any_verdict_round_trips_as_normalized(verdict: Verdict) -> None:
    kept = normalized(verdict)
    assert parse_verdicts(format_verdicts("dev", [kept]), PATH) == (kept,)


def test_numbers_that_are_not_finite_are_unknown() -> None:
    odd = replace(PASSED, error_ratio=math.nan, latency_p95=math.inf, reason=" a \n b ")
    assert normalized(odd) == replace(PASSED, error_ratio=None, latency_p95=None, reason="a b")
    assert "error_ratio: null" in format_verdicts("dev", [odd])


@pytest.mark.parametrize(
    ("odd", "error"),
    [
        (replace(PASSED, started="yesterday"), "Invalid isoformat string: 'yesterday'"),
        (replace(PASSED, finished=""), "Invalid isoformat string: ''"),
        (replace(PASSED, requests=-1), "requests is -1"),
        (replace(PASSED, outcome="great"), "'great' is not a valid Outcome"),
    ],
)
def test_a_verdict_that_cannot_be_recorded_is_a_value_error(odd, error) -> None:
    with pytest.raises(ValueError, match=error):
        normalized(odd)


@pytest.mark.parametrize(
    ("text", "time"),
    [
        ("2026-01-02T03:04:05Z", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2026-01-02T04:04:05+01:00", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2026-01-02T03:04:05", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ],
)
def test_times_are_iso_8601_in_utc(text, time) -> None:
    assert parse_time(text) == time


def test_empty_files_and_comments_record_nothing() -> None:
    assert parse_verdicts("", PATH) == ()
    assert parse_verdicts("# nothing yet\n", PATH) == ()
    assert parse_verdicts("verdicts:\n", PATH) == ()
    assert parse_verdicts("verdicts: []\r\n", PATH) == ()


def test_json_and_crlf_are_read_too() -> None:
    entry = (
        '{"tag": "abc1234", "outcome": "passed", "requests": 3, "started": "2026-01-02T03:00:00Z",'
        ' "finished": "2026-01-02T03:05:00Z"}'
    )
    found = parse_verdicts('{"verdicts": [' + entry + "]}", PATH)
    assert (found[0].tag, found[0].digest, found[0].error_ratio, found[0].reason) == (
        "abc1234", None, None, "",
    )  # fmt: skip
    crlf = format_verdicts("dev", [PASSED]).replace("\n", "\r\n")
    assert parse_verdicts(crlf, PATH) == (PASSED,)


ENTRY = 'tag: "abc1234"\n    outcome: passed\n    requests: 3\n    started: "2026-01-02T03:00:00Z"\n    finished: "2026-01-02T03:05:00Z"'  # noqa: E501


def entry(extra: str = "", drop: str = "") -> str:
    lines = [line for line in ENTRY.split("\n    ") if not line.startswith(drop or "\0")]
    return "verdicts:\n  - " + "\n    ".join(lines + ([extra] if extra else [])) + "\n"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("verdicts: [", "not valid YAML"),
        ("- a\n", "expected a mapping with one key, 'verdicts'"),
        ("verdicts: []\nother: 1\n", "expected a mapping with one key, 'verdicts'"),
        ("verdicts: {}\n", "'verdicts' must be a list"),
        ("verdicts: x\n", "'verdicts' must be a list"),
        ("verdicts:\n  - x\n", "verdicts[0]: expected a mapping with tag, outcome"),
        (entry("tga: x"), "verdicts[0]: unknown key 'tga'"),
        (entry(drop="tag"), "verdicts[0]: 'tag' is missing"),
        (entry(drop="requests"), "verdicts[0]: 'requests' is missing"),
        (entry().replace('"abc1234"', '""'), "verdicts[0]: 'tag' is missing"),
        (entry().replace('"abc1234"', '"-bad"'), "verdicts[0]: 'tag' must be an image tag"),
        (entry().replace('"abc1234"', "[1]"), "verdicts[0]: 'tag' must be an image tag"),
        (entry("digest: sha256:12"), "'digest' must be sha256: and 64 hex digits"),
        (entry("digest: 12"), "'digest' must be sha256: and 64 hex digits"),
        (entry().replace("passed", "great"), "'outcome' must be one of passed, failed, incon"),
        (entry().replace("passed", "[1]"), "'outcome' must be one of passed, failed, incon"),
        (entry().replace("requests: 3", "requests: -3"), "'requests' must be a whole number"),
        (entry().replace("requests: 3", "requests: 2.5"), "'requests' must be a whole number"),
        (entry().replace("requests: 3", "requests: true"), "'requests' must be a whole number"),
        (entry("error_ratio: high"), "'error_ratio' must be a number or null"),
        (entry("error_ratio: true"), "'error_ratio' must be a number or null"),
        (entry("latency_p95: .nan"), "'latency_p95' must be a number or null"),
        (entry("reason: [1]"), "'reason' must be a string"),
        (entry().replace('"2026-01-02T03:00:00Z"', "soon"), "'started' must be an ISO 8601 time"),
        (entry().replace('"2026-01-02T03:00:00Z"', "1"), "'started' must be a string"),
        (entry("tag: again"), "not valid YAML (while constructing a mapping"),
    ],
)
def test_an_odd_file_is_one_error_naming_the_file_and_entry(text, error) -> None:
    with pytest.raises(ValuesError) as raised:
        parse_verdicts(text, PATH)
    assert str(raised.value).startswith(f"{PATH}: ")
    assert error in str(raised.value)


def test_one_verdict_per_build_newest_first_bounded() -> None:
    builds = [replace(PASSED, tag=f"b{n}", digest=None, finished=at(n)) for n in range(30)]
    recorded: tuple[Verdict, ...] = ()
    for verdict in builds:
        recorded = with_verdict(recorded, verdict)
    assert [v.tag for v in recorded] == [f"b{n}" for n in range(29, 29 - MAX_VERDICTS, -1)]
    again = with_verdict(recorded, replace(builds[25], outcome=Outcome.FAILED, finished=at(40)))
    assert [v.tag for v in again][:2] == ["b25", "b29"]
    assert len(again) == MAX_VERDICTS
    assert latest(again, "b25", None).outcome == Outcome.FAILED  # type: ignore[union-attr]


def test_a_verdict_is_kept_by_digest_else_by_tag() -> None:
    recorded = (PASSED, replace(PASSED, tag="other", digest=None))
    assert latest(recorded, "renamed", DIGEST) == PASSED  # the same build under another tag
    assert latest(recorded, "abc1234", None) is None  # the tag alone is another key
    assert latest(recorded, "other", None) == recorded[1]
    assert latest(recorded, "other", "sha256:" + "2" * 64) is None


def test_the_numbers_and_the_description() -> None:
    assert numbers(PASSED) == "812 requests, error ratio 0.0012, p95 0.12s"
    assert numbers(replace(PASSED, requests=1, error_ratio=None, latency_p95=None)) == "1 request"
    assert describe(FAILED) == (
        "failed verification of abc1234 in dev: error ratio above 0.01 (812 requests, error"
        " ratio 0.23, p95 0.12s)"
    )
    assert describe(PASSED).startswith("passed verification of abc1234 in dev (812 requests")


def test_argo_cd_ignores_the_record_files(tmp_path) -> None:
    """The Applications (the ApplicationSet's git files generator, their value files) and every
    environment's render are the same with a verdicts file in each environment's folder and a
    gitops/rejected.yaml holding what would be values; neither names an environment."""
    envs = ("dev", "prod")
    root = tmp_path / "repo"
    root.mkdir()
    copy_deploy_layout(root, envs)
    for env in envs:
        (root / "gitops" / env).mkdir(parents=True, exist_ok=True)
        shutil.copy(chart.REPO_ROOT / "gitops" / env / "values.yaml", root / "gitops" / env)
    before = {env: chart.render_env(env, root) for env in envs}
    apps_before = chart.applications(root)
    evil = "image: {tag: evil, repository: evil.example/x}\nreplicaCount: 99\n"
    for env in envs:
        (root / verdicts_path(env)).write_text(format_verdicts(env, [PASSED]) + evil)
    (root / REJECTED_FILE).write_text(format_rejections([]) + evil)
    assert chart.applications(root) == apps_before
    assert {env: chart.render_env(env, root) for env in envs} == before
    paths = [p.relative_to(root).as_posix() for p in (root / "gitops").rglob("*.yaml")]
    assert environments_from_paths(paths) == ["dev", "prod"]
