"""The service under a real uvicorn (the production flags) on a free 127.0.0.1 port."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest

from harness.network import free_port
from tests.app.http import first_503, get, raw_get
from tests.support.server import (
    PRODUCTION_FLAGS,
    REPO_ROOT,
    RunningServer,
    running_server,
    server_env,
)

# How uvicorn ends after its graceful shutdown on SIGTERM: from 0.29 on it raises the signal again
# once done, so the parent sees a process ended by SIGTERM (143 in a container); before, status 0.
# "Finished server process" in the log is what tells a graceful end from a killed server.
SIGTERM_EXITS = (0, -signal.SIGTERM)

TRICKY = ["", " ", "a b", "&=?#", "a=b&c=d", "<script>alert(1)</script>", "😀", "你好", "é" * 100]


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with running_server(
        PRODUCTION_FLAGS, env={"APP_VERSION": "0a1b2c3d", "APP_REVISION": "f" * 40}
    ) as srv:
        yield srv


@pytest.mark.integration
def test_health(server: RunningServer) -> None:
    reply = get(server.port, "/-/health")
    assert (reply.status, reply.headers["content-type"]) == (200, "application/json")
    data = reply.json()
    assert (data["status"], data["version"], data["revision"]) == ("ok", "0a1b2c3d", "f" * 40)
    assert set(data["debug"]) == {"hostname", "ip"}
    assert "server" not in reply.headers  # --no-server-header


@pytest.mark.integration
@pytest.mark.parametrize("path", ["/-/liveness", "/-/readiness"])
def test_probes(server: RunningServer, path: str) -> None:
    reply = get(server.port, path)
    assert (reply.status, reply.json()) == (200, {"status": "ok"})


@pytest.mark.integration
@pytest.mark.parametrize("text", TRICKY)
def test_echo_round_trips(server: RunningServer, text: str) -> None:
    reply = get(server.port, "/api/echo?text=" + quote(text, safe=""))
    assert (reply.status, reply.headers["content-type"]) == (200, "application/json")
    assert reply.json() == {"text": text}


@pytest.mark.integration
def test_echo_errors(server: RunningServer) -> None:
    missing = get(server.port, "/api/echo")
    assert missing.status == 422
    assert missing.json()["detail"][0]["loc"] == ["query", "text"]
    too_long = get(server.port, "/api/echo?text=" + "x" * 4097)
    assert (too_long.status, too_long.json()["detail"][0]["type"]) == (422, "string_too_long")


@pytest.mark.integration
@pytest.mark.parametrize(
    "target", [b"/api/echo?text=%FF", b"/api/echo?text=%", b"/api/echo?text=%C3%28"]
)
def test_bad_escapes_are_400(server: RunningServer, target: bytes) -> None:
    reply = raw_get(server.port, target)
    assert reply.status == 400
    assert reply.json()["detail"].startswith("query string must be percent-encoded UTF-8")


@pytest.mark.integration
@pytest.mark.parametrize("target", [b"/api/echo?text=\xc3\xa9", b"/%FF%FE", b"/api/%00echo"])
def test_odd_targets_are_4xx(server: RunningServer, target: bytes) -> None:
    assert 400 <= raw_get(server.port, target).status < 500


@pytest.mark.integration
def test_json_404_and_405(server: RunningServer) -> None:
    missing = get(server.port, "/no/such/path")
    assert (missing.status, missing.json()) == (404, {"detail": "Not Found"})
    wrong = get(server.port, "/api/echo?text=x", method="POST")
    assert (wrong.status, wrong.json(), wrong.headers["allow"]) == (
        405,
        {"detail": "Method Not Allowed"},
        "GET, HEAD",
    )


@pytest.mark.integration
def test_docs_and_openapi(server: RunningServer) -> None:
    assert b"swagger" in get(server.port, "/docs").body.lower()
    spec = get(server.port, "/openapi.json").json()
    assert spec["info"]["version"] == "0a1b2c3d"


@pytest.mark.integration
def test_invalid_setting_stops_startup_with_one_line() -> None:
    port = free_port()
    result = subprocess.run(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port), *PRODUCTION_FLAGS],
        cwd=REPO_ROOT,
        env=server_env({"APP_ECHO_MAX_LENGTH": "lots"}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr == (
        "error: invalid setting APP_ECHO_MAX_LENGTH='lots': Input should be a valid integer, "
        "unable to parse string as an integer\n"
    )
    assert result.stdout == ""


@pytest.mark.integration
def test_json_logs_are_json_lines() -> None:
    env = {"APP_LOG_FORMAT": "json", "APP_ACCESS_LOG": "true"}
    with running_server(PRODUCTION_FLAGS, env=env) as srv:
        get(srv.port, "/api/echo?text=hi")
        get(srv.port, "/nope")
    lines = [json.loads(line) for line in srv.output().splitlines()]
    access = [(e["path"], e["status"]) for e in lines if e["logger"] == "app.access"]
    assert ("/api/echo", 200) in access
    assert ("/nope", 404) in access
    assert any(e["message"].startswith("Started server process") for e in lines)
    assert all({"time", "level", "logger", "message"} <= set(e) for e in lines)


@pytest.mark.integration
def test_access_log_is_off_by_default(server: RunningServer) -> None:
    get(server.port, "/api/echo?text=quiet")
    assert "/api/echo" not in server.output()


@pytest.mark.integration
def test_sigterm_drains_in_flight_requests_and_exits() -> None:
    """Readiness turns 503 at once, the app serves through the delay, in-flight requests finish."""
    delay, slow = 1.5, 3.0
    env = {"APP_SHUTDOWN_DELAY_SECONDS": str(delay)}
    with running_server(PRODUCTION_FLAGS, env=env, app="tests.app.slow_app:app") as srv:
        with ThreadPoolExecutor(max_workers=6) as pool:
            in_flight = [pool.submit(get, srv.port, f"/test/slow?seconds={slow}") for _ in range(6)]
            _until_in_flight(srv.port, 6)
            srv.signal(signal.SIGTERM)
            signalled = time.monotonic()
            readiness = first_503(srv.port, timeout=1.0)
            assert time.monotonic() - signalled < 1.0
            assert readiness.json() == {"status": "shutting down"}
            # Still serving through the delay, on new connections.
            assert get(srv.port, "/api/echo?text=still").json() == {"text": "still"}
            assert get(srv.port, "/-/liveness").status == 200
            replies = [future.result(timeout=30) for future in in_flight]
        assert [r.status for r in replies] == [200] * 6
        assert srv.wait(timeout=30) in SIGTERM_EXITS
        stopped = time.monotonic() - signalled
    assert delay <= stopped < delay + slow + 5
    output = srv.output()
    assert output.index("readiness now 503") < output.index("Shutting down")
    assert "Finished server process" in output


@pytest.mark.integration
def test_second_sigterm_skips_the_delay() -> None:
    env = {"APP_SHUTDOWN_DELAY_SECONDS": "60"}
    with running_server(PRODUCTION_FLAGS, env=env) as srv:
        srv.signal(signal.SIGTERM)
        assert first_503(srv.port, timeout=2.0).status == 503
        started = time.monotonic()
        srv.signal(signal.SIGTERM)
        assert srv.wait(timeout=20) in SIGTERM_EXITS
        assert time.monotonic() - started < 10


def _until_in_flight(port: int, count: int, timeout: float = 10.0) -> None:
    """Poll slow_app until `count` slow requests are being served."""
    deadline = time.monotonic() + timeout
    while get(port, "/test/in-flight").json()["in_flight"] < count:
        assert time.monotonic() < deadline, f"fewer than {count} requests reached the app"
        time.sleep(0.02)


@pytest.mark.integration
def test_server_helper_stops_by_pid() -> None:
    with running_server() as srv:
        pid = srv.pid
        assert get(srv.port, "/-/liveness").status == 200
    assert srv.process.returncode in SIGTERM_EXITS
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
