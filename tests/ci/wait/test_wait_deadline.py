"""``wait --timeout`` is kept by the whole command, against a server that drips its answer (real
git remote, a server on 127.0.0.1, in this process); bad durations are exit 2."""

import threading
import time

import pytest

from tests.ci.wait.conftest import APP, TOKEN, deploy_here, serving
from tests.ci.wait.test_transport import dripping

TIMEOUT, INTERVAL = "--timeout ($WAIT_TIMEOUT)", "--interval ($WAIT_INTERVAL)"


@pytest.mark.parametrize(
    ("args", "env", "name", "value"),
    [
        (("--timeout", "nan"), {}, TIMEOUT, "nan"),
        (("--timeout", "inf"), {}, TIMEOUT, "inf"),
        ((), {"WAIT_TIMEOUT": "1e400"}, TIMEOUT, "1e400"),
        (("--interval", "nan"), {}, INTERVAL, "nan"),
        ((), {"WAIT_INTERVAL": "-inf"}, INTERVAL, "-inf"),
    ],
)
def test_a_duration_that_is_not_finite_is_exit_2_with_one_line(ci, remote, args, env, name, value):
    settings = {"ARGOCD_SERVER": "http://127.0.0.1:1", "ARGOCD_AUTH_TOKEN": TOKEN, **env}
    result = ci("wait", "--repo", remote.url, "--env", "dev", *args, env=settings)
    assert result.returncode == 2
    assert result.stderr == (
        f"error: {name} must be a positive number of seconds, got {value!r} (finite, at most"
        " 604800: a week)\n"
    )


@pytest.mark.parametrize("part", ["headers", "body"])
def test_the_wait_keeps_its_timeout_against_a_server_that_drips(ci, remote, part):
    deploy_here(ci, remote, "1a2b3c4d")
    stop = threading.Event()
    env = {"ARGOCD_SERVER": "", "ARGOCD_AUTH_TOKEN": TOKEN, "WAIT_INTERVAL": "0.2"}
    try:
        with serving(dripping(part, stop)) as server:
            env["ARGOCD_SERVER"] = server.url
            started = time.monotonic()
            result = ci("wait", "--repo", remote.url, "--env", "dev", "--timeout", "2", env=env)
            took = time.monotonic() - started
    finally:
        stop.set()
    assert result.returncode == 1
    # The timeout and the last look's floor (and the clone, slow on a loaded machine), far from
    # the server's pace (DRIP_LIMIT, 10 s).
    assert 2 <= took < 6
    assert result.stderr.startswith(f"error: timed out after 2s waiting for {APP} to run")
    assert f"Argo CD never answered; then Argo CD at {server.url} is unreachable (no" in (
        result.stderr
    )
