"""``ci.gitops.plans.registry``: before any planner, the environment must be one of the branch's
(a folder ``gitops/<env>/`` holding ``values.yaml``)."""

import pytest

from ci.errors import UsageError
from ci.gitops.plans import registry
from ci.gitops.plans.action import Action
from tests.ci.gitops.plans.fake import A, B, branch, envs, request, state

ERRORS = [
    ("qa", UsageError, "unknown environment 'qa' for --env (known: dev, prod)"),
    ("", UsageError, "unknown environment '' for --env (known: dev, prod)"),
    ("gitops", UsageError, "unknown environment 'gitops' for --env (known: dev, prod)"),
]


@pytest.mark.parametrize(("env", "error", "line"), ERRORS)
def test_an_unknown_environment_is_refused(env, error, line) -> None:
    repo = branch({**envs(dev=A, prod=A), "gitops/qa/notes.md": "x"})
    with pytest.raises(error) as raised:
        registry.plan(state(repo), request(Action.DEPLOY, env=env, tag=B))
    assert str(raised.value) == line
