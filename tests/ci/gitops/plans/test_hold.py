"""The hold planner, table-driven and in memory: the hold file written or replaced, the note."""

import pytest

from ci.gitops.holds import parse_hold
from ci.gitops.plans import registry
from ci.gitops.plans.action import Action, Status
from ci.gitops.values import ValuesError
from tests.ci.gitops.plans.fake import NOW, A, branch, envs, held, request, state

HOLD = "gitops/dev/hold.yaml"

HOLDS = [
    # (hold files before, reason, expected status, expected note or line)
    ({}, "incident 7", None, "Held by bob."),
    (
        held("dev", "old"),
        "incident 7",
        None,
        "Held by bob. Replaces the hold by ann since 2026-01-01T00:00:00Z: old.",
    ),
    (
        held("dev", "incident 7"),
        "incident 7",
        Status.UNCHANGED,
        "dev is held by ann since 2026-01-01T00:00:00Z: incident 7: nothing to do",
    ),
    (held("prod"), "x", None, "Held by bob."),
]


@pytest.mark.parametrize(("before", "reason", "status", "text"), HOLDS)
def test_hold(before, reason, status, text) -> None:
    repo = branch({**envs(dev=A, prod=A), **before})
    plan = registry.plan(state(repo), request(Action.HOLD, reason=reason, by="bob"))
    assert plan.status == status
    if status is not None:
        assert (plan.line, plan.files) == (text, {})
        return
    hold = parse_hold(plan.files[HOLD] or "", HOLD)
    assert (hold.env, hold.by, hold.since, hold.reason) == ("dev", "bob", NOW, reason)
    assert plan.before == {HOLD: before.get(HOLD)}
    assert plan.message == f"hold(dev): {reason} [skip ci]\n\n{text}\n"
    assert plan.render == ()


@pytest.mark.parametrize("text", ["by: [", "just text\n", "by: a\n", b"\xff\xfe"])
def test_hold_over_an_unreadable_hold_is_refused(text) -> None:
    repo = branch({**envs(dev=A), HOLD: text})
    with pytest.raises(ValuesError, match=r"^gitops/dev/hold.yaml: "):
        registry.plan(state(repo), request(Action.HOLD, reason="x"))
