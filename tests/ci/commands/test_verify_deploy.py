"""``python -m ci verify-deploy`` against the real service served by uvicorn over TCP: it waits
through a rollout for the version, times out naming the last one seen, and refuses bad input."""

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ci.verify import HEALTH_PATH
from harness.network import free_port, listening

ROOT = Path(__file__).resolve().parents[3]
# Variables the command falls back on; the pipeline sets them, so clear them for exact cases.
FALLBACK_PREFIXES = ("CI_", "VERIFY_", "IMAGE_")


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(FALLBACK_PREFIXES)}


@contextmanager
def service(version: str, port: int | None = None) -> Iterator[str]:
    """The real app (``app.main:app``) on uvicorn at 127.0.0.1, reporting ``version``: on
    ``port``, or on a free one (another when a process takes it first)."""
    env = {**clean_env(), "APP_VERSION": version, "APP_SHUTDOWN_DELAY_SECONDS": "0"}
    cmd = [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1"]

    def uvicorn(port: int) -> list[str]:
        return [*cmd, "--port", str(port), "--log-level", "warning"]

    with listening(uvicorn, port, timeout=30, cwd=ROOT, env=env) as chosen:
        yield f"http://127.0.0.1:{chosen}"


def verify(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ci", "verify-deploy", *args],
        cwd=ROOT,
        env=clean_env() if env is None else env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


@pytest.mark.integration
def test_succeeds_when_the_service_reports_the_version() -> None:
    with service("abc12345") as url:
        code, out, err = finish(
            verify("--url", url, "--version", "abc12345", "--interval", "0.1", "--timeout", "20")
        )
    assert (code, err) == (0, "")
    assert out.splitlines()[-1].startswith(f"{url}{HEALTH_PATH} reports version abc12345 (after ")


@pytest.mark.integration
def test_waits_through_a_rollout_until_the_new_version_answers() -> None:
    """Old version first; the service is then replaced on the same port by the new one."""
    with service("old00000") as url:
        proc = verify(
            *("--url", url, "--version", "new11111", "--interval", "0.2"),
            *("--timeout", "60", "--successes", "2"),
        )
        first = proc.stdout.readline()
        assert first == f"{url}{HEALTH_PATH}: version old00000 (waiting for new11111)\n"
    with service("new11111", port=int(url.rsplit(":", 1)[1])):
        code, out, err = finish(proc)
    assert (code, err) == (0, "")
    assert out.splitlines()[-1].startswith(f"{url}{HEALTH_PATH} reports version new11111")


@pytest.mark.integration
def test_times_out_naming_the_version_last_seen() -> None:
    with service("old00000") as url:
        code, _, err = finish(
            verify("--url", url, "--version", "new11111", "--interval", "0.2", "--timeout", "1")
        )
    assert code == 1
    assert err == (
        f"error: {url}{HEALTH_PATH} did not report version new11111 within 1s"
        " (last: version old00000)\n"
    )


@pytest.mark.integration
def test_times_out_when_nothing_listens() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, _, err = finish(
        verify("--url", url, "--version", "x", "--interval", "0.2", "--timeout", "1")
    )
    assert code == 1
    assert err.startswith(f"error: {url}{HEALTH_PATH} did not report version x within 1s (last: ")
    assert "unreachable" in err


@pytest.mark.integration
def test_version_defaults_to_the_image_tag_then_the_commit() -> None:
    with service("feed0001") as url:
        env = {**clean_env(), "VERIFY_URL": url, "VERIFY_INTERVAL": "0.1"}
        from_tag = finish(verify(env={**env, "IMAGE_TAG": "feed0001"}))
        from_commit = finish(verify(env={**env, "CI_COMMIT_SHORT_SHA": "feed0001"}))
    assert from_tag[0] == from_commit[0] == 0


@pytest.mark.integration
@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "error: no URL to verify: pass --url or set $VERIFY_URL\n"),
        (
            ("--url", "http://127.0.0.1:9"),
            "error: no version to wait for: pass --version or set $VERIFY_VERSION\n",
        ),
        (
            ("--url", "ftp://example.test", "--version", "x"),
            "error: --url must be an http(s) URL of the service, got 'ftp://example.test'\n",
        ),
        (
            ("--url", "http://127.0.0.1:9", "--version", "x", "--successes", "0"),
            "error: --successes must be at least 1, got 0\n",
        ),
    ],
)
def test_usage_errors_exit_2_with_one_line(args: tuple[str, ...], message: str) -> None:
    code, out, err = finish(verify(*args))
    assert (code, out, err) == (2, "", message)


@pytest.mark.integration
def test_timeout_must_be_positive() -> None:
    code, _, err = finish(verify("--url", "http://x", "--version", "x", "--timeout", "0"))
    assert code == 2
    assert err.splitlines()[-1].endswith(
        "argument --timeout: must be a positive number of seconds, got '0' (finite, at most"
        " 604800: a week)"
    )
