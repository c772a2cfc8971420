"""The record planner, table-driven and in memory: the verdict written (once, newest first),
a failed build rejected and rolled back when the environment still runs it, in one commit; a
verdict that comes after a newer deploy rolls back nothing it does not own; odd files."""

from dataclasses import replace

import pytest

from ci.errors import UsageError
from ci.gitlab import GitLabContext
from ci.gitops.holds import parse_hold
from ci.gitops.message import parse_trailers
from ci.gitops.plans import registry
from ci.gitops.plans.action import Action, Status
from ci.gitops.rejections import REJECTED_FILE, Rejection, format_rejections, parse_rejections
from ci.gitops.values import read_image
from ci.gitops.verdicts import Outcome, Verdict, format_verdicts, parse_verdicts
from tests.ci.gitops.plans.fake import (
    DIGEST,
    NOW,
    OTHER_DIGEST,
    PIPELINE,
    A,
    B,
    C,
    branch,
    held,
    request,
    state,
    values,
)

DEV, PROD = "gitops/dev/values.yaml", "gitops/prod/values.yaml"
VERDICTS, HOLD = "gitops/dev/verdicts.yaml", "gitops/dev/hold.yaml"
FAILED = Verdict(
    "dev", B, DIGEST, Outcome.FAILED, 812, 0.23, 0.41, "2026-01-02T03:00:00Z",
    "2026-01-02T03:04:00Z", "error ratio 0.23 above 0.01",
)  # fmt: skip
PASSED = replace(FAILED, outcome=Outcome.PASSED, error_ratio=0.0, reason="")
QUIET = replace(FAILED, outcome=Outcome.INCONCLUSIVE, requests=3, reason="3 requests, 50 needed")
WHY = (
    f"failed verification of {B} in dev: error ratio 0.23 above 0.01 (812 requests, error ratio"
    " 0.23, p95 0.41s)"
)


def deployed(*tags: str, digest: str | None = DIGEST, extra=None):
    """dev took each tag in turn (the last pinned with ``digest``); prod runs A."""
    steps = [{DEV: values(tag), PROD: values(A)} for tag in tags[:-1]]
    steps.append({DEV: values(tags[-1], digest=digest), PROD: values(A), **(extra or {})})
    return branch(*steps)


def record(repo, verdict=FAILED, context=None, **fields):
    ask = request(Action.RECORD, tag=verdict.tag, digest=verdict.digest, verdict=verdict, **fields)
    return registry.plan(state(repo, context), ask)


CASES = [
    # (name, verdict, rollback, dev's history, its digest, files written, dev's tag after)
    ("passed", PASSED, True, (A, B), DIGEST, [VERDICTS], None),
    ("inconclusive", QUIET, True, (A, B), DIGEST, [VERDICTS], None),
    ("failed, rolled back", FAILED, True, (A, B), DIGEST, [DEV, HOLD, VERDICTS, REJECTED_FILE], A),
    ("failed, unpinned live", FAILED, True, (A, B), None, [DEV, HOLD, VERDICTS, REJECTED_FILE], A),
    ("failed, --no-rollback", FAILED, False, (A, B), DIGEST, [VERDICTS, REJECTED_FILE], None),
    ("failed, newer deploy", FAILED, True, (A, B, C), DIGEST, [VERDICTS, REJECTED_FILE], None),
    ("failed, tag rebuilt", FAILED, True, (A, B), OTHER_DIGEST, [VERDICTS, REJECTED_FILE], None),
    ("failed, nothing earlier", FAILED, True, (B,), DIGEST, [VERDICTS, REJECTED_FILE], None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "verdict", "rollback", "history", "digest", "paths", "after"),
    CASES,
    ids=[case[0] for case in CASES],
)
def test_what_a_verdict_changes(name, verdict, rollback, history, digest, paths, after) -> None:
    plan = record(deployed(*history, digest=digest), verdict, rollback=rollback)
    assert plan.commits
    assert sorted(plan.files) == sorted(paths)
    assert parse_verdicts(plan.files[VERDICTS] or "", VERDICTS) == (verdict,)
    if after is None:
        assert plan.render == ()
        subject = f"record(dev): shop {B} {verdict.outcome} [skip ci]"
        assert plan.message.splitlines()[0] == subject
    else:
        assert read_image(plan.files[DEV] or "").tag == after
        assert plan.render == ("dev",)
    if REJECTED_FILE in paths:
        rejection = Rejection(B, DIGEST, WHY, "python -m ci verify", NOW)
        assert parse_rejections(plan.files[REJECTED_FILE]) == (rejection,)


def test_a_failed_build_still_running_is_rolled_back_held_and_rejected_in_one_commit() -> None:
    plan = record(deployed(A, B), rollback=True, context=GitLabContext(pipeline_url=PIPELINE))
    hold = parse_hold(plan.files[HOLD] or "", HOLD)
    assert (hold.by, hold.reason, hold.rolled_back_from) == (f"verify in {PIPELINE}", WHY, B)
    assert plan.message.splitlines()[0] == f"rollback(dev): shop {A} (was {B}) [skip ci]"
    body = plan.message.split("\n\n")[1].splitlines()
    assert body == [
        f"Set image.tag in {DEV} from {B} to {A}.",
        f"Holds dev ({WHY}): deploy and promote refuse it until `python -m ci unhold --env dev`.",
        f"Recorded the {WHY}.",
        f"Rejected {B}@{DIGEST}: deploy, promote and check refuse it in every environment;"
        f" `python -m ci unreject --tag {B} --reason TEXT` allows it again.",
    ]
    assert parse_trailers(plan.message)["Rolled-Back-From"] == B
    assert plan.before == {DEV: values(B, digest=DIGEST), HOLD: None, VERDICTS: None,
                           REJECTED_FILE: None}  # fmt: skip


@pytest.mark.parametrize(
    ("history", "note"),
    [
        ((A, B, C), f"dev runs {C} now, not {B}: nothing rolled back."),
        (
            (B,),
            f"Not rolled back: no earlier build to roll back to in the history of {DEV} (builds"
            " rolled back from are skipped): nothing pushed.",
        ),
    ],
)
def test_what_is_not_rolled_back_is_said(history, note) -> None:
    plan = record(deployed(*history), rollback=True, by="vera")
    assert note in plan.message.splitlines()
    assert parse_rejections(plan.files[REJECTED_FILE])[0].by == "vera"


def test_a_passed_verdict_carries_the_trailer_check_asks_of_a_merge_request() -> None:
    plan = record(deployed(A, B), PASSED)
    assert parse_trailers(plan.message)["Promotion-Override"] == (
        f"passed verification of {B} in dev (812 requests, error ratio 0, p95 0.41s), recorded"
        " by python -m ci verify"
    )
    assert "Promotion-Override" not in parse_trailers(record(deployed(A, B), QUIET).message)


def settled(verdicts, **extra) -> tuple:
    repo = deployed(A, B, extra={VERDICTS: format_verdicts("dev", verdicts), **extra})
    plan = record(repo, rollback=True)
    return plan.status, plan.line


def test_the_same_verdict_twice_changes_nothing_even_after_an_unreject() -> None:
    line = f"this verdict on {B} in dev is recorded already: nothing to do"
    assert settled([FAILED]) == (Status.UNCHANGED, line)
    assert settled([FAILED], **{REJECTED_FILE: format_rejections([])}) == (Status.UNCHANGED, line)


def test_an_older_verdict_of_a_build_changes_nothing() -> None:
    newer = replace(PASSED, finished="2026-01-02T03:10:00Z")
    assert settled([newer]) == (
        Status.UNCHANGED,
        f"a newer verdict on {B} in dev is recorded (passed, finished 2026-01-02T03:10:00Z):"
        " nothing to do",
    )


def test_a_newer_verdict_of_a_build_replaces_its_older_one() -> None:
    older = replace(PASSED, finished="2026-01-02T03:01:00Z")
    other = replace(PASSED, tag=A, digest=None, finished="2026-01-02T02:00:00Z")
    repo = deployed(A, B, extra={VERDICTS: format_verdicts("dev", [older, other])})
    plan = record(repo)
    assert parse_verdicts(plan.files[VERDICTS] or "", VERDICTS) == (FAILED, other)


def test_an_already_rejected_build_is_not_rejected_twice() -> None:
    earlier = Rejection(B, None, "by hand", "ann", "2026-01-01T00:00:00Z")
    repo = deployed(A, B, extra={REJECTED_FILE: format_rejections([earlier])})
    plan = record(repo, rollback=False)
    assert list(plan.files) == [VERDICTS]
    assert "Rejected" not in plan.message


@pytest.mark.parametrize("odd", ["verdicts: [", b"\xff\xfe", "- 1\n"])
def test_an_unreadable_verdicts_file_is_replaced_with_a_warning(odd) -> None:
    plan = record(deployed(A, B, extra={VERDICTS: odd}), PASSED)
    assert parse_verdicts(plan.files[VERDICTS] or "", VERDICTS) == (PASSED,)
    assert plan.warning.startswith(f"warning: {VERDICTS}")
    assert plan.warning.endswith(": replacing it")


@pytest.mark.parametrize("odd", ["rejected: [", b"\xff", "rejected: 1\n"])
def test_an_unreadable_rejected_file_still_rolls_back_and_warns(odd) -> None:
    plan = record(deployed(A, B, extra={REJECTED_FILE: odd}), rollback=True)
    assert sorted(plan.files) == sorted([DEV, HOLD, VERDICTS])
    assert plan.warning.startswith(f"warning: {REJECTED_FILE}")
    assert plan.warning.endswith(f": {B} is not rejected; fix the file, then reject it")


def test_a_held_environment_is_rolled_back_all_the_same() -> None:
    plan = record(deployed(A, B, extra=held("dev", "earlier")), rollback=True)
    assert read_image(plan.files[DEV] or "").tag == A


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"verdict": None, "tag": B}, "record needs a verdict"),
        ({"verdict": FAILED, "tag": C}, f"the verdict is about {B} in dev, not {C} in dev"),
        ({"verdict": FAILED, "env": "prod"}, f"the verdict is about {B} in dev, not {B} in prod"),
        (
            {"verdict": replace(FAILED, started="soon")},
            "the verdict cannot be recorded: Invalid isoformat string: 'soon'",
        ),
    ],
)
def test_a_request_that_does_not_fit_its_verdict_is_bad_input(fields, error) -> None:
    ask = {"env": "dev", "tag": None, **fields}
    with pytest.raises(UsageError) as raised:
        registry.plan(state(deployed(A, B)), request(Action.RECORD, **ask))
    assert str(raised.value) == error
