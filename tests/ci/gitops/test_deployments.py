"""``ci.gitops.deployments``: each watched change reported as a GitLab deployment, its status
the verdict, through the GitLab API stand-in."""

from pathlib import Path

import pytest

from ci.errors import CiError
from ci.gitops.deployments import start, status_of
from ci.gitops.verdicts import Outcome
from tests.support.gitlab_api import PROJECT_ID, running_gitlab

SHA = "a91957a858320c0e17f3a0eca7cfacbff50ea29a"


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        (Outcome.PASSED, "success"),
        (Outcome.INCONCLUSIVE, "success"),  # it runs healthy; too quiet to judge
        (Outcome.FAILED, "failed"),
        (None, "canceled"),  # superseded: not a failure
    ],
)
def test_the_verdict_is_the_status(outcome: Outcome | None, status: str) -> None:
    assert status_of(outcome) == status


def environ(api, token: str) -> dict[str, str]:
    return {"CI_SERVER_URL": api.base_url, "CI_PROJECT_ID": str(PROJECT_ID), "GITOPS_TOKEN": token}


def test_a_deployment_runs_while_verified_then_takes_the_verdict(tmp_path: Path) -> None:
    token = f"glpat-deploy-{tmp_path.name}"
    with running_gitlab(tmp_path, token) as api:
        deployment = start("dev", SHA, "main", environ(api, token))
        assert deployment is not None
        [created] = api.deployments
        assert (created["environment"]["name"], created["sha"], created["ref"]) == (
            "dev",
            SHA,
            "main",
        )
        assert created["status"] == "running"
        line = deployment.finish(Outcome.FAILED)
        assert line == f"GitLab deployment {created['id']} of dev: failed"
        assert api.deployments[0]["status"] == "failed"


def test_a_retried_job_reports_the_same_deployment(tmp_path: Path) -> None:
    token = f"glpat-retry-{tmp_path.name}"
    with running_gitlab(tmp_path, token) as api:
        first = start("prod", SHA, "main", environ(api, token))
        again = start("prod", SHA, "main", environ(api, token))
        other = start("dev", SHA, "main", environ(api, token))
        ids = [item.id if item else None for item in (first, again, other)]
        assert ids[0] == ids[1] != ids[2]
        assert again is not None
        again.finish(None)
        assert [item["status"] for item in api.deployments] == ["canceled", "running"]


def test_a_job_that_is_the_environments_deployment_reports_nothing(tmp_path: Path) -> None:
    """verify-dev declares ``environment: dev``: GitLab takes the deployment's status from the job,
    so an API deployment would count it twice. Another environment's job, or one that only
    prepares or verifies, still reports."""
    token = f"glpat-job-{tmp_path.name}"
    with running_gitlab(tmp_path, token) as api:
        job = {"CI_ENVIRONMENT_NAME": "dev", **environ(api, token)}
        assert start("dev", SHA, "main", job) is None
        assert start("dev", SHA, "main", {**job, "CI_ENVIRONMENT_ACTION": "start"}) is None
        assert api.deployments == []
        for other in ({"CI_ENVIRONMENT_ACTION": "verify"}, {"CI_ENVIRONMENT_NAME": "prod"}):
            assert start("dev", SHA, "main", {**job, **other}) is not None
        assert [item["environment"]["name"] for item in api.deployments] == ["dev"]


def test_outside_gitlab_nothing_is_reported() -> None:
    assert start("dev", SHA, "main", {}) is None
    assert start("dev", SHA, "main", {"GITOPS_TOKEN": "t", "CI_PROJECT_ID": "1"}) is None


def test_a_refused_token_is_one_line_without_the_token(tmp_path: Path) -> None:
    with running_gitlab(tmp_path, "right") as api:
        with pytest.raises(CiError, match="refused GITOPS_TOKEN") as raised:
            start("dev", SHA, "main", environ(api, "wrong-secret-token"))
        assert "wrong-secret-token" not in str(raised.value)
        assert api.deployments == []
