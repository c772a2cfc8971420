"""What a first real rollout needs from .gitlab-ci.yml: which pipelines GitLab creates for which
branches, the runner the build lands on, and which buttons a protected environment guards.

``workflow:rules`` are evaluated here as GitLab evaluates them (the first rule that matches
decides; a rule with ``when: never`` creates no pipeline). gitlab-ci-local cannot stand in: it
reads ``workflow:rules`` only for their ``variables`` and creates every pipeline, so the
evaluator below covers exactly the expression forms the file uses and refuses any other.
"""

import re

import pytest

from tests.e2e.test_pipeline_config import config, jobs

MR = {"CI_PIPELINE_SOURCE": "merge_request_event"}
# A term: `$VAR`, `$VAR == "text"` or `$VAR =~ /regex/`.
TERM = re.compile(r'\$(?P<var>\w+)(?: (?P<op>==|=~) (?:"(?P<text>[^"]*)"|/(?P<regex>.*)/))?')


def term_holds(term: str, variables: dict[str, str]) -> bool:
    match = TERM.fullmatch(term.strip())
    assert match, f"the evaluator does not know {term!r}: extend it"
    value = variables.get(match["var"], "")
    if match["op"] == "==":
        return value == match["text"]
    if match["op"] == "=~":
        return re.search(match["regex"], value) is not None  # RE2 syntax, same for these
    return value != ""


def creates_pipeline(variables: dict[str, str]) -> bool:
    for rule in config()["workflow"]["rules"]:
        terms = rule["if"].split(" && ")
        if all(term_holds(term, variables) for term in terms):
            return rule.get("when", "always") != "never"
    return False


def branch_push(branch: str, message: str = "a change", **extra: str) -> dict[str, str]:
    return {
        "CI_COMMIT_BRANCH": branch,
        "CI_COMMIT_MESSAGE": message,
        "CI_PIPELINE_SOURCE": "push",
        **extra,
    }


@pytest.mark.parametrize(
    "branch", ["gitops/prod/1a2b3c4d", "gitops/dev/0f1e2d3c", "gitops-holds/prod/unhold"]
)
def test_the_merge_request_routes_branches_start_no_branch_pipeline(branch: str) -> None:
    """The write-back pushes the branch before it opens the merge request: that push's branch
    pipeline would count every `changes:` as changed and build, test and offer deploy-dev."""
    assert not creates_pipeline(branch_push(branch))


@pytest.mark.parametrize("branch", ["gitops/prod/1a2b3c4d", "gitops-holds/prod/hold"])
def test_their_merge_request_pipeline_runs(branch: str) -> None:
    """... while the merge request's own pipeline (gitops-check, "Pipelines must succeed") runs."""
    variables = {**MR, "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": branch, "CI_COMMIT_MESSAGE": "x"}
    assert creates_pipeline(variables)
    assert "gitops-check" in jobs(config())


@pytest.mark.parametrize("branch", ["main", "feature/gitops-docs", "my-gitops/x", "gitopsx/y"])
def test_other_branches_keep_their_pipelines(branch: str) -> None:
    assert creates_pipeline(branch_push(branch))
    assert not creates_pipeline(branch_push(branch, CI_OPEN_MERGE_REQUESTS="g/p!1"))
    assert not creates_pipeline(branch_push(branch, "deploy(dev): x [skip ci]"))


def test_build_lands_on_a_buildah_runner() -> None:
    """buildah needs a runner that lets it mount (vfs, chroot isolation): the job is tagged, the
    tag is a variable a project can point at its own runners."""
    build = jobs(config())["build"]
    assert build["tags"] == ["$BUILD_RUNNER_TAG"]
    assert config()["variables"]["BUILD_RUNNER_TAG"] == "buildah"
    assert (build["variables"]["STORAGE_DRIVER"], build["variables"]["BUILDAH_ISOLATION"]) == (
        "vfs",
        "chroot",
    )


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_button_that_changes_an_environment_names_it(env: str) -> None:
    """A protected environment guards only jobs with `environment:`; unhold-<env> releases a hold
    (it changes what may deploy) without being a deployment: `action: prepare`."""
    all_jobs = jobs(config())
    for name in (f"rollback-{env}", f"unhold-{env}"):
        assert all_jobs[name]["environment"]["name"] == env, name
    assert all_jobs[f"unhold-{env}"]["environment"]["action"] == "prepare"
    writers = [n for n, j in all_jobs.items() if f"--env {env}" in " ".join(j["script"])]
    assert writers
    assert all(all_jobs[n]["environment"]["name"] == env for n in writers), writers
