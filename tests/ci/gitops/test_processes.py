"""``ci.gitops.processes``: SIGTERM, Ctrl-C and timeouts end git's whole process group (nothing
holding the token outlives the command, the temp clone is gone), and the one line says truthfully
whether the commit landed."""

import os
import signal
import time
from pathlib import Path

import pytest

from tests.support.cli import deploy_args, run_ci, start_ci
from tests.support.git_remotes import install_hook

pytestmark = pytest.mark.integration


def _processes_holding(secret: str) -> list[int]:
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if secret.encode() in environ.read_bytes():
                found.append(int(environ.parent.name))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return found


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_mid_push_ends_git_removes_the_clone_and_says_nothing_landed(
    deployer_remote, tmp_path, sig, secret
):
    remote, url = deployer_remote
    started = remote.bare / "hook-started"
    install_hook(
        remote.bare, "pre-receive", f'cat >/dev/null; touch "{started}"; sleep 8; exit 1\n'
    )
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    before = remote.tip()
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
    assert remote.tip() == before  # (the server-side hook still sleeps; it then refuses)


def test_a_signal_after_the_ref_moved_says_the_commit_landed(deployer_remote, tmp_path, secret):
    remote, url = deployer_remote
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
    landed = remote.tip()
    assert stderr == (
        f"error: interrupted, but {landed[:12]} had landed: main now has the commit\n"
    )


def test_a_push_that_times_out_ends_git_and_says_whether_it_landed(remote, tmp_path):
    # Each git command may take 8 s (ample for a local clone on a loaded machine); the hook 30.
    install_hook(remote.bare, "pre-receive", "cat >/dev/null; sleep 30; exit 1\n")
    before = remote.tip()
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
    assert remote.tip() == before
