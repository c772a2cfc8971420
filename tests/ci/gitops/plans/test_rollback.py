"""The rollback planner, table-driven and in memory: which build a rollback goes back to (or why
not) for histories of the values file, retries after races and of the same job, the hold it sets."""

import pytest

from ci.errors import CiError, UsageError
from ci.gitlab import GitLabContext
from ci.gitops.holds import parse_hold
from ci.gitops.message import parse_trailers
from ci.gitops.plans import registry
from ci.gitops.plans.action import Action, Status
from ci.gitops.values import read_image
from tests.ci.gitops.plans.fake import (
    DIGEST,
    NOW,
    PIPELINE,
    A,
    B,
    C,
    D,
    FakeBranch,
    branch,
    held,
    request,
    state,
    values,
)

DEV, HOLD = "gitops/dev/values.yaml", "gitops/dev/hold.yaml"
REJECTED = "gitops/rejected.yaml"
JOB = GitLabContext(job_name="rollback-dev", pipeline_url=PIPELINE)
THIS_JOB = f"Rollback-Job: rollback-dev in {PIPELINE}"


def back(was: str, to: str, trailers: str = "") -> str:
    """A rollback commit's message (``trailers`` None: the old form, the subject only)."""
    subject = f"rollback(dev): shop {to} (was {was}) [skip ci]"
    return f"{subject}\n\nbody\n\nRolled-Back-From: {was}\n{trailers}".strip() + "\n"


def deployed(*history: str | tuple[str, str]):
    """A branch whose dev values file took each tag in turn (a tuple: (tag, commit message))."""
    steps = [entry if isinstance(entry, tuple) else (entry, f"deploy {entry}") for entry in history]
    return branch(*({DEV: values(tag)} for tag, _ in steps), messages=tuple(m for _, m in steps))


LIVE = (Status.UNCHANGED, f"dev already runs shop {C}: nothing to do")
NEVER = UsageError(
    f"{D} never ran in dev (not in the history of {DEV}): --to takes a tag this environment ran"
    " before; nothing pushed"
)
NONE_LEFT = CiError(
    f"no earlier build to roll back to in the history of {DEV} (builds rolled back from are"
    " skipped): nothing pushed"
)
MEANWHILE = (Status.UNCHANGED, f"dev was rolled back from {C} meanwhile (now {B}): nothing to do")
OVERTAKEN = CiError(
    f"dev now runs {D}, not {C} which this rollback was from: nothing pushed (roll back again to"
    f" roll back {D})"
)
FROM_C = {"rollback_from": C}
WHERE = [
    # (name, history, request fields, context, expected: a tag, (status, line) or an error)
    ("one back", (A, B, C), {}, None, B),
    ("again walks back", (A, B, C, (B, back(C, B))), {}, None, A),
    ("old subject form", (A, B, C, (B, f"rollback(dev): shop {B} (was {C})")), {}, None, A),
    ("redeployed is eligible", (A, B, C, (B, back(C, B)), C), {}, None, B),
    ("skips a repeated tag", (A, B, B, C), {}, None, B),
    ("to a tag it ran", (A, B, C), {"tag": A}, None, A),
    ("to the newest run of it", (A, B, A, C), {"tag": A}, None, A),
    ("to the live tag", (A, B, C), {"tag": C}, None, LIVE),
    ("to a tag never run", (A, B, C), {"tag": D}, None, NEVER),
    ("nothing earlier", (A,), {}, None, NONE_LEFT),
    ("only rolled-back builds", (A, B, (A, back(B, A))), {}, None, NONE_LEFT),
    ("retry, still live", (A, B, C), FROM_C, None, B),
    ("retry, rolled back since", (A, B, C, (B, back(C, B))), FROM_C, None, MEANWHILE),
    ("retry, overtaken", (A, B, C, D), FROM_C, None, OVERTAKEN),
    ("retry, gone before", (A, (A, back(C, A)), B, C, D), FROM_C, None, OVERTAKEN),
    ("this job did it", (A, B, C, (B, back(C, B, THIS_JOB))), {}, JOB, "done"),
    ("another job did it", (A, B, C, (B, back(C, B, "Rollback-Job: other"))), {}, JOB, A),
    ("this job, then a deploy", (A, B, C, (B, back(C, B, THIS_JOB)), D), {}, JOB, B),
    ("this job, --to", (A, B, C, (B, back(C, B, THIS_JOB))), {"tag": A}, JOB, A),
    ("no job outside a pipeline", (A, B, C, (B, back(C, B, THIS_JOB))), {}, None, A),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "history", "fields", "context", "want"), WHERE, ids=[row[0] for row in WHERE]
)
def test_where_a_rollback_goes(name, history, fields, context, want) -> None:
    repo = deployed(*history)
    ask = request(Action.ROLLBACK, by="bob", **fields)
    if isinstance(want, Exception):
        with pytest.raises(type(want)) as raised:
            registry.plan(state(repo, context), ask)
        assert str(raised.value) == str(want)
        return
    plan = registry.plan(state(repo, context), ask)
    if want == "done":
        line = (
            f"this job already rolled dev back from {C} to {B} ({repo.tip[:12]}): nothing to do"
            " (to go further back, roll back from a new pipeline or with --to)"
        )
        assert (plan.status, plan.line) == (Status.UNCHANGED, line)
    elif isinstance(want, tuple):
        assert (plan.status, plan.line) == want
    else:
        assert plan.commits
        assert read_image(plan.files[DEV] or "").tag == want


@pytest.mark.parametrize("context", [GitLabContext(), JOB])
@pytest.mark.parametrize(("reason", "kept"), [(None, f"rollback from {C}"), ("bad", "bad")])
def test_the_commit_and_the_hold_it_sets(context, reason, kept) -> None:
    repo = deployed(A, B, C)
    plan = registry.plan(state(repo, context), request(Action.ROLLBACK, by="bob", reason=reason))
    assert list(plan.files) == [DEV, HOLD]
    hold = parse_hold(plan.files[HOLD] or "", HOLD)
    assert (hold.by, hold.since, hold.reason, hold.rolled_back_from) == ("bob", NOW, kept, C)
    assert plan.before == {DEV: values(C), HOLD: None}
    assert plan.message.splitlines()[0] == f"rollback(dev): shop {B} (was {C}) [skip ci]"
    assert plan.message.split("\n\n")[1] == (
        f"Set image.tag in {DEV} from {C} to {B}.\n"
        f"Holds dev ({kept}): deploy and promote refuse it until `python -m ci unhold --env dev`."
    )
    trailers = parse_trailers(plan.message)
    assert trailers["Rolled-Back-From"] == C
    assert trailers.get("Rollback-Job") == (
        f"rollback-dev in {PIPELINE}" if context.job_name else None
    )
    assert plan.change is not None
    assert plan.change.previous == C


def test_a_hold_does_not_stop_a_rollback_and_is_replaced() -> None:
    repo = branch({DEV: values(A)}, {DEV: values(B), **held("dev", "x")})
    plan = registry.plan(state(repo), request(Action.ROLLBACK))
    assert plan.before[HOLD] == held("dev", "x")[HOLD]
    assert "(forced)" not in plan.message


@pytest.mark.parametrize("digest", [None, DIGEST])
@pytest.mark.parametrize("url", [None, PIPELINE])
def test_the_build_comes_back_with_its_link_and_digest(digest, url) -> None:
    repo = branch({DEV: values(A, digest=digest, url=url)}, {DEV: values(B)})
    image = read_image(registry.plan(state(repo), request(Action.ROLLBACK)).files[DEV] or "")
    assert (image.tag, image.digest, image.pipeline_url) == (A, digest, url)


class Forgetful(FakeBranch):
    """A branch whose history of the values file tells nothing (as a broken log would)."""

    def history(self, tip: str, path: str):
        return iter(())


def test_no_history_is_no_earlier_build_even_in_a_job() -> None:
    repo = Forgetful(deployed(A, B).commits)
    with pytest.raises(CiError) as raised:
        registry.plan(state(repo, JOB), request(Action.ROLLBACK))
    assert str(raised.value) == str(NONE_LEFT).replace(D, B)


def test_a_retry_from_a_build_never_seen_is_overtaken() -> None:
    with pytest.raises(CiError) as raised:
        registry.plan(state(deployed(A, B, D)), request(Action.ROLLBACK, rollback_from=C))
    assert str(raised.value) == str(OVERTAKEN)


@pytest.mark.parametrize(
    ("rejected", "want"),
    [
        ("rejected:\n  - {tag: bbbbbbb, reason: r, by: b, since: s}\n", A),  # skipped
        (f"rejected:\n  - {{tag: x, digest: '{DIGEST}', reason: r, by: b, since: s}}\n", A),
        ("rejected: [", B),  # unreadable: never stops a rollback
    ],
)
def test_a_rejected_build_is_never_the_target(rejected, want) -> None:
    repo = branch(
        {DEV: values(A)}, {DEV: values(B, digest=DIGEST)}, {DEV: values(C), REJECTED: rejected}
    )
    plan = registry.plan(state(repo), request(Action.ROLLBACK))
    assert read_image(plan.files[DEV] or "").tag == want
    with_to = registry.plan(state(repo), request(Action.ROLLBACK, tag=B))
    assert read_image(with_to.files[DEV] or "").tag == B  # --to is the operator's choice
