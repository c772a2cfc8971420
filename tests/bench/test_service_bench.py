"""`python -m bench.service` end to end: a short run against the real service and Dockerfile."""

import itertools
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from bench import service as service_bench
from bench.servers import REPO_ROOT
from bench.service import main
from bench.wrk import WrkResult
from tests.support.cli import default_sigint, run_bench
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
        "unknown endpoint 'nope' (known: echo, health, liveness, readiness, item)"
        in capsys.readouterr().err
    )


@pytest.mark.integration
@pytest.mark.long
def test_short_bench_runs_all_three_servers_end_to_end():
    """One round of 1s runs on liveness: checks, wrk, ratios, cold start and RSS all come out."""
    require_tools("wrk")
    argv = ["-d", "1", "-r", "1", "-e", "liveness", "-c", "1,4", "--cold-starts", "1"]
    argv.append("--no-variants")
    proc = run_bench("service", *argv, timeout=120)
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
@pytest.mark.long
def test_variants_show_what_metrics_and_tracing_cost():
    """The service with metrics off and with tracing on, side by side with the defaults, on
    health at the ratio connection count only."""
    require_tools("wrk")
    argv = ["-d", "1", "-r", "1", "-e", "health,liveness", "-c", "1,2", "--cold-starts", "0"]
    proc = run_bench("service", *argv, timeout=180)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    for label in ("(a) metrics off", "(a) tracing on"):
        rows = [line.split()[3:5] for line in out if line.startswith(f"{label}  ")]
        assert [row for row in rows if row[0] in ("health", "liveness")] == [["health", "2"]]
    assert any(line.startswith("health    metrics on / off ") for line in out)
    assert any(line.startswith("health    tracing on / off ") for line in out)
    (exports,) = [line for line in out if line.startswith("tracing on: ")]
    assert not exports.startswith("tracing on: 0 ")  # the spans did reach the OTLP sink


@pytest.mark.integration
def test_a_team_route_in_the_template_runs_side_by_side_with_bare_fastapi():
    """-e item: only the template with a team's route and the bare FastAPI app start, on the
    Dockerfile's command, checked (the route's answer, its request id, its histogram series)
    and compared against the 0.90x target."""
    require_tools("wrk")
    argv = ["-d", "1", "-r", "1", "-e", "item", "-c", "1,2", "--cold-starts", "1"]
    proc = run_bench("service", *argv, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    flags = "--host 127.0.0.1 --port PORT --loop uvloop --http httptools"
    assert f"bench.apps.team_route:app {flags}" in out
    assert f"bench.apps.bare_fastapi:app {flags}" in out
    for label in ("(a) service", "(b) raw ASGI", "(c) seed-style", "(a) metrics off"):
        assert label not in out  # not loaded on item: not started
    assert any(
        line.startswith("item      template / (e) bare FastAPI ") for line in out.split("\n")
    )
    assert ">= 0.90x" in out
    assert "ERRORS" not in out
    assert "tracing on:" not in out  # no variant runs on item: no OTLP sink


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
@pytest.mark.long
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
        preexec_fn=default_sigint,
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


_PORTS = itertools.count(40000)


class _CountedServer:
    """Stands in for bench.servers.Server in load(): counts the processes it was asked for."""

    def __init__(self, name: str) -> None:
        self.name, self.port, self.starts, self.running = name, 0, 0, False

    def start_serving(self, path: str) -> tuple[float, float]:
        assert not self.running, "started while its last process still runs"
        self.starts += 1
        self.port = next(_PORTS)  # a new process, a new port
        self.running = True
        return 0.0, 0.0

    def stop(self) -> None:
        self.running = False

    def cpu_seconds(self) -> float:
        return float(self.starts)


class _RecordingWrk:
    def __init__(self) -> None:
        self.urls: list[str] = []

    def run(self, url: str, connections: int, duration: float) -> WrkResult:
        self.urls.append(url)
        return WrkResult(1000, 1_000_000, 0, 0, 0, 0, 0, 100, 200)


def test_the_team_route_is_loaded_on_its_two_servers_only() -> None:
    args = service_bench.parse_args([])
    assert args.endpoints[-1] == "item"  # in every default run
    named = {name: _CountedServer(name) for name in ("service", "metrics-off", "team", "bare")}
    plan = {
        name: [
            (e, c) for e in args.endpoints for c in (1, 64) if service_bench.runs_in(s, e, c, 64)
        ]
        for name, s in named.items()
    }
    assert plan["team"] == plan["bare"] == [("item", 1), ("item", 64)]
    assert ("item", 64) not in plan["service"]
    assert plan["metrics-off"] == [("echo", 64), ("health", 64)]
    only_item = service_bench.parse_args(["-e", "item"])
    assert [s.name for s in service_bench.loaded_servers(list(named.values()), only_item)] == [
        "team",
        "bare",
    ]
    assert service_bench.ready_path(named["bare"]) == "/api/items/42"  # it has no probes
    assert service_bench.ready_path(named["team"]) == "/-/readiness"
    assert service_bench.warm_up_target(named["team"]) == "/api/items/42"


@pytest.mark.parametrize(("fresh", "starts"), [(True, 3), (False, 1)])
def test_each_round_loads_new_server_processes(monkeypatch, fresh: bool, starts: int) -> None:
    """With --fresh (the default), every round starts each server anew, so the medians span
    several processes; otherwise one process each serves all rounds."""
    monkeypatch.setattr(service_bench, "check_server", lambda server: [])
    servers = [_CountedServer("service"), _CountedServer("ceiling")]
    wrk = _RecordingWrk()
    args = service_bench.parse_args(["-r", "3", "-e", "health", "-c", "8"])
    args.fresh = fresh
    samples = service_bench.load(servers, wrk, args)
    assert [s.starts for s in servers] == [starts, starts]
    assert all(s.running for s in servers)  # the last round's, for their RSS
    assert len(samples) == 6
    # Each round: a warm-up per server, then the load on the ports of that round's processes.
    loaded_ports = {url.split(":")[2].split("/")[0] for url in wrk.urls}
    assert len(loaded_ports) == 2 * starts
