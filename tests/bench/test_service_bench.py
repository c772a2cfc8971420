"""`python -m bench.service` end to end: a short run against the real service and Dockerfile."""

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from bench.servers import REPO_ROOT
from bench.service import main
from tests.support.tools import require_tools


def test_a_dockerfile_without_cmd_stops_the_bench_with_one_line(tmp_path, capsys):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM python:3.11-slim\nRUN true\n")
    assert main(["--dockerfile", str(dockerfile)]) == 1
    assert capsys.readouterr().err == (
        f"error: {dockerfile} has no CMD in its final stage: the bench runs the image's CMD\n"
    )


def test_bad_flags_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--endpoints", "nope"])
    assert info.value.code == 2
    assert (
        "unknown endpoint 'nope' (known: echo, health, liveness, readiness)"
        in capsys.readouterr().err
    )


@pytest.mark.integration
def test_short_bench_runs_all_three_servers_end_to_end():
    """One round of 1s runs on liveness: checks, wrk, ratios, cold start and RSS all come out."""
    require_tools("wrk")
    argv = ["-d", "1", "-r", "1", "-e", "liveness", "-c", "1,4", "--cold-starts", "1"]
    argv.append("--no-variants")
    proc = subprocess.run(
        [sys.executable, "-m", "bench.service", *argv],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for label in ("(a) service", "(b) raw ASGI", "(c) seed-style"):
        assert f"{label}: " in out  # the command each server ran
        assert (
            sum(line.startswith(f"{label}  ") for line in out.splitlines()) == 3
        )  # c=1, c=4, proc
    assert "app.main:app --host 127.0.0.1 --port PORT --loop uvloop --http httptools" in out
    assert "Ratios at 4 connections:" in out
    assert "liveness  service / (b) raw ASGI" in out
    assert "cold start: service / seed-style " in out
    assert "ERRORS" not in out


@pytest.mark.integration
def test_variants_show_what_metrics_and_tracing_cost():
    """The service with metrics off and with tracing on, side by side with the defaults, on
    health at the ratio connection count only."""
    require_tools("wrk")
    argv = ["-d", "1", "-r", "1", "-e", "health,liveness", "-c", "1,2", "--cold-starts", "0"]
    proc = subprocess.run(
        [sys.executable, "-m", "bench.service", *argv],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    for label in ("(a) metrics off", "(a) tracing on"):
        rows = [line.split()[3:5] for line in out if line.startswith(f"{label}  ")]
        assert [row for row in rows if row[0] in ("health", "liveness")] == [["health", "2"]]
    assert any(line.startswith("health    metrics on / off ") for line in out)
    assert any(line.startswith("health    tracing on / off ") for line in out)
    (exports,) = [line for line in out if line.startswith("tracing on: ")]
    assert not exports.startswith("tracing on: 0 ")  # the spans did reach the OTLP sink


def _processes_with(token: str) -> list[int]:
    """PIDs whose environment carries token (so only processes this test started)."""
    pids = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if token.encode() in environ.read_bytes():
                pids.append(int(environ.parent.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return pids


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "(gone)"


@pytest.mark.integration
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_interrupted_bench_stops_every_server_it_started(sig, code):
    require_tools("wrk")
    token = f"BENCH_TEST_TOKEN={uuid.uuid4().hex}"
    name, value = token.split("=")
    argv = ["-d", "5", "-r", "1", "-e", "liveness", "-c", "1", "--cold-starts", "0"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.service", *argv],
        cwd=REPO_ROOT,
        env={**os.environ, name: value},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        for line in proc.stderr:  # wait until the load runs
            if line.startswith("[1/") or "error" in line:
                break
        servers = [pid for pid in _processes_with(token) if pid != proc.pid]
        assert len(servers) >= 3  # the three uvicorn processes (and wrk)
        proc.send_signal(sig)
        assert proc.wait(timeout=30) == code
        left = {pid: _cmdline(pid) for pid in _processes_with(token)}
        assert left == {}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stderr.close()
