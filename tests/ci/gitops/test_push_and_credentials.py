"""Pushing against real servers: refusals read from git's porcelain status only, any character in a
secret, no secret anywhere, and SIGTERM/timeouts that end git's process group and say truthfully
whether the commit landed."""

import os
import secrets
import signal
import time
import urllib.parse
from pathlib import Path

import pytest

from ci.gitops.credentials import default_repo
from tests.support.cli import run_ci, start_ci
from tests.support.git_remotes import git, http_git_server, install_hook, show

DEV = "gitops/dev/values.yaml"
# Every character the issue names, and then some: / # ? \ % $ " ' spaces, a colon, non-ASCII.
# Each test adds its own suffix: the scans of /proc must not see another run's processes.
SECRET = "p/#?\\ %$\"' x:é\\n@&+=t0ken"


@pytest.fixture
def secret() -> str:
    return f"{SECRET}-{secrets.token_hex(8)}"


def tip(remote) -> str:
    return git("rev-parse", "main", cwd=remote.bare).strip()


def deploy_args(url: str, tag: str) -> list[str]:
    return ["deploy", "--repo", url, "--env", "dev", "--tag", tag]


# -- refusals -------------------------------------------------------------------------------------


@pytest.mark.integration
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
    before = tip(remote)
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
    assert tip(remote) == before


@pytest.mark.integration
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


# -- default remote -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "url"),
    [
        (
            {"CI_PROJECT_URL": "https://git.example.com:8443/gitlab/acme/app"},
            "https://git.example.com:8443/gitlab/acme/app.git",
        ),
        (
            {
                "CI_SERVER_URL": "https://git.example.com:8443/gitlab",
                "CI_SERVER_HOST": "git.example.com",
                "CI_PROJECT_PATH": "acme/app",
            },
            "https://git.example.com:8443/gitlab/acme/app.git",
        ),
        (
            {"CI_SERVER_HOST": "gitlab.example", "CI_PROJECT_PATH": "acme/app"},
            "https://gitlab.example/acme/app.git",
        ),
    ],
)
def test_the_default_remote_keeps_a_self_hosted_gitlabs_port_and_sub_path(environ, url):
    assert default_repo(environ) == url


# -- credentials ----------------------------------------------------------------------------------


@pytest.fixture
def http_remote(remote, tmp_path, secret):
    with http_git_server(remote.bare.parent, "deployer", secret, tmp_path / "nginx") as base:
        yield remote, f"{base}/{remote.bare.name}"


def _secret_nowhere(result, tmp_path: Path, secret) -> None:
    for text in (result.stdout, result.stderr):
        assert secret not in text
        assert urllib.parse.quote(secret, safe="") not in text
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.name != "htpasswd" and path.stat().st_size < 1_000_000:
            assert secret.encode() not in path.read_bytes(), path


@pytest.mark.integration
def test_a_token_with_any_character_works_verbatim_from_the_variable(http_remote, tmp_path, secret):
    remote, url = http_remote
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


@pytest.mark.integration
def test_a_percent_encoded_url_password_with_any_character_works(http_remote, tmp_path, secret):
    remote, url = http_remote
    encoded = urllib.parse.quote(secret, safe="")
    with_password = url.replace("http://", f"http://deployer:{encoded}@")
    result = run_ci(
        *deploy_args(with_password, remote.source.short(3)), env={"TMPDIR": str(tmp_path)}
    )
    assert result.returncode == 0, result.stderr
    _secret_nowhere(result, tmp_path, secret)
    assert encoded not in result.stdout + result.stderr


@pytest.mark.integration
@pytest.mark.parametrize(
    "userinfo",
    [
        "deployer:Zq#9 xY",  # "#" ends the authority: the rest would look like a fragment
        "deployer:p%zzass",  # not a percent-encoding
        "deployer:pa ss",  # a raw space
        'deployer:pa"ss',  # a raw quote
    ],
)
def test_malformed_user_info_is_refused_without_echoing_it(remote, userinfo):
    secret = userinfo.split(":", 1)[1]
    result = run_ci(*deploy_args(f"https://{userinfo}@gitlab.example:8443/acme/app.git", "abc"))
    assert result.returncode == 2
    assert result.stderr.startswith("error: --repo: the URL's user:password part is malformed")
    assert len(result.stderr.splitlines()) == 1
    for fragment in (secret, secret[:4], secret[-4:]):
        assert fragment not in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.integration
def test_a_password_in_an_ssh_url_is_refused_not_passed_to_git(remote):
    result = run_ci(*deploy_args("ssh://deployer:Zq9xY@gitlab.example:2222/acme/app.git", "abc"))
    assert result.returncode == 2
    assert result.stderr == (
        "error: --repo: a password in a ssh URL is not supported (not shown); use an https URL"
        " or GITOPS_TOKEN\n"
    )


@pytest.mark.integration
def test_a_secret_never_appears_in_any_processs_argv(http_remote, tmp_path, secret):
    """While the push waits in a slow hook, no process on the machine has the token in argv."""
    remote, url = http_remote
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


# -- interrupted and timed-out pushes ------------------------------------------------------------


def _processes_holding(secret: str) -> list[int]:
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if secret.encode() in environ.read_bytes():
                found.append(int(environ.parent.name))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return found


@pytest.mark.integration
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_mid_push_ends_git_removes_the_clone_and_says_nothing_landed(
    http_remote, tmp_path, sig, secret
):
    remote, url = http_remote
    started = remote.bare / "hook-started"
    install_hook(
        remote.bare, "pre-receive", f'cat >/dev/null; touch "{started}"; sleep 8; exit 1\n'
    )
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    before = tip(remote)
    process = start_ci(
        *deploy_args(url, remote.source.short(3)),
        env={"GITOPS_TOKEN": secret, "GITOPS_USERNAME": "deployer", "TMPDIR": str(scratch)},
    )
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert started.exists()
    assert _processes_holding(secret), "git-remote-http should hold the token while pushing"
    os.kill(process.pid, sig)
    _stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: interrupted during the push: ")
    assert lines[0].endswith("did not land (nothing pushed)")
    assert _processes_holding(secret) == []  # the whole group ended, nothing orphaned
    assert list(scratch.iterdir()) == []  # temp clones removed
    assert tip(remote) == before  # (the server-side hook still sleeps; it then refuses)


@pytest.mark.integration
def test_a_signal_after_the_ref_moved_says_the_commit_landed(http_remote, tmp_path, secret):
    remote, url = http_remote
    started = remote.bare / "hook-started"
    install_hook(remote.bare, "post-receive", f'cat >/dev/null; touch "{started}"; sleep 8\n')
    process = start_ci(
        *deploy_args(url, remote.source.short(3)),
        env={"GITOPS_TOKEN": secret, "GITOPS_USERNAME": "deployer", "TMPDIR": str(tmp_path)},
    )
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    landed = tip(remote)
    assert stderr == (
        f"error: interrupted, but {landed[:12]} had landed: main now has the commit\n"
    )


@pytest.mark.integration
def test_a_push_that_times_out_ends_git_and_says_whether_it_landed(remote, tmp_path):
    # Each git command may take 8 s (ample for a local clone on a loaded machine); the hook 30.
    install_hook(remote.bare, "pre-receive", "cat >/dev/null; sleep 30; exit 1\n")
    before = tip(remote)
    started = time.monotonic()
    result = run_ci(
        *deploy_args(remote.url, remote.source.short(3)),
        env={"GITOPS_GIT_TIMEOUT": "8", "TMPDIR": str(tmp_path)},
    )
    assert time.monotonic() - started < 28
    assert result.returncode == 1
    assert result.stderr == (
        f"error: git push against {remote.url} timed out after 8s during the push: "
        f"{result.stderr.split('push: ')[1].split()[0]} did not land (nothing pushed)\n"
    )
    assert list(tmp_path.glob("ci-*")) == []
    assert tip(remote) == before
