"""What git's output means, decided from text alone: a failed command's one-line error (bad
credentials, a missing branch, a flaky network worth a retry), and a push's outcome read only
from git's per-ref porcelain status, never from the server's or a hook's words."""

import re
import subprocess
from dataclasses import dataclass

from ci.errors import CiError, UsageError
from ci.gitops.credentials import redact

# Network trouble worth another try (a flaky remote), unlike refused credentials.
TRANSIENT = (
    "unable to connect",
    "connection refused",
    "connection reset",
    "connection timed out",
    "operation timed out",
    "failed to connect",
    "could not resolve host",
    "temporary failure in name resolution",
    "the remote end hung up unexpectedly",
    "early eof",
    "rpc failed",
    "couldn't connect to server",
    "http/2 stream",
    "returned error: 502",
    "returned error: 503",
    "returned error: 504",
)
AUTH_FAILURE = (
    "authentication failed",
    "http basic: access denied",
    "returned error: 401",
    "returned error: 403",
    "could not read username",
    "could not read password",
    "permission denied",
    "access denied",
)


class TransientGitError(CiError):
    """The remote could not be reached or dropped the connection: worth a bounded retry."""


@dataclass
class PushResult:
    ok: bool
    retryable: bool = False
    reason: str = ""


class PushRefused(CiError):
    """The server refused the push for good (protected branch, policy hook): not retried."""


# git push --porcelain: one line per ref, "<flag>\t<from>:<to>\t<summary>".
PORCELAIN_FLAGS = (" ", "+", "-", "*", "=", "!")
OK_FLAGS = (" ", "*", "=")
# Per-ref outcomes that mean "the branch moved since we fetched": client-side checks of the
# advertised ref, and receive-pack's own ref-transaction failures (a concurrent push won).
RACE_SUMMARY = re.compile(
    r"\[rejected\] \((fetch first|non-fast-forward|stale info)\)"
    r"|\[remote rejected\] \((cannot lock ref|failed to update ref|incorrect old value)[^)]*\)"
)
MAX_DETAIL = 400


def _clip(text: str) -> str:
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 3] + "..."


def failure(action: str, stderr: str, url: str, branch: str, user: str | None) -> CiError:
    """One line for a failed git command (``stderr`` and ``url`` already redacted)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    lowered = stderr.lower()
    if any(marker in lowered for marker in AUTH_FAILURE):
        who = f" as {user}" if user else " (no credentials)"
        return CiError(f"authentication to {url} failed{who}")
    if "remote branch" in lowered and "not found" in lowered:
        return UsageError(f"branch {branch!r} not found in {url}")
    first = next((i for i, line in enumerate(lines) if line.startswith(("fatal:", "error:"))), None)
    tail = lines[first:] if first is not None else lines[-1:]
    detail = " ".join(line.removeprefix("fatal: ").removeprefix("error: ") for line in tail)
    message = f"git {action} failed for {url}: {detail or 'no output'}"
    if any(marker in lowered for marker in TRANSIENT):
        return TransientGitError(message)
    return CiError(message)


def push_outcome(
    result: subprocess.CompletedProcess, ref: str, secrets: tuple[str, ...]
) -> PushResult | str | None:
    """A ``git push --porcelain`` of ``ref``: landed or raced (a PushResult), refused for good
    (the redacted reason), or None when git printed no status for the ref (a failed command)."""
    status = next(
        (
            line
            for line in result.stdout.splitlines()
            if line[:1] in PORCELAIN_FLAGS and f":{ref}\t" in line
        ),
        None,
    )
    if status is None:
        return None
    fields = status.split("\t")
    flag, summary = status[0], (fields[2] if len(fields) > 2 else "").strip()
    if flag in OK_FLAGS and result.returncode == 0:
        return PushResult(ok=True)
    if flag == "!" and RACE_SUMMARY.fullmatch(summary):
        return PushResult(ok=False, retryable=True, reason=summary)
    remote_lines = [
        " ".join(line.removeprefix("remote:").split())
        for line in redact(result.stderr, secrets).splitlines()
        if line.startswith("remote:") and line.removeprefix("remote:").strip()
    ]
    detail = redact(summary, secrets) or "refused"
    if remote_lines:
        detail += ": " + " / ".join(remote_lines)
    return _clip(detail)
