"""What every planner shares (``ci.gitops.plans.model``): the known environments named in a
readable list, however many there are."""

import pytest

from ci.errors import UsageError
from ci.gitops.plans import registry
from ci.gitops.plans.action import Action
from tests.ci.gitops.plans.fake import A, B, branch, envs, request, state


def test_a_long_list_of_environments_is_cut_short() -> None:
    many = envs(**{f"env{n:02}": A for n in range(12)})
    with pytest.raises(UsageError) as raised:
        registry.plan(state(branch(many)), request(Action.DEPLOY, env="qa", tag=B))
    shown = ", ".join(f"env{n:02}" for n in range(10))
    assert str(raised.value) == f"unknown environment 'qa' for --env (known: {shown} and 2 more)"


def test_a_branch_without_environments_says_none() -> None:
    with pytest.raises(UsageError) as raised:
        registry.plan(state(branch({"README.md": "x"})), request(Action.DEPLOY, tag=B))
    assert str(raised.value) == "unknown environment 'dev' for --env (known: none)"
