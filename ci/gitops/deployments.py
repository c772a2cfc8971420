"""Every deployment as a deployment of its GitLab environment, with the verdict as its status.

A write-back by push or by merge request changes what an environment runs without GitLab
knowing when it ran, or how it went. ``verify`` reports each change it watches through the
deployments API: ``running`` while it watches, then ``success`` (passed, or inconclusive: it runs
healthy, too quiet to judge), ``failed`` (the build broke its SLO and was rolled back) or
``canceled`` (superseded: a newer change reached the environment first). So the environments page
and DORA's deployment frequency count what ran. A job that is itself the environment's deployment
(``environment: ENV``, the pipeline's verify-dev) reports nothing: GitLab takes its status from
the job (cancelled by a newer pipeline: canceled), with no token needed; the deploy job before
it declares ``action: prepare``, which creates no deployment of its own.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ci.gitops.gitlab_api import GitLabProject, GitLabSettings
from ci.gitops.verdicts import Outcome

STATUS = {
    Outcome.PASSED: "success",
    Outcome.INCONCLUSIVE: "success",
    Outcome.FAILED: "failed",
}
SUPERSEDED = "canceled"


def status_of(outcome: Outcome | None) -> str:
    """The deployment status of a verdict; None: superseded before one was reached."""
    return SUPERSEDED if outcome is None else STATUS[outcome]


@dataclass
class Deployment:
    """One running deployment of the project's environment (``finish`` sets its status)."""

    api: GitLabProject
    id: int
    env: str

    def finish(self, outcome: Outcome | None) -> str:
        status = status_of(outcome)
        self.api.finish_deployment(self.id, status)
        return f"GitLab deployment {self.id} of {self.env}: {status}"


def job_is_the_deployment(env: str, environ: Mapping[str, str]) -> bool:
    """A GitLab job declaring ``environment: ENV`` with the (default) ``start`` action."""
    return environ.get("CI_ENVIRONMENT_NAME") == env and environ.get(
        "CI_ENVIRONMENT_ACTION", "start"
    ) in ("", "start")


def start(env: str, sha: str, ref: str, environ: Mapping[str, str] = os.environ):
    """The running deployment of ``sha`` (the gitops commit) to ``env``, a retried job's when
    there is one; None outside GitLab (no ``GITOPS_TOKEN`` or project) and in a job that is
    ``env``'s deployment itself."""
    if job_is_the_deployment(env, environ):
        return None
    url = environ.get("CI_SERVER_URL") or environ.get("GITLAB_URL")
    project = environ.get("CI_PROJECT_ID") or environ.get("CI_PROJECT_PATH")
    if not (url and project and environ.get("GITOPS_TOKEN")):
        return None
    api = GitLabProject(GitLabSettings.from_environ(environ, "reporting the deployment"))
    found = api.running_deployment(env, sha)
    return Deployment(api, found if found is not None else api.start_deployment(env, sha, ref), env)
