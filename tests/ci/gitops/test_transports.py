"""The same write-back over `git daemon` and over smart HTTP with basic auth (credentials)."""

import socket

import pytest

import harness.network
from app import SERVICE_NAME
from harness.network import free_port
from tests.support.cli import run_ci, start_ci
from tests.support.git_remotes import git, git_daemon, http_git_server, show
from tests.support.tools import require_tools

PASSWORD = "s3cret-Token-value-42"


@pytest.mark.integration
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


@pytest.mark.integration
@pytest.mark.parametrize("server", ["git daemon", "nginx"])
def test_a_port_taken_before_the_server_binds_it_is_tried_again_on_another(
    server, remote, tmp_path, monkeypatch
):
    """The free-port race, forced: the first port picked is already listened on by this test."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        picks = iter([taken.getsockname()[1], free_port()])
        monkeypatch.setattr(harness.network, "free_port", lambda: next(picks))
        if server == "git daemon":
            serving = git_daemon(remote.bare.parent)
        else:
            user = "gitlab-ci-token"
            serving = http_git_server(remote.bare.parent, user, PASSWORD, tmp_path / "nginx")
        with serving as base:
            assert not base.endswith(f":{taken.getsockname()[1]}")
            url = f"{base}/{remote.bare.name}"
            status = run_ci("status", "--repo", url, env={"CI_JOB_TOKEN": PASSWORD})
            assert status.returncode == 0, status.stderr


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


@pytest.mark.integration
def test_deploy_over_http_with_the_job_token(http_remote, tmp_path):
    remote, url = http_remote
    tag = remote.source.short(4)
    result = run_ci(
        "deploy", "--repo", url, "--env", "dev", "--tag", tag, env={"CI_JOB_TOKEN": PASSWORD}
    )
    assert result.returncode == 0, result.stderr
    assert f'  tag: "{tag}"' in show(remote.bare, "gitops/dev/values.yaml")
    _assert_secret_nowhere(result, tmp_path)


@pytest.mark.integration
def test_deploy_over_http_with_an_access_token_variable(http_remote, tmp_path):
    remote, url = http_remote
    tag = remote.source.short(5)
    env = {"GITOPS_TOKEN": PASSWORD, "GITOPS_USERNAME": "gitlab-ci-token", "CI_JOB_TOKEN": "other"}
    result = run_ci("deploy", "--repo", url, "--env", "dev", "--tag", tag, env=env)
    assert result.returncode == 0, result.stderr
    _assert_secret_nowhere(result, tmp_path)


@pytest.mark.integration
def test_wrong_password_fails_without_showing_it(http_remote, tmp_path):
    remote, url = http_remote
    before = git("rev-parse", "main", cwd=remote.bare).strip()
    wrong = "wrong-Password-value-17"
    result = run_ci(
        "deploy", "--repo", url, "--env", "dev", "--tag", "abc", env={"CI_JOB_TOKEN": wrong}
    )
    assert result.returncode == 1
    assert result.stderr == f"error: authentication to {url} failed as gitlab-ci-token\n"
    assert wrong not in result.stdout + result.stderr
    assert git("rev-parse", "main", cwd=remote.bare).strip() == before


@pytest.mark.integration
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


@pytest.mark.integration
def test_no_credentials_fails_cleanly(http_remote):
    _, url = http_remote
    result = run_ci("status", "--repo", url)
    assert result.returncode == 1
    assert result.stderr == f"error: authentication to {url} failed (no credentials)\n"


@pytest.mark.integration
def test_a_remote_that_comes_up_late_is_retried(remote):
    """The remote refuses connections at first (a flaky network), then answers."""
    port = free_port()
    tag = remote.source.short(2)
    url = f"git://127.0.0.1:{port}/{remote.bare.name}"
    process = start_ci("deploy", "--repo", url, "--env", "dev", "--tag", tag)
    try:
        first = process.stderr.readline()  # the first try failed and a retry is coming
        with git_daemon(remote.bare.parent, port=port):
            stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert first.startswith(f"warning: git clone failed for {url}: unable to connect to 127.0.0.1")
    assert first.rstrip().endswith("; retrying")
    assert process.returncode == 0, stderr
    assert stdout.startswith(f"deploy(dev): {SERVICE_NAME} {tag} [skip ci]: pushed ")
    assert f'  tag: "{tag}"' in show(remote.bare, "gitops/dev/values.yaml")


@pytest.mark.integration
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
