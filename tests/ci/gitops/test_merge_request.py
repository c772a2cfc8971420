"""``deploy|promote|rollback --merge-request`` against a real bare git remote and the GitLab API
stand-in (tests/support/gitlab_api.py), run as the pipeline runs them."""

import email.utils
import os
import signal
import time
from pathlib import Path

import pytest

from app import SERVICE_NAME
from ci.gitlab import GitLabContext
from ci.gitops.gitlab_api import LABEL
from ci.gitops.merge_request import (
    Progress,
    branch_for,
    branch_name,
    cut_short_line,
    description,
    pipeline_id,
    without_skip_ci,
)
from ci.gitops.message import Change
from ci.gitops.values import set_image
from tests.support.cli import run_ci, start_ci
from tests.support.git_remotes import (
    copy_repositories,
    git,
    make_bare_remote,
    pack,
    show,
    tip,
)
from tests.support.gitlab_api import PERSON, PROJECT_ID, USER, running_gitlab
from tests.support.gitops_project import Project, make_project

TOKEN = "glpat-Secret/#?\\ token"
PROD = "gitops/prod/values.yaml"
BUILD_PIPELINE = f"https://gitlab.example/acme/{SERVICE_NAME}/-/pipelines/77"
# main is protected as in the projects this mode is for: nobody pushes to it (the tests' own
# setup pushes pass ALLOW_MAIN); other branches accept force pushes, as GitLab's unprotected ones.
PROTECT_MAIN = """#!/bin/sh
if [ "$1" = refs/heads/main ] && [ -z "$ALLOW_MAIN" ]; then
  echo "GitLab: You are not allowed to push code to protected branches on this project."
  exit 1
fi
"""


def protect_main(bare) -> None:
    git("config", "receive.denyNonFastForwards", "false", cwd=bare)
    hook = bare / "hooks" / "update"
    hook.write_text(PROTECT_MAIN)
    os.chmod(hook, 0o755)


def push_main(project, bare) -> None:
    git("push", "--quiet", str(bare), "main", cwd=project.path, env={"ALLOW_MAIN": "1"})


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """main: dev ran 1111aaaa then 3333cccc (built by pipeline 77), prod runs 1111aaaa; beside it
    its bare remote, main protected. Made once: each test's ``setup`` is a copy."""
    root = tmp_path_factory.mktemp("merge-request")
    project = make_project(root / "project")
    project.set_tag("dev", "1111aaaa")
    project.set_tag("prod", "1111aaaa")
    text = project.read("gitops/dev/values.yaml")
    project.write(
        "gitops/dev/values.yaml",
        set_image(text, "3333cccc", pipeline_url=BUILD_PIPELINE, name="dev"),
    )
    project.commit(f"deploy(dev): {SERVICE_NAME} 3333cccc [skip ci]")
    bare = make_bare_remote(project.path, root / "remote.git")
    protect_main(bare)
    pack(project.path, bare)
    return root


@pytest.fixture
def setup(built, tmp_path):
    """A copy of ``built`` of the test's own, and the GitLab API stand-in serving its remote."""
    copy_repositories(built, tmp_path)
    bare = tmp_path / "remote.git"
    with running_gitlab(bare, TOKEN) as api:
        yield Project(tmp_path / "project"), bare, api


def env_for(api, **extra: str) -> dict[str, str]:
    return {
        "CI_SERVER_URL": api.base_url,
        "CI_PROJECT_ID": str(PROJECT_ID),
        "GITOPS_TOKEN": TOKEN,
        "CI_PROJECT_URL": api.web_url,
        "CI_PIPELINE_URL": f"{api.web_url}/-/pipelines/90",
        **extra,
    }


def promote(ci, bare, api, *extra: str, env: dict[str, str] | None = None):
    args = ["promote", "--from", "dev", "--to", "prod", "--repo", str(bare), *extra]
    return ci(*args, env=env if env is not None else env_for(api))


def test_promote_opens_a_merge_request_and_leaves_the_branch_alone(setup, ci):
    _, bare, api = setup
    api.add_job(77, "verify-dev", "success")
    main_before = tip(bare)
    result = promote(ci, bare, api, "--merge-request")

    assert result.returncode == 0, result.stderr
    url = f"{api.web_url}/-/merge_requests/1"
    title = f"promote(prod): {SERVICE_NAME} 3333cccc from dev"
    assert result.stdout == f"{title}: merge request {url} (opened, branch gitops/prod/3333cccc)\n"
    assert tip(bare) == main_before  # nothing pushed to main
    branch = "gitops/prod/3333cccc"
    assert git("rev-parse", f"{branch}^", cwd=bare).strip() == main_before
    assert git("log", "-1", "--format=%s", branch, cwd=bare).strip() == title  # no [skip ci]
    changed = git("show", "--name-only", "--format=", branch, cwd=bare).split()
    assert changed == [PROD]
    assert 'tag: "3333cccc"' in show(bare, PROD, branch)
    assert f'pipelineUrl: "{BUILD_PIPELINE}"' in show(bare, PROD, branch)

    [mr] = api.merge_requests
    assert (mr["title"], mr["source_branch"], mr["target_branch"]) == (title, branch, "main")
    assert mr["force_remove_source_branch"] is True
    text = mr["description"]
    assert '-  tag: "1111aaaa"\n+  tag: "3333cccc"' in text
    assert "```diff\ndiff --git a/gitops/prod/values.yaml b/gitops/prod/values.yaml" in text
    assert f"- Source commit: [`3333cccc`]({api.web_url}/-/commit/3333cccc)" in text
    assert f"- Build pipeline: {BUILD_PIPELINE}" in text
    assert f"- Opened by pipeline: {api.web_url}/-/pipelines/90" in text
    assert "- Verification in dev: `verify-dev` success in pipeline #77 (" in text
    assert TOKEN not in result.stdout + result.stderr


def test_a_rerun_reuses_the_branch_and_the_merge_request(setup, ci):
    _, bare, api = setup
    assert promote(ci, bare, api, "--merge-request").returncode == 0
    branch_tip = tip(bare, "gitops/prod/3333cccc")
    again = promote(ci, bare, api, env=env_for(api, GITOPS_MERGE_REQUEST="true"))
    assert again.returncode == 0, again.stderr
    assert again.stdout.endswith("merge_requests/1 (unchanged, branch gitops/prod/3333cccc)\n")
    assert tip(bare, "gitops/prod/3333cccc") == branch_tip
    assert len(api.merge_requests) == 1


def test_a_rerun_after_the_branch_moved_rebuilds_on_the_new_tip(setup, ci):
    project, bare, api = setup
    assert promote(ci, bare, api, "--merge-request").returncode == 0
    # A person's change lands on main meanwhile.
    git("checkout", "--quiet", "main", cwd=project.path)
    project.write("values.prod.yaml", project.read("values.prod.yaml") + "# reviewed\n")
    project.commit("prod: comment")
    push_main(project, bare)
    again = promote(ci, bare, api, "--merge-request")
    assert again.returncode == 0, again.stderr
    assert git("rev-parse", "gitops/prod/3333cccc^", cwd=bare).strip() == tip(bare)
    assert len(api.merge_requests) == 1
    assert api.merge_requests[0]["sha"] == tip(bare, "gitops/prod/3333cccc")


@pytest.mark.integration
def test_operators_at_once_share_one_branch_and_one_merge_request(setup):
    _, bare, api = setup
    args = ["promote", "--from", "dev", "--to", "prod", "--repo", str(bare), "--merge-request"]
    runs = [start_ci(*args, env=env_for(api)) for _ in range(4)]
    results = [(run.wait(timeout=120), *run.communicate()) for run in runs]
    assert [code for code, _, _ in results] == [0, 0, 0, 0], [err for _, _, err in results]
    assert len(api.merge_requests) == 1
    assert sum("(opened, " in out for _, out, _ in results) == 1
    branch_tip = tip(bare, "gitops/prod/3333cccc")
    assert git("rev-parse", "gitops/prod/3333cccc^", cwd=bare).strip() == tip(bare)
    assert api.merge_requests[0]["sha"] == branch_tip


def test_a_newer_promotion_closes_the_older_one_with_a_note(setup, ci):
    project, bare, api = setup
    assert promote(ci, bare, api, "--merge-request").returncode == 0
    git("checkout", "--quiet", "main", cwd=project.path)
    git("pull", "--quiet", str(bare), "main", cwd=project.path)
    project.set_tag("dev", "4444dddd")
    push_main(project, bare)

    newer = promote(ci, bare, api, "--merge-request")
    assert newer.returncode == 0, newer.stderr
    first, second = api.merge_requests
    assert second["source_branch"] == "gitops/prod/4444dddd"
    assert (first["state"], second["state"]) == ("closed", "opened")
    [note] = api.notes[first["iid"]]
    assert note["body"] == (
        f"Superseded by {second['web_url']} (promote(prod): {SERVICE_NAME} 4444dddd from "
        "dev): closing."
    )
    assert newer.stdout.endswith(f"; closed 1 older: {first['web_url']}\n")


def test_deploy_and_rollback_take_the_same_route(setup, ci):
    _, bare, api = setup
    deploy = ci(
        "deploy",
        "--repo",
        str(bare),
        "--env",
        "dev",
        "--tag",
        "5555eeee",
        "--merge-request",
        env=env_for(api),
    )
    assert deploy.returncode == 0, deploy.stderr
    assert "(opened, branch gitops/dev/5555eeee)" in deploy.stdout
    rollback = ci(
        "rollback", "--repo", str(bare), "--env", "dev", "--merge-request", env=env_for(api)
    )
    assert rollback.returncode == 0, rollback.stderr
    assert f"rollback(dev): {SERVICE_NAME} 1111aaaa (was 3333cccc)" in rollback.stdout
    assert [mr["state"] for mr in api.merge_requests] == ["closed", "opened"]


def test_nothing_to_do_opens_nothing(setup, ci):
    _, bare, api = setup
    result = ci(
        "deploy",
        "--repo",
        str(bare),
        "--env",
        "prod",
        "--tag",
        "1111aaaa",
        "--merge-request",
        env=env_for(api),
    )
    assert result.returncode == 0
    assert result.stdout == f"prod already runs {SERVICE_NAME} 1111aaaa: nothing to do\n"
    assert api.merge_requests == []


def test_missing_settings_are_exit_2_and_push_nothing(setup, ci):
    _, bare, api = setup
    before = git("for-each-ref", cwd=bare)
    result = promote(ci, bare, api, "--merge-request", env={"GITOPS_TOKEN": TOKEN})
    assert result.returncode == 2
    assert result.stderr == (
        "error: --merge-request needs CI_SERVER_URL or GITLAB_URL, CI_PROJECT_ID or "
        "CI_PROJECT_PATH\n"
    )
    assert git("for-each-ref", cwd=bare) == before


def test_a_refused_token_pushes_nothing_and_is_never_printed(setup, ci):
    _, bare, api = setup
    before = git("for-each-ref", cwd=bare)
    env = {**env_for(api), "GITOPS_TOKEN": "glpat-wrong/Secret"}
    result = promote(ci, bare, api, "--merge-request", env=env)
    assert result.returncode == 1
    assert result.stderr == (
        f"error: GitLab API at {api.base_url} refused GITOPS_TOKEN (reading the deploy"
        " freezes); it needs the api scope\n"
    )
    assert git("for-each-ref", cwd=bare) == before
    assert "glpat-wrong" not in result.stdout + result.stderr


def test_the_project_can_be_named_by_path_and_gitlab_url(setup, ci):
    _, bare, api = setup
    env = env_for(api)
    del env["CI_SERVER_URL"], env["CI_PROJECT_ID"]
    env |= {"GITLAB_URL": api.base_url + "/", "CI_PROJECT_PATH": api.path_with_namespace}
    result = promote(ci, bare, api, "--merge-request", env=env)
    assert result.returncode == 0, result.stderr
    assert len(api.merge_requests) == 1


def test_an_unreachable_api_is_one_line(setup, ci):
    _, bare, _api = setup
    env = {"GITLAB_URL": "http://127.0.0.1:9", "CI_PROJECT_ID": "1", "GITOPS_TOKEN": TOKEN}
    result = promote(ci, bare, None, "--merge-request", env=env)
    assert result.returncode == 1
    assert result.stderr.startswith("error: GitLab API at http://127.0.0.1:9 unreachable")
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("tag", "branch"),
    [
        ("3333cccc", "gitops/prod/3333cccc"),
        ("a..b.lock", "gitops/prod/a.b"),
        ("...", "gitops/prod/tag"),
    ],
)
def test_branch_names_are_valid_refs(tag, branch, tmp_path):
    assert branch_name("prod", tag) == branch
    git("init", "--quiet", cwd=tmp_path)
    git("check-ref-format", f"refs/heads/{branch}", cwd=tmp_path)


def test_pure_helpers():
    assert without_skip_ci("deploy(dev): x [skip ci]\n\nbody [skip ci]\n") == (
        "deploy(dev): x\n\nbody [skip ci]\n"
    )
    assert pipeline_id(BUILD_PIPELINE) == 77
    assert pipeline_id("https://x/-/pipelines/77/builds") == 77
    assert pipeline_id("https://x/-/jobs/77") is None
    change = Change("deploy", "dev", "svc", "1a2b3c4d", None, "gitops/dev/values.yaml")
    text = description(
        "deploy(dev): svc 1a2b3c4d [skip ci]\n\nSet it.\n",
        "diff\n",
        GitLabContext(),
        change,
        None,
        None,
    )
    assert text == (
        "Set it.\n\n```diff\ndiff\n```\n\n- Source commit: `1a2b3c4d`\n\n"
        "Opened by `python -m ci deploy --merge-request`.\n"
    )


def test_unhold_by_merge_request_keeps_apart_from_promotions(setup, ci):
    """A rollback by merge request holds prod once merged; releasing it on a protected branch
    is a merge request too, on its own branch, which supersedes no promotion."""
    project, bare, api = setup
    assert promote(ci, bare, api, "--merge-request").returncode == 0  # an open promotion
    git("checkout", "--quiet", "main", cwd=project.path)
    project.write(
        "gitops/prod/hold.yaml", 'by: "alice"\nsince: "2026-11-26T10:00:00Z"\nreason: "x"\n'
    )
    project.commit("hold(prod): x [skip ci]")
    push_main(project, bare)
    held = promote(ci, bare, api, "--merge-request")
    assert held.returncode == 1
    assert "prod is held by alice" in held.stderr
    assert len(api.merge_requests) == 1

    release = ci(
        "unhold", "--env", "prod", "--repo", str(bare), "--merge-request", env=env_for(api)
    )
    assert release.returncode == 0, release.stderr
    assert release.stdout.startswith("unhold(prod): released: merge request ")
    assert "(opened, branch gitops-holds/prod/unhold)" in release.stdout
    changed = git("show", "--name-status", "--format=", "gitops-holds/prod/unhold", cwd=bare)
    assert changed.split() == ["D", "gitops/prod/hold.yaml"]
    assert [mr["state"] for mr in api.merge_requests] == ["opened", "opened"]


# -- only its own merge requests ------------------------------------------------------------


def test_a_newer_promotion_closes_only_its_own_merge_requests(setup, ci):
    """A person's merge request from a ``gitops/prod/`` branch stays open, even with the label
    copied: only merge requests labelled gitops-writeback *and* opened by the token's user are
    superseded."""
    project, bare, api = setup
    assert promote(ci, bare, api, "--merge-request").returncode == 0
    git("branch", "gitops/prod/by-hand", "main", cwd=bare)
    git("branch", "gitops/prod/x", "main", cwd=bare)
    by_hand = {"source_branch": "gitops/prod/by-hand", "target_branch": "main", "title": "x"}
    person = api.open_by(PERSON, by_hand)
    copied = api.open_by(PERSON, {**by_hand, "source_branch": "gitops/prod/x", "labels": LABEL})
    git("checkout", "--quiet", "main", cwd=project.path)
    git("pull", "--quiet", str(bare), "main", cwd=project.path)
    project.set_tag("dev", "4444dddd")
    push_main(project, bare)

    newer = promote(ci, bare, api, "--merge-request")
    assert newer.returncode == 0, newer.stderr
    first, _, _, fourth = api.merge_requests
    assert first["labels"] == fourth["labels"] == [LABEL]
    assert first["author"] == fourth["author"] == USER
    assert [mr["state"] for mr in api.merge_requests] == ["closed", "opened", "opened", "opened"]
    assert (person["state"], copied["state"]) == ("opened", "opened")
    assert newer.stdout.endswith(f"; closed 1 older: {first['web_url']}\n")


# -- rate limits -----------------------------------------------------------------------------


def test_a_rate_limit_with_an_http_date_is_waited_out(setup, ci):
    _, bare, api = setup
    soon = email.utils.formatdate(time.time() + 1, usegmt=True)
    api.throttle(soon, "0")
    started = time.monotonic()
    result = promote(ci, bare, api, "--merge-request")
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 10
    assert [mr["state"] for mr in api.merge_requests] == ["opened"]


@pytest.mark.integration
def test_a_rate_limit_past_the_deadline_is_one_line_and_pushes_nothing(setup):
    """Retry-After: 3600 is never slept: the wait (capped at 60 s) does not fit in the
    deadline, so the command stops at once. A subprocess, so that a regression times out."""
    _, bare, api = setup
    api.throttle("3600")
    before = git("for-each-ref", cwd=bare)
    started = time.monotonic()
    args = ["promote", "--from", "dev", "--to", "prod", "--repo", str(bare), "--merge-request"]
    result = run_ci(*args, env=env_for(api, GITOPS_API_DEADLINE="20"), timeout=60)
    assert time.monotonic() - started < 30
    assert result.returncode == 1
    assert result.stderr == (
        "error: GitLab API: reading the deploy freezes rate-limited (HTTP 429, Retry-After:"
        " 3600) past the 20 s deadline (GITOPS_API_DEADLINE): re-run the job\n"
    )
    assert git("for-each-ref", cwd=bare) == before


def test_a_bad_deadline_is_a_usage_error(setup, ci):
    _, bare, api = setup
    result = promote(ci, bare, api, "--merge-request", env=env_for(api, GITOPS_API_DEADLINE="0"))
    assert result.returncode == 2
    assert result.stderr == (
        "error: GITOPS_API_DEADLINE must be seconds between 1 and 86400, not '0'\n"
    )


# -- a cancelled job says what happened --------------------------------------------------------


def cancelled(bare, api, method: str, path: str):
    """Run a promotion by merge request, SIGTERM it while ``method path`` is in flight."""
    arrived = api.stall(method, path)
    args = ["promote", "--from", "dev", "--to", "prod", "--repo", str(bare), "--merge-request"]
    run = start_ci(*args, env=env_for(api))
    try:
        assert arrived.wait(timeout=60)
        run.send_signal(signal.SIGTERM)
        out, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    return run.returncode, out, err


@pytest.mark.integration
def test_sigterm_before_any_push_says_nothing_was_pushed(setup):
    _, bare, api = setup
    before = git("for-each-ref", cwd=bare)
    code, _, err = cancelled(bare, api, "GET", rf"/api/v4/projects/{PROJECT_ID}")
    assert code == 130
    assert err == "error: interrupted: nothing pushed, no merge request opened\n"
    assert git("for-each-ref", cwd=bare) == before


@pytest.mark.integration
def test_sigterm_after_the_branch_push_names_the_branch_and_commit(setup):
    _, bare, api = setup
    code, _, err = cancelled(bare, api, "GET", rf"/api/v4/projects/{PROJECT_ID}/merge_requests")
    pushed = tip(bare, "gitops/prod/3333cccc")
    assert code == 130
    assert err == (
        f"error: interrupted: branch gitops/prod/3333cccc was pushed ({pushed[:12]}), no merge"
        " request opened or updated: re-run the job\n"
    )
    assert api.merge_requests == []


@pytest.mark.parametrize(
    ("progress", "remote_tip", "line"),
    [
        (Progress("b"), None, "interrupted: nothing pushed, no merge request opened"),
        (
            Progress("b", pushing="c" * 40),
            "c" * 40,
            f"interrupted, but branch b had been pushed ({'c' * 12}); no merge request opened:"
            " re-run the job",
        ),
        (
            Progress("b", pushing="c" * 40),
            None,
            "interrupted during the push of branch b: could not ask the remote whether it"
            " landed; no merge request opened: re-run the job",
        ),
        (
            Progress("b", pushing="c" * 40),
            "d" * 40,
            "interrupted during the push of branch b: it did not land; nothing pushed",
        ),
        (
            Progress("b", pushed="c" * 40, reused=True),
            None,
            "interrupted: branch b already held the change, no merge request opened or updated:"
            " re-run the job",
        ),
        (
            Progress("b", pushed="c" * 40, merge_request="https://g/mr/1"),
            None,
            "interrupted after merge request https://g/mr/1 was opened or updated",
        ),
    ],
)
def test_what_a_cut_short_publish_says(progress, remote_tip, line):
    assert cut_short_line("interrupted", progress, remote_tip) == line


@pytest.mark.parametrize(
    ("action", "env", "tag", "branch"),
    [
        ("reject", "", "3333cccc", "gitops-holds/builds/reject-3333cccc"),
        ("unreject", "", "a..b.lock", "gitops-holds/builds/unreject-a.b"),
        ("record", "dev", "3333cccc", "gitops-holds/dev/record-3333cccc"),
    ],
)
def test_verdicts_and_rejections_have_branches_of_their_own(action, env, tag, branch, tmp_path):
    """Apart from gitops/<env>/: they supersede no promotion, and none supersedes them."""
    assert branch_for(Change(action, env, SERVICE_NAME, tag, None, "gitops/x")) == branch
    git("init", "--quiet", cwd=tmp_path)
    git("check-ref-format", f"refs/heads/{branch}", cwd=tmp_path)
