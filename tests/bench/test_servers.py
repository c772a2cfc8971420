"""The production command: read from the Dockerfile's CMD and made runnable on 127.0.0.1."""

import os
import socket
import sys
import time
from pathlib import Path

import pytest

import bench.servers
from bench.checks import check_response, check_targets
from bench.servers import (
    CEILING_APP,
    REPO_ROOT,
    BenchError,
    Server,
    app_index,
    cpu_seconds,
    dockerfile_cmd,
    http_get,
    local_command,
    read_production_cmd,
    seed_command,
    server_env,
    set_option,
    with_app,
)
from harness.network import free_port

CONTRACT_CMD = [
    "uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8080", "--loop", "uvloop",
    "--http", "httptools", "--proxy-headers", "--forwarded-allow-ips", "*", "--no-access-log",
    "--no-server-header", "--timeout-graceful-shutdown", "20",
]  # fmt: skip

DOCKERFILE = """\
# syntax=docker/dockerfile:1
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE} AS build
RUN python3 -m venv /venv
CMD ["python3"]

FROM ${BASE_IMAGE}
COPY --from=build /venv /venv
ENV PATH=/venv/bin:$PATH
USER 10001
EXPOSE 8080
# exec form, so uvicorn is PID 1 and gets SIGTERM
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8080", \\
     "--loop", "uvloop", "--http", "httptools", \\
     # a comment inside the continuation
     "--proxy-headers", "--forwarded-allow-ips", "*", "--no-access-log", \\
     "--no-server-header", "--timeout-graceful-shutdown", "20"]
"""


def test_dockerfile_cmd_is_the_final_stage_exec_form():
    assert dockerfile_cmd(DOCKERFILE) == CONTRACT_CMD


def test_dockerfile_cmd_keyword_is_case_insensitive():
    assert dockerfile_cmd('from scratch\ncmd ["uvicorn", "a:b"]\n') == ["uvicorn", "a:b"]


def test_dockerfile_without_cmd_in_final_stage_fails_clearly():
    text = 'FROM a AS build\nCMD ["uvicorn", "a:b"]\nFROM b\nRUN true\n'
    with pytest.raises(BenchError) as info:
        dockerfile_cmd(text, "Dockerfile")
    assert str(info.value) == (
        "Dockerfile has no CMD in its final stage: the bench runs the image's CMD"
    )


def test_dockerfile_shell_form_cmd_fails_clearly():
    with pytest.raises(BenchError) as info:
        dockerfile_cmd("FROM a\nCMD uvicorn app.main:app\n", "Dockerfile")
    assert str(info.value) == (
        "Dockerfile: CMD is not in exec form (a JSON list of strings): uvicorn app.main:app"
    )


def test_missing_dockerfile_fails_clearly(tmp_path):
    with pytest.raises(BenchError, match=r"Dockerfile not found: the bench runs the image's CMD"):
        read_production_cmd(tmp_path / "Dockerfile")


def test_local_command_binds_loopback_on_the_given_port(tmp_path):
    (tmp_path / "uvicorn").touch()
    argv = local_command(CONTRACT_CMD, 41234, tmp_path)
    assert argv[0] == str(tmp_path / "uvicorn")
    assert argv[argv.index("--host") + 1] == "127.0.0.1"
    assert argv[argv.index("--port") + 1] == "41234"
    assert argv[6:] == CONTRACT_CMD[6:]  # every production flag kept as is


def test_local_command_handles_equals_form_and_forces_one_worker(tmp_path):
    cmd = ["python", "-m", "uvicorn", "--host=0.0.0.0", "app.main:app", "--workers=4"]
    assert local_command(cmd, 9, tmp_path) == [
        sys.executable, "-m", "uvicorn", "--host=127.0.0.1", "app.main:app", "--workers=1",
        "--port", "9",
    ]  # fmt: skip


def test_local_command_refuses_a_cmd_that_is_not_uvicorn(tmp_path):
    with pytest.raises(BenchError, match="does not run uvicorn"):
        local_command(["gunicorn", "app.main:app"], 9, tmp_path)


def test_with_app_swaps_only_the_app_spec():
    argv = with_app(CONTRACT_CMD, CEILING_APP)
    assert argv[1] == CEILING_APP
    assert argv[2:] == CONTRACT_CMD[2:]


def test_with_app_without_an_app_spec_fails():
    with pytest.raises(BenchError, match="no ASGI app"):
        with_app(["uvicorn", "--port", "1"], CEILING_APP)


def test_set_option_appends_when_absent():
    assert set_option(["uvicorn"], "--port", "1") == ["uvicorn", "--port", "1"]


def test_seed_command_uses_the_pure_python_stack():
    argv = seed_command("uvicorn", 5)
    assert argv[argv.index("--loop") + 1] == "asyncio"
    assert argv[argv.index("--http") + 1] == "h11"


def test_server_env_drops_the_callers_app_settings(monkeypatch):
    monkeypatch.setenv("APP_ECHO_MAX_LENGTH", "1")
    env = server_env()
    assert "APP_ECHO_MAX_LENGTH" not in env
    assert env["APP_VERSION"] == "bench"


@pytest.mark.integration
@pytest.mark.parametrize(
    ("name", "argv_for_port"),
    [
        ("ceiling", lambda port: with_app(local_command(CONTRACT_CMD, port, _bin()), CEILING_APP)),
        ("seed", lambda port: seed_command(str(_bin() / "uvicorn"), port)),
    ],
)
def test_comparison_apps_answer_correctly_and_stop_cleanly(name, argv_for_port):
    """Real uvicorn on 127.0.0.1; stop() must leave no process and no listener behind."""
    server = Server(name, argv_for_port, server_env())
    try:
        elapsed = server.start_serving("/-/readiness")[1]
        assert 0 < elapsed < 30
        assert server.rss_kib() > 1000
        build = "bench" if name == "ceiling" else None
        for target in check_targets():
            assert check_response(target, *http_get(server.port, target), build) is None
        status, _, _ = http_get(server.port, "/api/echo")
        assert status == 422
        pid, port = server.proc.pid, server.port
    finally:
        server.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", port), timeout=1),
    ):
        pass


def _bin() -> Path:
    return Path(sys.executable).parent


def test_the_repository_dockerfile_runs_the_service_with_uvicorn():
    """The bench's (a) is whatever the image runs: its CMD must be uvicorn serving app.main:app."""
    cmd = read_production_cmd(REPO_ROOT / "Dockerfile")
    argv = local_command(cmd, 8080, _bin())
    assert argv[app_index(argv)] == "app.main:app"


def test_cpu_seconds_counts_what_the_process_used():
    before = cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.2
    while time.process_time() < deadline:
        pass
    assert 0.1 <= cpu_seconds(os.getpid()) - before < 5


@pytest.mark.integration
def test_a_port_taken_before_uvicorn_binds_it_is_tried_again_on_another(monkeypatch):
    """The free-port race, forced: the first port picked is already listened on by this test."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        picks = iter([taken.getsockname()[1], free_port()])
        monkeypatch.setattr(bench.servers, "free_port", lambda: next(picks))
        server = Server(
            "ceiling",
            lambda port: with_app(local_command(CONTRACT_CMD, port, _bin()), CEILING_APP),
            server_env(),
        )
        try:
            _, elapsed = server.start_serving("/-/readiness")
            assert server.port != taken.getsockname()[1]
            assert 0 < elapsed < 30
            assert http_get(server.port, "/-/readiness")[0] == 200
        finally:
            server.stop()
