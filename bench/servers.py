"""The three servers `make bench` compares, started as real uvicorn processes on 127.0.0.1.

(a) the service with the production command, read from the Dockerfile's exec-form CMD; (b) the
raw-ASGI ceiling on the same uvicorn with the same flags; (c) the seed-style baseline on uvicorn's
pure-Python stack; and, for what the template costs a team's own route, (d) the template with
that route added and (e) the route in a bare FastAPI app, both on (a)'s command. Each runs in its
own process group, which is all we ever signal.
"""

import dataclasses
import http.client
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import IO

from bench.processes import interrupts_held
from harness.network import PortLost, check_owner, free_port

REPO_ROOT = Path(__file__).resolve().parents[1]
CEILING_APP = "bench.apps.raw_asgi:app"
SEED_APP = "bench.apps.seed_style:app"
# A team's route (bench/apps/items.py): added to the template, and in a bare FastAPI app.
TEAM_APP = "bench.apps.team_route:app"
BARE_APP = "bench.apps.bare_fastapi:app"
# An ASGI app spec as uvicorn takes it: "package.module:attribute".
APP_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
BIND_FAILED = "address already in use"  # uvicorn's words when its port is taken
# The service's settings for the bench: a known build, and no shutdown delay to wait through.
SERVICE_ENV = {"APP_VERSION": "bench", "APP_REVISION": "bench", "APP_SHUTDOWN_DELAY_SECONDS": "0"}


class BenchError(RuntimeError):
    """An expected failure: printed as one line, exit 1."""


# --- The production command, from the Dockerfile (pure) ---------------------------------------


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) for each instruction, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):  # comment lines inside a continuation are dropped
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, arguments = line.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    if pending.strip():
        keyword, _, arguments = pending.strip().partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def dockerfile_cmd(text: str, source: str = "Dockerfile") -> list[str]:
    """The exec-form CMD of the Dockerfile's final stage, as an argv list."""
    cmd = None
    for keyword, arguments in dockerfile_instructions(text):
        if keyword == "FROM":
            cmd = None  # a new stage starts with no CMD of its own
        elif keyword == "CMD":
            cmd = arguments
    if cmd is None:
        raise BenchError(f"{source} has no CMD in its final stage: the bench runs the image's CMD")
    try:
        argv = json.loads(cmd)
    except json.JSONDecodeError:
        argv = None
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        raise BenchError(f"{source}: CMD is not in exec form (a JSON list of strings): {cmd}")
    return argv


def read_production_cmd(dockerfile: Path) -> list[str]:
    try:
        text = dockerfile.read_text()
    except FileNotFoundError:
        raise BenchError(f"{dockerfile} not found: the bench runs the image's CMD") from None
    return dockerfile_cmd(text, str(dockerfile))


def set_option(argv: list[str], option: str, value: str) -> list[str]:
    """argv with `option value` (or `option=value`) replaced, or appended when absent."""
    result = list(argv)
    for i, arg in enumerate(result):
        if arg == option and i + 1 < len(result):
            result[i + 1] = value
            return result
        if arg.startswith(option + "="):
            result[i] = f"{option}={value}"
            return result
    return [*result, option, value]


def app_index(argv: list[str]) -> int:
    """Where the ASGI app spec ("module:attribute") sits in a uvicorn argv."""
    for i, arg in enumerate(argv):
        if APP_SPEC.match(arg):
            return i
    raise BenchError(f"no ASGI app (module:attribute) in the server command: {argv}")


def local_command(cmd: list[str], port: int, bin_dir: Path) -> list[str]:
    """The production CMD made runnable here: this venv's executables, 127.0.0.1, a free port,
    one worker."""
    argv = list(cmd)
    name = Path(argv[0]).name
    if name == "uvicorn" and (bin_dir / "uvicorn").exists():
        argv[0] = str(bin_dir / "uvicorn")
    elif name.startswith("python"):
        argv[0] = sys.executable
    if not any("uvicorn" in Path(arg).name for arg in argv[:3]):
        raise BenchError(f"the CMD does not run uvicorn, which the bench compares against: {cmd}")
    argv = set_option(argv, "--host", "127.0.0.1")
    argv = set_option(argv, "--port", str(port))
    if any(arg == "--workers" or arg.startswith("--workers=") for arg in argv):
        argv = set_option(argv, "--workers", "1")
    return argv


def with_app(argv: list[str], app: str) -> list[str]:
    """The same command serving another ASGI app."""
    result = list(argv)
    result[app_index(result)] = app
    return result


def seed_command(uvicorn: str, port: int) -> list[str]:
    """How the seed served: uvicorn's pure-Python loop and HTTP parser (access log off here, so
    the baseline is not slowed by logging)."""
    return [
        uvicorn,
        SEED_APP,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--loop",
        "asyncio",
        "--http",
        "h11",
        "--no-access-log",
    ]


# --- Processes (edges) ------------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    """Resident set size of a process from /proc/PID/status (VmRSS), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used so far (user + system), from /proc/PID/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "; comm may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def http_get(port: int, target: str, timeout: float = 5.0) -> tuple[int, str, bytes]:
    """(status, content-type, body) of one GET to 127.0.0.1:port."""
    status, headers, body = http_response(port, target, timeout)
    return status, headers.get("content-type", ""), body


def http_response(
    port: int, target: str, timeout: float = 5.0
) -> tuple[int, dict[str, str], bytes]:
    """(status, headers with names in lower case, body) of one GET to 127.0.0.1:port."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", target)
        response = conn.getresponse()
        headers = {name.lower(): value for name, value in response.getheaders()}
        return response.status, headers, response.read()
    finally:
        conn.close()


@dataclasses.dataclass
class Server:
    """One uvicorn process in its own process group; stop() signals only that group."""

    name: str
    argv_for_port: Callable[[int], list[str]]
    env: dict[str, str]
    cpus: Collection[int] | None = None  # where it runs (bench.processes.split_cpus)
    port: int = 0
    proc: subprocess.Popen | None = None
    log: IO[bytes] | None = None

    def start(self) -> float:
        """Start on a fresh port; return the monotonic time just before the process was created."""
        self.port = free_port()
        self.log = tempfile.TemporaryFile(prefix=f"bench-{self.name}-")  # noqa: SIM115 (stop closes it)
        argv = self.argv_for_port(self.port)
        with interrupts_held(self.cpus) as child:
            started = time.monotonic()
            self.proc = subprocess.Popen(
                argv,
                cwd=REPO_ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=self.log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **child,
            )
        return started

    def start_serving(self, path: str = "/-/health", attempts: int = 3) -> tuple[float, float]:
        """Start on a free port until the first 200 on path: (the monotonic time just before the
        process was created, seconds to that 200). A port lost to another process between our
        pick and uvicorn's bind (it exits, or someone else answers) is tried again on another."""
        for attempt in range(1, attempts + 1):
            started = self.start()
            try:
                return started, self.wait_for_200(started, path)
            except PortLost as lost:
                self.stop()
                if attempt == attempts:
                    raise BenchError(f"{self.name}: {lost}, {attempts} times") from None
        raise AssertionError("unreachable")

    def wait_for_200(self, started: float, path: str = "/-/health", timeout: float = 30.0) -> float:
        """Seconds from `started` to the first 200 on path (from this process: PortLost when
        another one answers on its port, or it could not bind it)."""
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                if BIND_FAILED in self.log_tail():
                    raise PortLost(f"port {self.port} was taken before {self.name} bound it")
                raise BenchError(
                    f"{self.name} exited with {self.proc.returncode} before serving: "
                    f"{self.log_tail()}"
                )
            try:
                status, _, _ = http_get(self.port, path, timeout=1.0)
            except OSError:
                status = 0
            if status == 200:
                seconds = time.monotonic() - started
                check_owner(self.proc, self.port)
                return seconds
            time.sleep(0.005)
        raise BenchError(f"{self.name} gave no 200 on {path} within {timeout:.0f}s")

    def describe(self) -> str:
        """The command line, with PORT where the free port goes."""
        argv = set_option(self.argv_for_port(0), "--port", "PORT")
        return " ".join(arg if arg == "PORT" else shlex.quote(arg) for arg in argv)

    def log_tail(self, lines: int = 3) -> str:
        if self.log is None:
            return ""
        self.log.seek(0)
        tail = self.log.read().decode(errors="replace").strip().splitlines()[-lines:]
        return " | ".join(tail) or "no output"

    def cpu_seconds(self) -> float:
        try:
            return cpu_seconds(self.proc.pid)
        except FileNotFoundError:
            raise BenchError(f"{self.name} exited during the load: {self.log_tail()}") from None

    def rss_kib(self) -> int:
        try:
            return rss_kib(self.proc.pid)
        except FileNotFoundError:
            raise BenchError(f"{self.name} exited during the load: {self.log_tail()}") from None

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    proc.wait(timeout=grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if proc is not None and proc.returncode is None:
            proc.wait(timeout=5)
        if self.log is not None:
            self.log.close()
            self.log = None


def server_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without the caller's APP_* settings, plus the bench's own."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("APP_")}
    env.update(SERVICE_ENV)
    env.update(extra or {})
    return env
