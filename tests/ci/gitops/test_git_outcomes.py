"""``ci.gitops.git_outcomes``: what git's output means, from text alone."""

import subprocess

import pytest

from ci.errors import CiError, UsageError
from ci.gitops.git_outcomes import PushResult, TransientGitError, failure, push_outcome

REF = "refs/heads/main"


def pushed(stdout: str, stderr: str = "", returncode: int = 0) -> subprocess.CompletedProcess:
    return subprocess.CompletedProcess(["git", "push"], returncode, stdout, stderr)


@pytest.mark.parametrize(
    ("stdout", "returncode", "expected"),
    [
        (f" \tabc:{REF}\t1111..2222\n", 0, PushResult(ok=True)),
        (f"=\tabc:{REF}\t[up to date]\n", 0, PushResult(ok=True)),
        (
            f"!\tabc:{REF}\t[rejected] (fetch first)\n",
            1,
            PushResult(ok=False, retryable=True, reason="[rejected] (fetch first)"),
        ),
        (f"!\tabc:{REF}\t[remote rejected] (pre-receive hook declined)\n", 1, None),
        ("fatal: unable to access\n", 128, "no status"),
    ],
)
def test_a_push_is_read_from_the_porcelain_status_only(stdout, returncode, expected):
    outcome = push_outcome(pushed(stdout, "remote: fetch first, try again\n", returncode), REF, ())
    if expected is None:  # refused for good: the reason, with the server's words
        assert outcome == "[remote rejected] (pre-receive hook declined): fetch first, try again"
    elif expected == "no status":
        assert outcome is None
    else:
        assert outcome == expected


def test_a_refusal_keeps_no_secret_and_stays_short():
    stdout = f"!\tabc:{REF}\t[remote rejected] (s3cret)\n"
    outcome = push_outcome(pushed(stdout, "remote: " + "x" * 900, 1), REF, ("s3cret",))
    assert "s3cret" not in outcome
    assert len(outcome) == 400
    assert outcome.endswith("...")


@pytest.mark.parametrize(
    ("stderr", "kind", "line"),
    [
        ("fatal: Authentication failed for 'u'\n", CiError, "authentication to u failed as bot"),
        ("fatal: Remote branch main not found\n", UsageError, "branch 'main' not found in u"),
        (
            "hint: x\nfatal: unable to access: Could not resolve host: h\n",
            TransientGitError,
            "git fetch failed for u: unable to access: Could not resolve host: h",
        ),
        ("", CiError, "git fetch failed for u: no output"),
    ],
)
def test_a_failed_command_is_one_line_of_the_right_kind(stderr, kind, line):
    error = failure("fetch", stderr, "u", "main", "bot")
    assert type(error) is kind
    assert str(error) == line
