"""The reject planner, table-driven and in memory: a build added to gitops/rejected.yaml, newest
first; a build rejected already (its tag, or its digest under any tag) is left alone (two
operators rejecting at once: the second finds the first's); the environments running it are
named; an unreadable file is refused (reject and unreject alike)."""

import pytest

from ci.gitops.plans import registry
from ci.gitops.plans.action import Action, Status
from ci.gitops.rejections import REJECTED_FILE, Rejection, format_rejections, parse_rejections
from ci.gitops.values import ValuesError
from ci.project import service_name
from tests.ci.gitops.plans.fake import (
    DIGEST,
    NOW,
    OTHER_DIGEST,
    A,
    B,
    C,
    branch,
    envs,
    request,
    state,
)

EARLIER = Rejection(C, None, "broken by hand", "ann", "2026-01-01T00:00:00Z")
PINNED = Rejection(B, DIGEST, "failed verification", "vera", "2026-01-01T12:00:00Z")
HINT = "`python -m ci unreject --tag {tag} --reason TEXT` allows it again"


def repo(*rejected: Rejection, **extra):
    files = {**envs(dev=A, prod=A), **extra}
    if rejected:
        files[REJECTED_FILE] = format_rejections(rejected)
    return branch(files)


def reject(branch_, tag, digest=None, reason="bad build", by="bob"):
    ask = request(Action.REJECT, env="", tag=tag, digest=digest, reason=reason, by=by)
    return registry.plan(state(branch_), ask)


REJECTS = [
    # (rejected before, tag, digest, the rejections after (None: nothing to do))
    ((), B, None, [Rejection(B, None, "bad build", "bob", NOW)]),
    ((), B, DIGEST, [Rejection(B, DIGEST, "bad build", "bob", NOW)]),
    ((EARLIER,), B, None, [Rejection(B, None, "bad build", "bob", NOW), EARLIER]),
    ((PINNED,), B, None, None),  # the tag is rejected already, whatever its digest
    ((PINNED,), B, OTHER_DIGEST, None),
    ((PINNED,), "renamed", DIGEST, None),  # the same build under another tag
    ((EARLIER,), C, DIGEST, None),
]


@pytest.mark.parametrize(("before", "tag", "digest", "after"), REJECTS)
def test_reject(before, tag, digest, after) -> None:
    plan = reject(repo(*before), tag, digest)
    if after is None:
        found = next(item for item in before if item.rejects(tag, digest))
        assert (plan.status, plan.line) == (Status.UNCHANGED, f"{found.describe()}: nothing to do")
        return
    assert parse_rejections(plan.files[REJECTED_FILE]) == tuple(after)
    assert plan.before == {REJECTED_FILE: format_rejections(before) if before else None}
    build = f"{tag}@{digest}" if digest else tag
    assert plan.message == (
        f"reject: {service_name()} {tag} [skip ci]\n\nRejected by bob: bad build. deploy, promote"
        f" and check refuse {build} in every environment; {HINT.format(tag=tag)}.\n"
    )
    assert (plan.render, plan.warning) == ((), "")


def test_the_environments_running_it_are_named() -> None:
    plan = reject(repo(**envs(dev=B, prod=B, qa=C)), B)
    rollbacks = "`python -m ci rollback --env dev`; `python -m ci rollback --env prod`"
    assert plan.warning == f"warning: dev, prod run it now: {rollbacks}"
    one = reject(repo(**envs(dev=A, prod=B), **{"gitops/qa/values.yaml": "image: ["}), B)
    assert one.warning == "warning: prod runs it now: `python -m ci rollback --env prod`"


def test_two_operators_at_once_the_second_finds_the_first() -> None:
    first = reject(repo(), B, reason="first", by="ann")
    after = branch({**envs(dev=A, prod=A), REJECTED_FILE: first.files[REJECTED_FILE]})
    second = reject(after, B, reason="second", by="bob")
    assert (second.status, second.line) == (
        Status.UNCHANGED,
        f"{B} is rejected by ann since {NOW}: first: nothing to do",
    )


@pytest.mark.parametrize("action", [Action.REJECT, Action.UNREJECT])
@pytest.mark.parametrize("odd", ["rejected: [", b"\xff", '{"rejected": [{"tag": ""}]}'])
def test_an_unreadable_file_is_refused(action, odd) -> None:
    with pytest.raises(ValuesError, match=rf"^{REJECTED_FILE}"):
        registry.plan(state(repo(**{REJECTED_FILE: odd})), request(action, env="", tag=B))
