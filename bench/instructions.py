"""`make bench-instructions`: the instructions each server spends per request, counted by valgrind.

Where requests/s drift by 10-30% from one process to the next, an instruction count does not: it
is the same figure on every run and every machine with the same builds. Each server (the service
with the Dockerfile's CMD, and the raw-ASGI ceiling on the same command) runs under callgrind; its
counters are zeroed after a warm-up, `ab` sends a fixed number of keep-alive requests, and the
counters are dumped. The count is user space only: the kernel's work per request (the socket
calls, a quarter or more of a request's CPU time here) is the same for both servers and is not
in it, so the ratio here is lower than the ratio of requests/s.
"""

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.servers import (
    CEILING_APP,
    REPO_ROOT,
    BenchError,
    Server,
    local_command,
    read_production_cmd,
    server_env,
    with_app,
)

TARGETS = {"health": "/-/health", "echo": "/api/echo?text=hello"}
_TOTALS = re.compile(rb"^(?:summary|totals):\s*(\d+)", re.MULTILINE)
_COMPLETE = re.compile(r"^Complete requests:\s+(\d+)", re.MULTILINE)
_FAILED = re.compile(r"^Failed requests:\s+(\d+)", re.MULTILINE)


def instructions_in(dump: bytes) -> int:
    """The instructions a callgrind dump counted (its `summary:` or `totals:` line)."""
    match = _TOTALS.search(dump)
    if match is None:
        raise BenchError("the callgrind dump has no summary line")
    return int(match.group(1))


def ab_requests(output: str) -> int:
    """The requests ab completed, all of them answered (BenchError otherwise)."""
    complete, failed = _COMPLETE.search(output), _FAILED.search(output)
    if complete is None or failed is None:
        raise BenchError(f"ab printed no request counts: {output.strip()[-200:]}")
    if int(failed.group(1)):
        raise BenchError(f"ab: {failed.group(1)} of {complete.group(1)} requests failed")
    return int(complete.group(1))


class Counted:
    """One server under callgrind, in a directory of its own for the dumps."""

    def __init__(self, name: str, app: str, workdir: Path) -> None:
        production = read_production_cmd(REPO_ROOT / "Dockerfile")
        bin_dir = Path(sys.executable).parent
        valgrind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={workdir}/cg.%p"]
        self.workdir = workdir
        self.server = Server(
            name,
            lambda port: [*valgrind, *with_app(local_command(production, port, bin_dir), app)],
            server_env(),
        )

    def start(self) -> None:
        started = self.server.start()
        self.server.wait_for_200(started, "/-/readiness", timeout=300.0)

    def count(self, target: str, requests: int, connections: int) -> float:
        """Instructions per request: ab's requests between a zeroing and a dump of the counters."""
        url = f"http://127.0.0.1:{self.server.port}{target}"
        self._ab(url, max(requests // 5, connections), connections)  # warm-up
        pid = self.server.proc.pid
        _control("-z", pid)
        done = self._ab(url, requests, connections)
        _control("-d", pid)
        return instructions_in(self._dump(pid)) / done

    def _ab(self, url: str, requests: int, connections: int) -> int:
        proc = subprocess.run(
            ["ab", "-k", "-n", str(requests), "-c", str(connections), url],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        return ab_requests(proc.stdout + proc.stderr)

    def _dump(self, pid: int, timeout: float = 60.0) -> bytes:
        """The newest dump's text, once callgrind has written it whole."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dumps = sorted(self.workdir.glob(f"cg.{pid}.*"), key=lambda p: p.stat().st_mtime)
            if dumps and _TOTALS.search(text := dumps[-1].read_bytes()):
                return text
            time.sleep(0.2)
        raise BenchError(f"{self.server.name}: callgrind wrote no dump within {timeout:.0f}s")

    def stop(self) -> None:
        self.server.stop()


def _control(command: str, pid: int) -> None:
    proc = subprocess.run(
        ["callgrind_control", command, str(pid)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        raise BenchError(f"callgrind_control {command} {pid}: {proc.stdout}{proc.stderr}".strip())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.instructions", description=__doc__.split("\n")[0]
    )
    parser.add_argument("-n", "--requests", type=int, default=3000, help="per count (3000)")
    parser.add_argument("-c", "--connections", type=int, default=16, help="ab's (16)")
    parser.add_argument(
        "-e", "--endpoints", default="health,echo", help=f"comma list of {', '.join(TARGETS)}"
    )
    args = parser.parse_args(argv)
    args.endpoints = [e.strip() for e in args.endpoints.split(",") if e.strip()]
    unknown = [e for e in args.endpoints if e not in TARGETS]
    if unknown or not args.endpoints:
        parser.error(f"unknown endpoint {', '.join(unknown)!r} (known: {', '.join(TARGETS)})")
    if args.requests < 1 or args.connections < 1 or args.connections > args.requests:
        parser.error("need 1 <= --connections <= --requests")
    return args


def run(args: argparse.Namespace) -> int:
    missing = [t for t in ("valgrind", "callgrind_control", "ab") if shutil.which(t) is None]
    if missing:
        raise BenchError(f"missing {', '.join(missing)}: install valgrind and apache2-utils")
    counts: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-instructions-") as tmp:
        for name, app in (("service", "app.main:app"), ("ceiling", CEILING_APP)):
            workdir = Path(tmp, name)
            workdir.mkdir()
            counted = Counted(name, app, workdir)
            try:
                counted.start()
                counts[name] = {
                    e: counted.count(TARGETS[e], args.requests, args.connections)
                    for e in args.endpoints
                }
            finally:
                counted.stop()
    print(
        f"Instructions per request (user space, callgrind; {args.requests} keep-alive requests"
        f" from ab, {args.connections} connections, after a warm-up):"
    )
    for endpoint in args.endpoints:
        service, ceiling = counts["service"][endpoint], counts["ceiling"][endpoint]
        print(
            f"  {endpoint:<7} service {service:>9,.0f}  raw ASGI {ceiling:>9,.0f}"
            f"  ceiling / service {ceiling / service:.3f}x"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
