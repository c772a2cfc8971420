"""``ci.gitops.remote``: the write-back's git against real servers (file://, `git daemon`, smart
HTTP with basic auth through nginx). Pushes are read from git's porcelain status only (a refusal
is one line, not retried; failure words from an accepting hook are no failure); credentials come
from the variables or the URL with any character, and never reach argv, output or a file; a
failed clone is one line."""

import time
import urllib.parse
from pathlib import Path

import pytest

from tests.support.cli import deploy_args, run_ci, start_ci
from tests.support.git_remotes import git_daemon, http_git_server, install_hook, show
from tests.support.tools import require_tools

pytestmark = pytest.mark.integration

DEV = "gitops/dev/values.yaml"
PASSWORD = "s3cret-Token-value-42"


def test_missing_repository_exits_1(tmp_path):
    result = run_ci("status", "--repo", str(tmp_path / "absent.git"))
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"error: git clone failed for {(tmp_path / 'absent.git').as_uri()}: "
    )
    assert result.stderr.count("\n") == 1


def test_refused_push_is_not_retried_and_says_why(remote):
    hook = remote.bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'protected branch: deploys need approval'\nexit 1\n")
    hook.chmod(0o755)
    before = remote.tip()
    result = run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", remote.source.short(1))
    assert result.returncode == 1
    assert result.stderr == (
        f"error: push to {remote.url} refused: [remote rejected] (pre-receive hook declined):"
        " protected branch: deploys need approval\n"
    )
    assert remote.tip() == before


def test_a_hook_that_refuses_with_race_words_stops_at_once_with_its_message(remote):
    counter = remote.bare / "hook-runs"
    install_hook(
        remote.bare,
        "pre-receive",
        f"""\
        cat >/dev/null
        echo run >> "{counter}"
        echo "error: failed to push some refs: non-fast-forward (fetch first)" >&2
        echo "hint: Updates were rejected because the tip of your current branch is behind" >&2
        echo "GitLab: You are not allowed to push code to protected branches on this project."
        exit 1
        """,
    )
    before = remote.tip()
    result = run_ci(*deploy_args(remote.url, remote.source.short(2)))
    assert result.returncode == 1
    assert counter.read_text() == "run\n"  # not retried
    assert "retrying" not in result.stderr
    assert "push refused (" not in result.stderr
    line = result.stderr.splitlines()[-1]
    assert line.startswith(
        f"error: push to {remote.url} refused: [remote rejected] (pre-receive hook declined): "
    )
    assert "You are not allowed to push code to protected branches" in line
    assert len(result.stderr.splitlines()) == 1
    assert remote.tip() == before


def test_a_hook_that_accepts_but_prints_failure_words_is_a_success(remote):
    install_hook(
        remote.bare,
        "post-receive",
        """\
        cat >/dev/null
        echo "error: [rejected] non-fast-forward; fatal: push refused" >&2
        exit 1
        """,
    )
    tag = remote.source.short(2)
    result = run_ci(*deploy_args(remote.url, tag))
    assert result.returncode == 0, result.stderr
    assert ": pushed " in result.stdout
    assert f'  tag: "{tag}"' in show(remote.bare, DEV)


def test_deploy_over_git_daemon(remote):
    require_tools("git")
    with git_daemon(remote.bare.parent) as base:
        url = f"{base}/{remote.bare.name}"
        tag = remote.source.short(3)
        result = run_ci("deploy", "--repo", url, "--env", "dev", "--tag", tag)
        assert result.returncode == 0, result.stderr
        assert f'  tag: "{tag}"' in show(remote.bare, "gitops/dev/values.yaml")
        status = run_ci("status", "--repo", url, "--env", "dev")
        assert status.returncode == 0, status.stderr
        assert status.stdout.splitlines()[1].split()[:2] == ["dev", tag]


def test_rollback_hold_and_unhold_over_git_daemon(remote):
    require_tools("git")
    with git_daemon(remote.bare.parent) as base:
        url = f"{base}/{remote.bare.name}"
        first, second = remote.source.short(1), remote.source.short(2)
        for tag in (first, second):
            assert run_ci("deploy", "--repo", url, "--env", "dev", "--tag", tag).returncode == 0
        back = run_ci("rollback", "--repo", url, "--env", "dev")
        assert back.returncode == 0, back.stderr
        assert f'  tag: "{first}"' in show(remote.bare, "gitops/dev/values.yaml")
        held = run_ci("deploy", "--repo", url, "--env", "dev", "--tag", remote.source.short(3))
        assert held.returncode == 1
        assert "dev is held by" in held.stderr
        released = run_ci("unhold", "--repo", url, "--env", "dev")
        assert released.returncode == 0, released.stderr
        again = run_ci("deploy", "--repo", url, "--env", "dev", "--tag", remote.source.short(3))
        assert again.returncode == 0, again.stderr


@pytest.fixture
def http_remote(remote, tmp_path):
    with http_git_server(
        remote.bare.parent, "gitlab-ci-token", PASSWORD, tmp_path / "nginx"
    ) as base:
        yield remote, f"{base}/{remote.bare.name}"


def _assert_secret_nowhere(result, tmp_path):
    assert PASSWORD not in result.stdout
    assert PASSWORD not in result.stderr
    for config in tmp_path.rglob("config"):
        if config.is_file():
            assert PASSWORD not in config.read_text(errors="replace")


def test_deploy_over_http_with_the_job_token(http_remote, tmp_path):
    remote, url = http_remote
    tag = remote.source.short(4)
    result = run_ci(
        "deploy", "--repo", url, "--env", "dev", "--tag", tag, env={"CI_JOB_TOKEN": PASSWORD}
    )
    assert result.returncode == 0, result.stderr
    assert f'  tag: "{tag}"' in show(remote.bare, "gitops/dev/values.yaml")
    _assert_secret_nowhere(result, tmp_path)


def test_deploy_over_http_with_an_access_token_variable(http_remote, tmp_path):
    remote, url = http_remote
    tag = remote.source.short(5)
    env = {"GITOPS_TOKEN": PASSWORD, "GITOPS_USERNAME": "gitlab-ci-token", "CI_JOB_TOKEN": "other"}
    result = run_ci("deploy", "--repo", url, "--env", "dev", "--tag", tag, env=env)
    assert result.returncode == 0, result.stderr
    _assert_secret_nowhere(result, tmp_path)


def test_wrong_password_fails_without_showing_it(http_remote, tmp_path):
    remote, url = http_remote
    before = remote.tip()
    wrong = "wrong-Password-value-17"
    result = run_ci(
        "deploy", "--repo", url, "--env", "dev", "--tag", "abc", env={"CI_JOB_TOKEN": wrong}
    )
    assert result.returncode == 1
    assert result.stderr == f"error: authentication to {url} failed as gitlab-ci-token\n"
    assert wrong not in result.stdout + result.stderr
    assert remote.tip() == before


def test_credentials_in_the_url_are_neither_printed_nor_kept(http_remote, tmp_path):
    remote, url = http_remote
    with_secret = url.replace("http://", f"http://gitlab-ci-token:{PASSWORD}@")
    result = run_ci(
        "deploy", "--repo", with_secret, "--env", "dev", "--tag", remote.source.short(6)
    )
    assert result.returncode == 0, result.stderr
    _assert_secret_nowhere(result, tmp_path)
    wrong = url.replace("http://", "http://gitlab-ci-token:wrong-in-url-99@")
    failed = run_ci("status", "--repo", wrong)
    assert failed.returncode == 1
    assert failed.stderr == f"error: authentication to {url} failed as gitlab-ci-token\n"
    assert "wrong-in-url-99" not in failed.stdout + failed.stderr


def test_no_credentials_fails_cleanly(http_remote):
    _, url = http_remote
    result = run_ci("status", "--repo", url)
    assert result.returncode == 1
    assert result.stderr == f"error: authentication to {url} failed (no credentials)\n"


def _secret_nowhere(result, tmp_path: Path, secret) -> None:
    for text in (result.stdout, result.stderr):
        assert secret not in text
        assert urllib.parse.quote(secret, safe="") not in text
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.name != "htpasswd" and path.stat().st_size < 1_000_000:
            assert secret.encode() not in path.read_bytes(), path


def test_a_token_with_any_character_works_verbatim_from_the_variable(
    deployer_remote, tmp_path, secret
):
    remote, url = deployer_remote
    env = {"GITOPS_TOKEN": secret, "GITOPS_USERNAME": "deployer", "TMPDIR": str(tmp_path)}
    result = run_ci(*deploy_args(url, remote.source.short(3)), env=env)
    assert result.returncode == 0, result.stderr
    _secret_nowhere(result, tmp_path, secret)
    wrong = run_ci(
        *deploy_args(url, remote.source.short(4)),
        env={**env, "GITOPS_TOKEN": secret.replace("\\", "")},
    )
    assert wrong.returncode == 1
    assert wrong.stderr == f"error: authentication to {url} failed as deployer\n"


def test_a_percent_encoded_url_password_with_any_character_works(deployer_remote, tmp_path, secret):
    remote, url = deployer_remote
    encoded = urllib.parse.quote(secret, safe="")
    with_password = url.replace("http://", f"http://deployer:{encoded}@")
    result = run_ci(
        *deploy_args(with_password, remote.source.short(3)), env={"TMPDIR": str(tmp_path)}
    )
    assert result.returncode == 0, result.stderr
    _secret_nowhere(result, tmp_path, secret)
    assert encoded not in result.stdout + result.stderr


def test_a_secret_never_appears_in_any_processs_argv(deployer_remote, tmp_path, secret):
    """While the push waits in a slow hook, no process on the machine has the token in argv."""
    remote, url = deployer_remote
    started = remote.bare / "hook-started"
    install_hook(
        remote.bare, "pre-receive", f'cat >/dev/null; touch "{started}"; sleep 3; exit 0\n'
    )
    process = start_ci(
        *deploy_args(url, remote.source.short(3)),
        env={"GITOPS_TOKEN": secret, "GITOPS_USERNAME": "deployer", "TMPDIR": str(tmp_path)},
    )
    try:
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started.exists()
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                assert secret.encode() not in cmdline.read_bytes()
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
    finally:
        _stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
