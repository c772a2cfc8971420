"""SIGTERM (a cancelled GitLab job) during ``python -m ci wait`` and ``wait-changed``: no git
process outlives the command with a secret in its environment, and no temp clone stays on disk.

Real processes: ``python -m ci`` as the job runs it, git cloning from a server on 127.0.0.1 that
accepts connections and never answers (so ``git-remote-http`` is running when the signal comes),
and ``/proc`` read for every process's environment. Each test's secrets are its own
(``secrets.token_hex``), so a process of another test cannot be taken for a leak.
"""

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ci.wait.fake_argocd import deploy_here
from tests.ci.wait.recorded import at, recorded
from tests.support.cli import ROOT, ci_env

pytestmark = pytest.mark.integration


@pytest.fixture
def silent_git_server() -> Iterator[str]:
    """``http://127.0.0.1:PORT/gitops.git``: connections are accepted and never answered."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop, held = threading.Event(), []

    def accept() -> None:
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/gitops.git"
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in held:
            connection.close()
        listener.close()


def holders(*needles: str) -> dict[int, str]:
    """Processes whose environment holds any of ``needles``: pid -> command line."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone, or not ours to read
            continue
        if any(needle.encode() in environ for needle in needles):
            found[int(entry.name)] = cmdline.strip()
    return found


def until(predicate, seconds: float = 30.0) -> bool:
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        if predicate():
            return True
        time.sleep(0.05)
    return False


class Job:
    """``python -m ci ARGS`` with two fresh secrets in its environment and its own TMPDIR."""

    def __init__(self, tmp: Path, *args: str, cwd: Path = ROOT, **env: str) -> None:
        self.git_token, self.argocd_token = secrets_pair()
        self.tmp = tmp / "tmp"
        self.tmp.mkdir()
        variables = {
            "GITOPS_TOKEN": self.git_token,
            "ARGOCD_AUTH_TOKEN": self.argocd_token,
            "TMPDIR": str(self.tmp),
            "WAIT_TIMEOUT": "60",
            **env,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ci", *args],
            cwd=cwd,
            env=ci_env(variables),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def leaks(self) -> dict[int, str]:
        others = holders(self.git_token, self.argocd_token)
        others.pop(self.process.pid, None)
        return others

    def git_is_running(self) -> bool:
        return any("git-remote-http" in line for line in self.leaks().values())

    def terminate(self) -> tuple[str, str]:
        self.process.send_signal(signal.SIGTERM)
        return self.process.communicate(timeout=30)

    def end(self) -> None:
        """Whatever the command left behind (before the fix), ended by pid."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for pid in self.leaks():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def secrets_pair() -> tuple[str, str]:
    return secrets.token_hex(16), secrets.token_hex(16)


def assert_cleaned_up(job: Job, out: str, err: str) -> None:
    assert job.process.returncode == 130, out + err
    assert err.endswith("error: interrupted\n"), err
    assert until(lambda: not job.leaks(), 2.0), job.leaks()  # no process holds a secret
    assert list(job.tmp.iterdir()) == []  # the temp clone is gone


def test_sigterm_during_the_clone_ends_git_and_removes_the_clone(tmp_path, silent_git_server):
    job = Job(
        tmp_path, "wait", "--repo", silent_git_server, "--env", "dev",
        ARGOCD_SERVER="http://127.0.0.1:9",
    )  # fmt: skip
    try:
        assert until(job.git_is_running), "git never started"
        out, err = job.terminate()
        assert_cleaned_up(job, out, err)
    finally:
        job.end()


def test_sigterm_while_polling_argo_cd_removes_the_clone(ci, tmp_path, remote, argocd):
    ours = deploy_here(ci, remote, "1a2b3c4d")
    argocd.script = [at(recorded("sync-running"), ours)]
    job = Job(tmp_path, "wait", "--repo", remote.url, "--env", "dev", ARGOCD_SERVER=argocd.url)
    argocd.token = job.argocd_token
    try:
        assert until(lambda: len(argocd.requests) >= 2), "Argo CD was never asked"
        assert list(job.tmp.iterdir()) != []  # the clone is there while waiting
        out, err = job.terminate()
        assert_cleaned_up(job, out, err)
    finally:
        job.end()


def test_sigterm_of_wait_changed_ends_every_wait_and_their_git(tmp_path, remote, silent_git_server):
    before = remote.tip()
    remote.commit("gitops/dev/values.yaml", lambda text: text + "# note\n", "dev: a note")
    job = Job(
        tmp_path, "wait-changed", cwd=remote.work, GITOPS_REPO=silent_git_server,
        CI_COMMIT_BEFORE_SHA=before, ARGOCD_SERVER="http://127.0.0.1:9",
    )  # fmt: skip
    try:
        assert until(job.git_is_running), "no wait started git"
        out, err = job.terminate()
        assert_cleaned_up(job, out, err)
    finally:
        job.end()
