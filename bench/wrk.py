"""Driving wrk: a Lua reporter that prints one parseable line, and the parser for it."""

import dataclasses
import os
import subprocess
import tempfile
from collections.abc import Collection
from pathlib import Path

from bench.processes import interrupts_held

# wrk calls done() once at the end of a run; latency values are microseconds.
REPORT_LUA = """\
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d connect_errors=%d read_errors=%d write_errors=%d "
      .. "status_errors=%d timeouts=%d p50_us=%d p99_us=%d\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""

REPORT_PREFIX = "BENCH "
REPORT_KEYS = (
    "requests",
    "duration_us",
    "connect_errors",
    "read_errors",
    "write_errors",
    "status_errors",
    "timeouts",
    "p50_us",
    "p99_us",
)


class WrkError(RuntimeError):
    """wrk did not run, or printed no report line."""


@dataclasses.dataclass(frozen=True)
class WrkResult:
    requests: int
    duration_us: int
    connect_errors: int
    read_errors: int
    write_errors: int
    status_errors: int
    timeouts: int
    p50_us: int
    p99_us: int

    @property
    def requests_per_second(self) -> float:
        return self.requests / (self.duration_us / 1e6) if self.duration_us else 0.0

    @property
    def errors(self) -> int:
        """Failed requests: socket errors, timeouts and non-2xx/3xx answers."""
        return (
            self.connect_errors
            + self.read_errors
            + self.write_errors
            + self.status_errors
            + self.timeouts
        )


def parse_report(output: str) -> WrkResult:
    """Read the `BENCH key=value ...` line the Lua reporter printed into wrk's output."""
    for line in output.splitlines():
        if not line.startswith(REPORT_PREFIX):
            continue
        fields = dict(item.split("=", 1) for item in line[len(REPORT_PREFIX) :].split())
        missing = [key for key in REPORT_KEYS if key not in fields]
        if missing:
            raise WrkError(f"wrk report line lacks {', '.join(missing)}: {line!r}")
        try:
            return WrkResult(**{key: int(float(fields[key])) for key in REPORT_KEYS})
        except ValueError as exc:
            raise WrkError(f"wrk report line has a non-number: {line!r}") from exc
    tail = output.strip().splitlines()[-3:]
    raise WrkError(f"wrk printed no report line (last output: {' | '.join(tail) or 'none'})")


def wrk_command(
    wrk: str, url: str, connections: int, duration: float, script: Path, threads: int = 1
) -> list[str]:
    """The wrk argv for one run. wrk needs at least one connection per thread."""
    threads = max(1, min(threads, connections))
    return [
        wrk,
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={max(1, round(duration))}s",
        "--timeout=5s",
        f"--script={script}",
        url,
    ]


class Wrk:
    """Runs wrk with the reporter script, kept in a temporary file for the object's lifetime."""

    def __init__(self, wrk: str, threads: int = 1, cpus: Collection[int] | None = None) -> None:
        self.wrk = wrk
        self.threads = threads
        self.cpus = cpus
        self._dir = tempfile.TemporaryDirectory(prefix="bench-wrk-")
        self.script = Path(self._dir.name) / "report.lua"
        self.script.write_text(REPORT_LUA)

    def close(self) -> None:
        self._dir.cleanup()

    def __enter__(self) -> "Wrk":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, url: str, connections: int, duration: float) -> WrkResult:
        argv = wrk_command(self.wrk, url, connections, duration, self.script, self.threads)
        proc = None
        try:
            with interrupts_held(self.cpus) as child:
                proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env={**os.environ, "LC_ALL": "C"},
                    **child,
                )
            stdout, stderr = proc.communicate(timeout=duration + 30)
        except subprocess.TimeoutExpired as exc:
            raise WrkError(f"wrk did not finish within {duration + 30:.0f}s: {url}") from exc
        finally:
            if proc is not None and proc.poll() is None:  # interrupted or timed out
                proc.kill()
                proc.communicate()
        if proc.returncode != 0:
            message = (stderr or stdout).strip().splitlines()
            raise WrkError(f"wrk exited {proc.returncode} on {url}: {' | '.join(message[-3:])}")
        return parse_report(stdout)
