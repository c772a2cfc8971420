"""deploy / promote / rollback / status against a real bare remote over file://."""

import json
import re

import pytest

from app import SERVICE_NAME
from ci.gitops.values import read_image
from tests.support.cli import run_ci
from tests.support.git_remotes import PERSON, git, show

pytestmark = pytest.mark.integration

DEV = "gitops/dev/values.yaml"
PROD = "gitops/prod/values.yaml"
GITLAB = {
    "CI_COMMIT_SHA": "",
    "CI_PIPELINE_URL": f"https://gitlab.example/group/{SERVICE_NAME}/-/pipelines/42",
    "GITLAB_USER_LOGIN": "alice",
    "GITLAB_USER_EMAIL": "alice@example.com",
}


def tip(remote) -> str:
    return git("rev-parse", "main", cwd=remote.bare).strip()


def tag_of(remote, path: str = DEV) -> str:
    line = next(line for line in show(remote.bare, path).splitlines() if "tag:" in line)
    return line.split(":", 1)[1].strip().strip('"')


def test_deploy_commits_only_the_tag_with_message_trailers_and_bot_identity(remote):
    tag = remote.source.short(3)
    before = show(remote.bare, DEV)
    env = {
        **GITLAB,
        "CI_COMMIT_SHA": remote.source.commits[3],
        "GITOPS_AUTHOR_NAME": "Deploy Bot",
        "GITOPS_AUTHOR_EMAIL": "bot@example.com",
    }
    result = run_ci("deploy", "--repo", str(remote.bare), "--env", "dev", "--tag", tag, env=env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"deploy(dev): {SERVICE_NAME} {tag} [skip ci]: pushed ")
    pipeline = f'  pipelineUrl: "{GITLAB["CI_PIPELINE_URL"]}"\n'
    assert show(remote.bare, DEV) == before.replace('"0.0.0-bootstrap"', f'"{tag}"') + pipeline
    assert show(remote.bare, PROD) == before.replace("values.dev.yaml", "values.prod.yaml")
    changed = git("show", "--name-only", "--format=", "main", cwd=remote.bare).split()
    assert changed == [DEV]
    message = git("log", "-1", "--format=%B", "main", cwd=remote.bare)
    assert message.splitlines()[0] == f"deploy(dev): {SERVICE_NAME} {tag} [skip ci]"
    assert f"Source-Commit: {remote.source.commits[3]}" in message
    assert f"Pipeline: {GITLAB['CI_PIPELINE_URL']}" in message
    assert "Triggered-By: alice <alice@example.com>" in message
    who = git("log", "-1", "--format=%an <%ae>|%cn <%ce>", "main", cwd=remote.bare).strip()
    assert who == "Deploy Bot <bot@example.com>|Deploy Bot <bot@example.com>"
    # On top of the remote tip: the previous tip is the parent.
    assert git("rev-parse", "main^", cwd=remote.bare).strip() == remote.source.commits[-1]


def test_redeploying_the_same_tag_is_a_successful_no_op(remote):
    tag = remote.source.short(2)
    assert (
        run_ci("deploy", "--repo", str(remote.bare), "--env", "dev", "--tag", tag).returncode == 0
    )
    before = tip(remote)
    again = run_ci("deploy", "--repo", str(remote.bare), "--env", "dev", "--tag", tag)
    assert again.returncode == 0
    assert again.stdout == f"dev already runs {SERVICE_NAME} {tag}: nothing to do\n"
    assert tip(remote) == before


def test_stale_build_changes_nothing_and_force_writes_it_saying_so(remote):
    new, old = remote.source.short(8), remote.source.short(5)
    assert run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", new).returncode == 0
    before = tip(remote)

    stale = run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", old)
    assert stale.returncode == 0
    assert stale.stdout == (
        f"dev already runs {new}, a newer build than {old}: nothing to do"
        " (--force deploys it anyway)\n"
    )
    assert tip(remote) == before

    forced = run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", old, "--force")
    assert forced.returncode == 0, forced.stderr
    assert tag_of(remote) == old
    message = git("log", "-1", "--format=%B", "main", cwd=remote.bare)
    assert message.splitlines()[0] == f"deploy(dev): {SERVICE_NAME} {old} (forced) [skip ci]"
    assert f"Forced with --force over {new}, a newer build that was deployed." in message


def test_newer_build_replaces_older_one(remote):
    old, new = remote.source.short(1), remote.source.short(9)
    assert run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", old).returncode == 0
    assert run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", new).returncode == 0
    assert tag_of(remote) == new


def test_stale_check_reaches_far_back_in_a_long_history(remote, tmp_path):
    """The deployed build is 40 commits newer than the candidate: the shallow clone must deepen."""
    old = remote.source.short(0)
    work = tmp_path / "work"
    git("clone", "-q", str(remote.bare), str(work), cwd=tmp_path)
    for number in range(40):
        (work / "main.py").write_text(f"VERSION = 'late {number}'\n")
        git("commit", "-q", "-am", f"late {number}", cwd=work)
    newest = git("rev-parse", "--short=8", "HEAD~30", cwd=work).strip()
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    assert run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", newest).returncode == 0
    for number in range(30):
        (work / "other.txt").write_text(f"{number}\n")
        git("add", "other.txt", cwd=work)
        git("commit", "-q", "-m", f"more {number}", cwd=work)
    git("pull", "-q", "--rebase", "origin", "main", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)

    stale = run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", old)
    assert stale.returncode == 0
    assert f"already runs {newest}, a newer build than {old}" in stale.stdout
    assert tag_of(remote) == newest


def test_dry_run_prints_the_diff_and_pushes_nothing(remote):
    tag = remote.source.short(4)
    before = tip(remote)
    result = run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", tag, "--dry-run")
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        f"--- a/{DEV}",
        f"+++ b/{DEV}",
        "@@ -2,4 +2,4 @@",
        " # values.dev.yaml at the repository root instead. Argo CD layers this file last.",
        " image:",
        f"   repository: registry.example/{SERVICE_NAME}  # where the build pushes",
        '-  tag: "0.0.0-bootstrap"',
        f'+  tag: "{tag}"',
        f"dry run: would commit 'deploy(dev): {SERVICE_NAME} {tag} [skip ci]' (nothing pushed)",
    ]
    assert tip(remote) == before


def test_repository_flag_sets_image_repository_too(remote):
    tag = remote.source.short(2)
    env = {"IMAGE_REPOSITORY": f"127.0.0.1:5000/{SERVICE_NAME}"}
    result = run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", tag, env=env)
    assert result.returncode == 0, result.stderr
    text = show(remote.bare, DEV)
    assert f"  repository: 127.0.0.1:5000/{SERVICE_NAME}  # where the build pushes\n" in text
    assert f'  tag: "{tag}"\n' in text


def test_runs_from_a_detached_pipeline_checkout_and_commits_on_the_remote_tip(remote, tmp_path):
    checkout = tmp_path / "pipeline"
    git("clone", "-q", "--depth=3", remote.url, str(checkout), cwd=tmp_path)
    git("checkout", "-q", "--detach", "HEAD~2", cwd=checkout)
    tag = remote.source.short(10)
    result = run_ci("deploy", "--env", "dev", "--tag", tag, cwd=checkout)
    assert result.returncode == 0, result.stderr
    assert git("rev-parse", "main^", cwd=remote.bare).strip() == remote.source.commits[-1]
    # The pipeline's checkout is left as it was.
    assert git("status", "--porcelain", cwd=checkout) == ""
    assert git("rev-parse", "HEAD", cwd=checkout).strip() == remote.source.commits[-3]


def test_promote_copies_the_tag_between_environments(remote):
    tag = remote.source.short(6)
    assert run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", tag).returncode == 0
    result = run_ci("promote", "--repo", remote.url, "--from", "dev", "--to", "prod")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"promote(prod): {SERVICE_NAME} {tag} from dev [skip ci]")
    assert tag_of(remote, PROD) == tag
    again = run_ci("promote", "--repo", remote.url, "--from", "dev", "--to", "prod")
    assert again.stdout == f"prod already runs {SERVICE_NAME} {tag}: nothing to do\n"


def test_rollback_to_previous_tag_and_to_an_explicit_tag(remote):
    first, second = remote.source.short(1), remote.source.short(2)
    for tag in (first, second):
        assert run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", tag).returncode == 0
    result = run_ci("rollback", "--repo", remote.url, "--env", "dev")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(
        f"rollback(dev): {SERVICE_NAME} {first} (was {second}) [skip ci]: pushed "
    )
    assert tag_of(remote) == first
    explicit = run_ci("rollback", "--repo", remote.url, "--env", "dev", "--to", "0.0.0-bootstrap")
    assert explicit.returncode == 0
    assert tag_of(remote) == "0.0.0-bootstrap"


def test_rollback_finds_the_previous_tag_far_back_in_history(remote, tmp_path):
    first, second = remote.source.short(3), remote.source.short(4)
    assert run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", first).returncode == 0
    work = tmp_path / "work"
    git("clone", "-q", remote.url, str(work), cwd=tmp_path)
    for number in range(50):
        (work / "main.py").write_text(f"VERSION = 'between {number}'\n")
        git("commit", "-q", "-am", f"between {number}", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    forced = run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", second, "--force")
    assert forced.returncode == 0
    result = run_ci("rollback", "--repo", remote.url, "--env", "dev", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert f'+  tag: "{first}"' in result.stdout.splitlines()


def pipeline_of(remote, path: str = DEV) -> str | None:
    return read_image(show(remote.bare, path)).pipeline_url


def pipeline_env(number: int, commit: str = "") -> dict[str, str]:
    """The variables of pipeline ``number``, which built ``commit`` (its own build)."""
    return {
        "CI_PIPELINE_URL": f"https://gitlab.example/group/{SERVICE_NAME}/-/pipelines/{number}",
        "CI_COMMIT_SHA": commit,
    }


def test_deploy_writes_the_pipeline_url_and_a_laptop_deploy_removes_a_stale_one(remote):
    first, second, third = (remote.source.short(n) for n in (1, 2, 3))
    deployed = run_ci(
        "deploy",
        "--repo",
        remote.url,
        "--env",
        "dev",
        "--tag",
        first,
        env=pipeline_env(1, remote.source.commits[1]),
    )
    assert deployed.returncode == 0, deployed.stderr
    assert pipeline_of(remote) == pipeline_env(1)["CI_PIPELINE_URL"]
    written = show(remote.bare, DEV)
    assert written.endswith(
        f'  tag: "{first}"\n  pipelineUrl: "{pipeline_env(1)["CI_PIPELINE_URL"]}"\n'
    )

    # The same tag again, from the same or another pipeline: the tag is what matters, no commit.
    before = tip(remote)
    for number in (1, 9):
        again = run_ci(
            "deploy", "--repo", remote.url, "--env", "dev", "--tag", first, env=pipeline_env(number)
        )
        assert again.stdout == f"dev already runs {SERVICE_NAME} {first}: nothing to do\n"
    assert tip(remote) == before

    # A newer build from another pipeline replaces the URL in place.
    assert (
        run_ci(
            "deploy",
            "--repo",
            remote.url,
            "--env",
            "dev",
            "--tag",
            second,
            env=pipeline_env(2, remote.source.commits[2]),
        ).returncode
        == 0
    )
    assert show(remote.bare, DEV) == written.replace(first, second).replace(
        "/pipelines/1", "/pipelines/2"
    )

    # A deploy from a laptop (no CI_PIPELINE_URL) must not leave the link of another build.
    laptop = run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", third)
    assert laptop.returncode == 0, laptop.stderr
    assert pipeline_of(remote) is None
    assert show(remote.bare, DEV) == show(remote.bare, PROD).replace("prod", "dev").replace(
        '"0.0.0-bootstrap"', f'"{third}"'
    )


def test_a_url_the_chart_would_reject_is_not_written(remote):
    env = {"CI_PIPELINE_URL": "file:///not a link|x"}
    result = run_ci(
        "deploy", "--repo", remote.url, "--env", "dev", "--tag", remote.source.short(1), env=env
    )
    assert result.returncode == 0, result.stderr
    assert pipeline_of(remote) is None


def test_a_pipeline_deploying_another_builds_tag_does_not_credit_itself(remote):
    """Provenance is the build's: a manual deploy of an older tag from pipeline 7 (commit 9)
    writes no link to pipeline 7, no Source-Commit of commit 9, and says which pipeline ran it."""
    own, other = remote.source.short(1), remote.source.short(2)
    env = pipeline_env(1, remote.source.commits[1])
    assert (
        run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", own, env=env).returncode
        == 0
    )
    deployer = pipeline_env(7, remote.source.commits[9])
    result = run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", other, env=deployer)
    assert result.returncode == 0, result.stderr
    assert pipeline_of(remote) is None
    message = git("log", "-1", "--format=%B", "main", cwd=remote.bare)
    assert f"Source-Commit: {remote.source.commits[2]}" in message
    assert remote.source.commits[9] not in message
    assert f"Run-By-Pipeline: {deployer['CI_PIPELINE_URL']}" in message
    assert "\nPipeline:" not in message
    # The pipeline's own build, named by its build.env (IMAGE_TAG), is credited whatever its tag.
    built = {**deployer, "IMAGE_TAG": "release-7"}
    again = run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", "release-7", env=built)
    assert again.returncode == 0, again.stderr
    assert pipeline_of(remote) == deployer["CI_PIPELINE_URL"]


def test_promote_copies_the_pipeline_url_or_its_absence(remote):
    first, second = remote.source.short(1), remote.source.short(2)
    assert (
        run_ci(
            "deploy",
            "--repo",
            remote.url,
            "--env",
            "dev",
            "--tag",
            first,
            env=pipeline_env(1, remote.source.commits[1]),
        ).returncode
        == 0
    )
    promoted = run_ci("promote", "--repo", remote.url, "--from", "dev", "--to", "prod")
    assert promoted.returncode == 0, promoted.stderr
    assert (tag_of(remote, PROD), pipeline_of(remote, PROD)) == (
        first,
        pipeline_env(1)["CI_PIPELINE_URL"],
    )

    assert run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", second).returncode == 0
    promoted = run_ci("promote", "--repo", remote.url, "--from", "dev", "--to", "prod")
    assert promoted.returncode == 0, promoted.stderr
    assert (tag_of(remote, PROD), pipeline_of(remote, PROD)) == (second, None)
    assert show(remote.bare, PROD) == show(remote.bare, DEV).replace("dev", "prod")


def test_rollback_restores_the_pipeline_url_recorded_with_the_tag(remote):
    first, second, third = (remote.source.short(n) for n in (1, 2, 3))
    for number, tag in ((1, first), (2, second)):
        env = pipeline_env(number, remote.source.commits[number])
        result = run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", tag, env=env)
        assert result.returncode == 0, result.stderr
    assert run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", third).returncode == 0
    assert pipeline_of(remote) is None

    back = run_ci("rollback", "--repo", remote.url, "--env", "dev")
    assert back.returncode == 0, back.stderr
    assert (tag_of(remote), pipeline_of(remote)) == (second, pipeline_env(2)["CI_PIPELINE_URL"])

    explicit = run_ci("rollback", "--repo", remote.url, "--env", "dev", "--to", first)
    assert explicit.returncode == 0, explicit.stderr
    assert (tag_of(remote), pipeline_of(remote)) == (first, pipeline_env(1)["CI_PIPELINE_URL"])

    # A tag that ran without a pipeline: no URL, and no pipelineUrl line left behind.
    bootstrap = run_ci("rollback", "--repo", remote.url, "--env", "dev", "--to", "0.0.0-bootstrap")
    assert bootstrap.returncode == 0, bootstrap.stderr
    assert (tag_of(remote), pipeline_of(remote)) == ("0.0.0-bootstrap", None)
    assert show(remote.bare, DEV) == show(remote.bare, PROD).replace("prod", "dev")

    back = run_ci("rollback", "--repo", remote.url, "--env", "dev", "--to", second)
    assert back.returncode == 0, back.stderr
    assert (tag_of(remote), pipeline_of(remote)) == (second, pipeline_env(2)["CI_PIPELINE_URL"])


def test_rollback_without_history_fails_cleanly(remote):
    result = run_ci("rollback", "--repo", remote.url, "--env", "prod")
    assert result.returncode == 1
    assert result.stderr == (
        f"error: no earlier build to roll back to in the history of {PROD} (builds rolled back"
        " from are skipped): nothing pushed\n"
    )


def test_status_table_and_json(remote):
    tag = remote.source.short(7)
    env = {**GITLAB, "CI_COMMIT_SHA": remote.source.commits[7]}
    assert (
        run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", tag, env=env).returncode
        == 0
    )
    table = run_ci("status", "--repo", remote.url)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert re.split(r"\s{2,}", lines[0]) == [
        "ENVIRONMENT",
        "TAG",
        "SET AT",
        "SET BY",
        "HOLD",
        "SOURCE COMMIT",
    ]
    dev = re.split(r"\s{2,}", lines[1])
    assert dev[0:2] == ["dev", tag]
    assert dev[3] == "alice <alice@example.com>"
    assert dev[4] == "-"
    assert dev[5] == f"{tag} feature 8"
    prod = re.split(r"\s{2,}", lines[2])
    assert prod[0:2] == ["prod", "0.0.0-bootstrap"]
    assert prod[3] == f"{PERSON['GIT_AUTHOR_NAME']} <{PERSON['GIT_AUTHOR_EMAIL']}>"
    assert len(lines) == 3

    data = json.loads(run_ci("status", "--repo", remote.url, "--env", "dev", "--json").stdout)
    assert [row["env"] for row in data] == ["dev"]
    assert data[0]["tag"] == tag
    assert data[0]["source_commit"] == remote.source.commits[7]
    assert data[0]["source_subject"] == "feature 8"
    assert data[0]["commit"] == tip(remote)
