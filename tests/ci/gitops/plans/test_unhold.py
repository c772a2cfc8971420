"""The unhold planner, table-driven and in memory: the hold file deleted whatever it holds (an
unreadable one with a warning), the note and the release trailer."""

import pytest

from ci.gitlab import GitLabContext
from ci.gitops.message import parse_trailers
from ci.gitops.plans import registry
from ci.gitops.plans.action import Action, Status
from ci.gitops.promotion import OVERRIDE_TRAILER
from tests.ci.gitops.plans.fake import A, branch, envs, held, request, state

HOLD = "gitops/dev/hold.yaml"

CONTEXT = GitLabContext(user_login="carol", user_email="carol@x")
RELEASES = [
    # (request by, reason, context, expected trailer)
    ("bob", None, GitLabContext(), "unhold by bob: released"),
    ("bob", "  fixed\n now ", GitLabContext(), "unhold by bob: fixed now"),
    ("unknown", None, CONTEXT, "unhold by carol <carol@x>: released"),
    ("unknown", None, GitLabContext(user_login="carol"), "unhold by carol: released"),
    ("unknown", None, GitLabContext(), "unhold by unknown: released"),
]


@pytest.mark.parametrize(("by", "reason", "context", "trailer"), RELEASES)
def test_unhold_says_who_released(by, reason, context, trailer) -> None:
    repo = branch({**envs(dev=A), **held("dev", "incident")})
    plan = registry.plan(state(repo, context), request(Action.UNHOLD, by=by, reason=reason))
    assert parse_trailers(plan.message)[OVERRIDE_TRAILER] == trailer
    assert plan.files == {HOLD: None}
    assert plan.message.startswith(
        "unhold(dev): released [skip ci]\n\n"
        "Was held by ann since 2026-01-01T00:00:00Z: incident.\n\n"
    )
    assert plan.warning == ""


UNREADABLE = [
    ("by: [", "gitops/dev/hold.yaml: not valid YAML"),
    ("just text\n", "gitops/dev/hold.yaml: expected a mapping"),
    (b"\xff\xfe", "gitops/dev/hold.yaml: not UTF-8"),
]


@pytest.mark.parametrize(("text", "error"), UNREADABLE)
def test_unhold_deletes_an_unreadable_hold_too(text, error) -> None:
    repo = branch({**envs(dev=A), HOLD: text})
    plan = registry.plan(state(repo), request(Action.UNHOLD))
    assert plan.files == {HOLD: None}
    assert plan.warning.startswith(f"warning: the hold is unreadable ({error}")
    assert plan.warning.endswith("): deleting it anyway")
    assert f"The hold was unreadable ({error}" in plan.message
    expected = text if isinstance(text, str) else text.decode("utf-8", errors="replace")
    assert plan.before == {HOLD: expected}


@pytest.mark.parametrize("others", [{}, held("prod")])
def test_unhold_of_a_free_environment_is_nothing_to_do(others) -> None:
    plan = registry.plan(state(branch({**envs(dev=A, prod=A), **others})), request(Action.UNHOLD))
    assert (plan.status, plan.line) == (Status.UNCHANGED, "dev is not held: nothing to do")
