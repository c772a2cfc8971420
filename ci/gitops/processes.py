"""Running a child in its own process group, so that nothing it starts outlives it.

``git push`` over HTTPS runs ``git-remote-https`` (and the credential helper) as children that
hold the password in their environment. On a timeout, Ctrl-C or SIGTERM of the job, the whole
group is sent SIGTERM, then SIGKILL, and waited for before the exception propagates.
"""

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

GRACE_SECONDS = 3.0


def run_group(
    command: Sequence[str],
    *,
    cwd: Path | str,
    env: Mapping[str, str],
    input: bytes | None = None,
    timeout: float,
) -> tuple[int | None, bytes, bytes]:
    """``(returncode, stdout, stderr)``; returncode None when ``timeout`` ran out (group ended)."""
    process = subprocess.Popen(
        list(command),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        end_group(process)
        return None, b"", b""
    except BaseException:  # KeyboardInterrupt, SystemExit: end the group, then propagate
        end_group(process)
        raise
    end_group(process)  # helpers it left behind, if any
    return process.returncode, stdout, stderr


def end_group(process: subprocess.Popen) -> None:
    """SIGTERM the process group, SIGKILL what is left after a grace period, reap the leader."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except (ProcessLookupError, PermissionError):
            break
        try:
            process.wait(timeout=GRACE_SECONDS)
            # The leader is gone; give the rest of the group a moment, then make sure.
            if sig == signal.SIGTERM and not _group_alive(process.pid):
                break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=GRACE_SECONDS)
    for stream in (process.stdout, process.stderr, process.stdin):
        if stream:
            stream.close()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


class Terminated(KeyboardInterrupt):
    """SIGTERM (a cancelled job): unwound like Ctrl-C, so git's process group ends and temp
    clones are removed."""


@contextlib.contextmanager
def terminate_as_interrupt():
    """SIGTERM raises ``Terminated`` inside the block (every command that runs git uses it)."""

    def handler(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
