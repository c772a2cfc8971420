"""``ci.commands.write_back``, what deploy, promote and rollback share, in this process against a
real gitops remote and a real HTTP server answering as Argo CD: ``--wait`` (``GITOPS_WAIT``) waits
for the commit pushed, its settings are checked before anything is pushed; and the ``--reason`` and
the person a write-back records."""

import pytest

from app import SERVICE_NAME
from ci.commands.write_back import reason, who
from ci.errors import UsageError
from ci.gitlab import GitLabContext
from tests.ci.wait.fake_argocd import APP, TOKEN, follow_the_branch, settings
from tests.ci.wait.recorded import recorded


def write_back(run, remote, *args: str, **extra: str):
    result = run(*args, "--repo", remote.url, env=extra)
    assert TOKEN not in result.stdout + result.stderr
    return result


def test_deploy_promote_and_rollback_wait_for_the_commit_they_pushed(ci, remote, argocd):
    argocd.apps = (f"{SERVICE_NAME}-dev", f"{SERVICE_NAME}-prod")
    argocd.follow = follow_the_branch(remote)
    env = settings(argocd.url)
    first = write_back(ci, remote, "deploy", "--env", "dev", "--tag", "1a2b3c4d", "--wait", **env)
    assert first.returncode == 0, first.stderr
    pushed = remote.tip()
    assert f"pushed {pushed[:12]} to main" in first.stdout
    assert f"deployed: {SERVICE_NAME}-dev {remote.image()} at {pushed[:12]}" in first.stdout

    second = write_back(
        ci, remote, "deploy", "--env", "dev", "--tag", "5e6f7a8b", **env, GITOPS_WAIT="true"
    )
    assert second.returncode == 0, second.stderr
    assert f"deployed: {SERVICE_NAME}-dev {remote.image()} at {remote.tip()[:12]}" in (
        second.stdout
    )

    promoted = write_back(ci, remote, "promote", "--from", "dev", "--to", "prod", "--wait", **env)
    assert promoted.returncode == 0, promoted.stderr
    assert f"deployed: {SERVICE_NAME}-prod {remote.image('prod')} at" in promoted.stdout

    back = write_back(ci, remote, "rollback", "--env", "dev", "--wait", **env)
    assert back.returncode == 0, back.stderr
    assert f"registry.example/{SERVICE_NAME}:1a2b3c4d" in remote.image()
    assert f"deployed: {SERVICE_NAME}-dev {remote.image()} at {remote.tip()[:12]}" in (back.stdout)


def test_deploy_wait_fails_when_argo_cd_reports_the_pushed_commit_degraded(ci, remote, argocd):
    argocd.follow = follow_the_branch(remote, "degraded")
    argocd.tree = recorded("degraded-tree")
    env = settings(argocd.url)
    result = write_back(ci, remote, "deploy", "--env", "dev", "--tag", "1a2b3c4d", "--wait", **env)
    assert result.returncode == 1
    assert "pushed" in result.stdout  # the commit landed; the build does not run
    assert result.stderr.startswith(f"error: failed: {APP} {remote.image()} at {remote.tip()[:12]}")


def test_a_stale_deploy_with_wait_is_superseded(ci, remote, argocd):
    argocd.follow = follow_the_branch(remote)
    env = settings(argocd.url)
    newer = write_back(ci, remote, "deploy", "--env", "dev", "--tag", "5e6f7a8b", **env)
    assert newer.returncode == 0
    # Tags are commits of the source repo: the remote's first commits are older builds.
    from tests.support.git_remotes import git

    old, new = (git("rev-parse", f"main~{n}", cwd=remote.bare).strip()[:8] for n in (5, 2))
    assert write_back(ci, remote, "deploy", "--env", "dev", "--tag", new, **env).returncode == 0
    stale = write_back(ci, remote, "deploy", "--env", "dev", "--tag", old, "--wait", **env)
    assert stale.returncode == 3, stale.stderr
    assert stale.stdout.splitlines()[-1] == (
        "superseded: a newer build than the one asked for already runs in dev"
    )


def test_auto_without_argocd_server_pushes_and_says_nothing_was_verified(ci, remote):
    before = remote.tip()
    result = write_back(
        ci, remote, "deploy", "--env", "dev", "--tag", "1a2b3c4d", GITOPS_WAIT="auto"
    )
    assert result.returncode == 0, result.stderr
    assert remote.tip() != before
    assert result.stdout.splitlines()[-1] == (
        "not verified: ARGOCD_SERVER is not set, so nobody checked that Argo CD runs this build"
        " (set it and ARGOCD_AUTH_TOKEN to wait for the deploy)"
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"GITOPS_WAIT": "true"}, "error: ARGOCD_SERVER is not set"),
        ({"GITOPS_WAIT": "sometimes"}, "error: GITOPS_WAIT must be true, false or auto, not"),
        (
            {"GITOPS_WAIT": "auto", "ARGOCD_SERVER": "http://127.0.0.1:1", "WAIT_TIMEOUT": "-1"},
            "error: WAIT_TIMEOUT must be a positive number of seconds, got '-1'",
        ),
    ],
)
def test_wait_settings_are_checked_before_anything_is_pushed(ci, remote, extra, message):
    before = remote.tip()
    result = write_back(ci, remote, "deploy", "--env", "dev", "--tag", "1a2b3c4d", **extra)
    assert result.returncode == 2
    assert result.stderr.startswith(message)
    assert remote.tip() == before


def test_a_redeploy_with_nothing_to_change_waits_for_the_commit_that_set_the_image(
    ci, remote, argocd
):
    argocd.follow = follow_the_branch(remote)
    env = settings(argocd.url)
    first = write_back(ci, remote, "deploy", "--env", "dev", "--tag", "1a2b3c4d", **env)
    assert first.returncode == 0, first.stderr
    setter = remote.tip()
    remote.commit("gitops/prod/values.yaml", lambda t: t + "# note\n", "prod: a comment")
    again = write_back(ci, remote, "deploy", "--env", "dev", "--tag", "1a2b3c4d", "--wait", **env)
    assert again.returncode == 0, again.stderr
    assert f"dev already runs {SERVICE_NAME} 1a2b3c4d: nothing to do" in again.stdout
    assert f"deployed: {APP} {remote.image()} at {setter[:12]}" in again.stdout


def test_a_reason_is_one_line_of_at_most_500_characters() -> None:
    assert reason("  freeze:\n release   day ", required=True) == "freeze: release day"
    assert reason(None, required=False) is None
    with pytest.raises(UsageError, match=r"^--reason is required \(say why"):
        reason(" \n ", required=True)
    assert reason("x" * 500, required=True) == "x" * 500
    with pytest.raises(UsageError, match=r"^--reason is 501 characters long; at most 500$"):
        reason("x" * 501, required=False)


def test_who_acts_is_the_gitlab_user_with_the_email_known() -> None:
    assert who(GitLabContext(user_login="alice", user_email="a@x")) == "alice <a@x>"
    assert who(GitLabContext(user_login="alice")) == "alice"
