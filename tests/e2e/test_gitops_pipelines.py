"""Merge-request and gitops-only pipelines of this .gitlab-ci.yml, run by gitlab-ci-local.

A snapshot of this checkout becomes a repository whose ``origin`` is a bare remote; on its main,
dev ran two builds from a real registry and prod runs the first. A merge-request pipeline
(``CI_PIPELINE_SOURCE=merge_request_event`` and the MR variables GitLab sets) runs ``gitops-check``
on a branch promoting a tag dev never ran (the job fails, saying why) and on one promoting what
dev ran (the job passes, the image verified in the registry). Then that promotion is merged: the
default branch's pipeline for this gitops-only change has no build and no deploy, and runs.
"""

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app import SERVICE_NAME
from ci.gitops.values import set_image
from tests.ci.gitops.test_verify_image import PASSWORD, USER, push_image
from tests.e2e import gitlab_ci_local
from tests.e2e.gitlab_ci_local import PipelineRun
from tests.e2e.test_pipeline import DEFAULT_BRANCH, git, snapshot_checkout
from tests.support.registry import running_registry
from tests.support.tools import require_tools, tools_bin

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

NAME = SERVICE_NAME
RAN, ALSO_RAN, NEVER_RAN = "1111aaaa", "2222bbbb", "9999ffff"
TIMEOUT = 900.0
# The jobs of a gitops-only default-branch pipeline, as GitLab would create them (no ARGOCD_SERVER).
GITOPS_ONLY_DEFAULT = {
    "lint": "on_success",
    "chart-lint": "on_success",
    "ci-config": "on_success",
    "promote-prod": "manual",
    "rollback-dev": "manual",
    "rollback-prod": "manual",
    "unhold-dev": "manual",
    "unhold-prod": "manual",
}


@dataclass
class Setup:
    work: Path
    home: Path
    log: Path
    registry_host: str
    base_sha: str

    def variables(self, **extra: str) -> dict[str, str]:
        return {
            "REGISTRY_INSECURE": "true",
            "REGISTRY_USER": USER,
            "REGISTRY_PASSWORD": PASSWORD,
            # The registry credentials go to this registry only (ci.registry).
            "ECR_REPOSITORY_URL": f"{self.registry_host}/{NAME}",
            # cosign as `make tools` built it (the copy has no .tools/, gitops-check would build).
            "TOOLS_DIR": str(tools_bin().parent),
            **extra,
        }

    def merge_request(self, branch: str) -> dict[str, str]:
        """The variables GitLab sets in a merge-request pipeline."""
        return self.variables(
            CI_PIPELINE_SOURCE="merge_request_event",
            CI_MERGE_REQUEST_IID="1",
            CI_MERGE_REQUEST_SOURCE_BRANCH_NAME=branch,
            CI_MERGE_REQUEST_TARGET_BRANCH_NAME=DEFAULT_BRANCH,
            CI_MERGE_REQUEST_DIFF_BASE_SHA=self.base_sha,
            CI_OPEN_MERGE_REQUESTS=f"acme/{NAME}!1",
        )

    def run(self, args: list[str], variables: dict[str, str]) -> PipelineRun:
        quiet = ["--ignore-predefined-vars", "CI_PIPELINE_SOURCE"]
        return gitlab_ci_local.run(
            self.work,
            ["--force-shell-executor", *quiet, *args],
            variables,
            self.home,
            self.log,
            timeout=TIMEOUT,
        )

    def jobs(self, variables: dict[str, str]) -> dict[str, str]:
        listed = gitlab_ci_local.list_jobs(self.work, self.home, variables)
        return {name: job["when"] for name, job in listed.items()}

    def set_image(self, env: str, tag: str, message: str) -> None:
        rel = self.work / "gitops" / env / "values.yaml"
        repository = f"{self.registry_host}/{NAME}"
        rel.write_text(set_image(rel.read_text(), tag, repository, name=str(rel)))
        git("commit", "--quiet", "--all", "--message", message, cwd=self.work)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    require_tools("git", "rsync", "docker-registry", "htpasswd")
    if not gitlab_ci_local.GITLAB_CI_LOCAL.exists():
        require_tools("gitlab-ci-local")  # skips on a laptop, fails in CI: run `make tools`
    tmp = tmp_path_factory.mktemp("gitops-pipelines")
    work, remote, home = tmp / "work", tmp / "remote.git", tmp / "home"
    home.mkdir()
    snapshot_checkout(work)
    with running_registry(tmp / "registry", USER, PASSWORD) as registry:
        for tag in (RAN, ALSO_RAN):
            push_image(registry.host, NAME, tag)
        setup = Setup(work, home, tmp / "pipeline.log", registry.host, "")
        setup.set_image("dev", RAN, f"deploy(dev): {NAME} {RAN} [skip ci]")
        setup.set_image("prod", RAN, f"promote(prod): {NAME} {RAN} from dev [skip ci]")
        setup.set_image("dev", ALSO_RAN, f"deploy(dev): {NAME} {ALSO_RAN} [skip ci]")
        git("clone", "--quiet", "--bare", str(work), str(remote), cwd=tmp)
        git("remote", "add", "origin", f"file://{remote}", cwd=work)
        git("fetch", "--quiet", "origin", cwd=work)
        git("remote", "set-head", "origin", DEFAULT_BRANCH, cwd=work)
        setup.base_sha = git("rev-parse", "HEAD", cwd=work)
        print(f"\ne2e: pipeline output in {setup.log}")
        yield setup


def test_gitops_check_fails_a_promotion_of_a_tag_dev_never_ran(setup: Setup) -> None:
    git("checkout", "--quiet", "-b", "promote-untested", DEFAULT_BRANCH, cwd=setup.work)
    push_image(setup.registry_host, NAME, NEVER_RAN)  # built, but never ran in dev
    setup.set_image("prod", NEVER_RAN, "Promote an untested build")
    variables = setup.merge_request("promote-untested")
    jobs = setup.jobs(variables)
    assert jobs["gitops-check"] == "on_success"
    assert "build" not in jobs
    assert "deploy-dev" not in jobs

    run = setup.run(["gitops-check"], variables)
    assert run.verdicts == {"gitops-check": "FAIL"}, run.tail()
    assert f"prod: image {setup.registry_host}/{NAME}:{NEVER_RAN} never ran in dev" in run.output
    assert "check: 1 problem in " in run.output


def test_gitops_check_passes_a_promotion_of_what_dev_ran(setup: Setup) -> None:
    git("checkout", "--quiet", "-b", "promote-good", DEFAULT_BRANCH, cwd=setup.work)
    setup.set_image("prod", ALSO_RAN, "Promote what dev runs")
    run = setup.run(["gitops-check"], setup.merge_request("promote-good"))
    assert run.verdicts == {"gitops-check": "PASS"}, run.tail()
    reference = f"{setup.registry_host}/{NAME}:{ALSO_RAN}"
    assert f"check: prod: image {reference} is in the registry" in run.output


def test_a_merged_gitops_only_change_builds_and_deploys_nothing(setup: Setup) -> None:
    """Main now has the merged promotion on top of origin/main: only gitops files changed."""
    git("checkout", "--quiet", DEFAULT_BRANCH, cwd=setup.work)
    git("merge", "--quiet", "--ff-only", "promote-good", cwd=setup.work)
    assert setup.jobs(setup.variables()) == GITOPS_ONLY_DEFAULT
    waiting = setup.jobs(setup.variables(ARGOCD_SERVER="argocd.example:443"))
    assert waiting == {**GITOPS_ONLY_DEFAULT, "wait-gitops": "on_success"}

    # Every automatic job (the test jobs run for code changes only).
    run = setup.run(["lint", "chart-lint", "ci-config"], setup.variables())
    assert run.returncode == 0, run.tail()
    assert run.verdicts == dict.fromkeys(["lint", "chart-lint", "ci-config"], "PASS"), run.tail()
    assert "build" not in run.started
    assert "deploy-dev" not in run.started


def test_a_code_change_on_the_default_branch_still_builds_and_deploys(setup: Setup) -> None:
    git("checkout", "--quiet", DEFAULT_BRANCH, cwd=setup.work)
    readme = setup.work / "README.md"
    readme.write_text(readme.read_text() + "\nA code change.\n")
    git("commit", "--quiet", "--all", "--message", "docs: a change", cwd=setup.work)
    jobs = setup.jobs(setup.variables(ARGOCD_SERVER="argocd.example:443"))
    assert jobs["build"] == "on_success"
    assert jobs["deploy-dev"] == "on_success"
    assert "wait-gitops" not in jobs
    subprocess.run(["git", "reset", "--quiet", "--hard", "HEAD^"], cwd=setup.work, check=True)
