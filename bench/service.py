"""`make bench`: the service against its ceiling and the seed-style baseline, side by side.

Starts three single-worker uvicorn servers on 127.0.0.1: (a) the service with the Dockerfile's CMD,
(b) a raw ASGI app on the same uvicorn and flags (the ceiling), (c) a seed-style FastAPI app on
uvicorn's pure-Python stack. Checks each answers correctly, loads them with wrk, interleaved, and
prints requests/s, p50/p99, the ratios against the targets, cold start and RSS after load.
"""

import argparse
import os
import shutil
import signal
import sys
from pathlib import Path

from bench import report
from bench.checks import ENDPOINTS, check_response, check_targets
from bench.servers import (
    CEILING_APP,
    REPO_ROOT,
    BenchError,
    Server,
    http_get,
    local_command,
    read_production_cmd,
    seed_command,
    server_env,
    with_app,
)
from bench.wrk import Wrk, WrkError

BUILD = "bench"


def seconds(text: str) -> float:
    """A duration: "5", "5s" or "2.5s"."""
    value = text.removesuffix("s")
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration in seconds: {text!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"wrk runs at least 1s, got {text!r}")
    return number


def positive_ints(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of numbers: {text!r}"
        ) from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"need positive numbers, got {text!r}")
    return values


def endpoint_names(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in ENDPOINTS]
    if unknown or not names:
        known = ", ".join(ENDPOINTS)
        raise argparse.ArgumentTypeError(
            f"unknown endpoint {', '.join(unknown)!r} (known: {known})"
        )
    return names


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.service", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "-d", "--duration", type=seconds, default=5.0, help="seconds per wrk run (5)"
    )
    parser.add_argument("-r", "--rounds", type=int, default=3, help="interleaved rounds (3)")
    parser.add_argument(
        "-c", "--connections", type=positive_ints, default=[1, 64], help="comma list (1,64)"
    )
    parser.add_argument(
        "-e", "--endpoints", type=endpoint_names, default=list(ENDPOINTS), help="comma list (all)"
    )
    parser.add_argument("--cold-starts", type=int, default=5, help="starts per server (5)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (1)")
    parser.add_argument(
        "--dockerfile", type=Path, default=REPO_ROOT / "Dockerfile", help="where the CMD is read"
    )
    parser.add_argument(
        "--fail-on-miss", action="store_true", help="exit 1 when a target is missed"
    )
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.cold_starts < 0 or args.threads < 1:
        parser.error("--rounds and --threads must be >= 1, --cold-starts >= 0")
    return args


def build_servers(dockerfile: Path) -> list[Server]:
    production = read_production_cmd(dockerfile)
    bin_dir = Path(sys.executable).parent
    uvicorn = str(bin_dir / "uvicorn") if (bin_dir / "uvicorn").exists() else "uvicorn"
    env = server_env()
    return [
        Server("service", lambda port: local_command(production, port, bin_dir), env),
        Server(
            "ceiling",
            lambda port: with_app(local_command(production, port, bin_dir), CEILING_APP),
            env,
        ),
        Server("seed", lambda port: seed_command(uvicorn, port), env),
    ]


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def stop_all(servers: list[Server]) -> None:
    """Stop every server; a second Ctrl-C or SIGTERM cannot interrupt this and leave one behind."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for server in servers:
            server.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def measure_cold_starts(
    servers: list[Server], count: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Seconds from process start to the first 200 on /-/health, and on /-/readiness."""
    cold: dict[str, list[float]] = {s.name: [] for s in servers}
    ready: dict[str, list[float]] = {s.name: [] for s in servers}
    for i in range(count):
        for server in servers:  # interleaved, like the load
            try:
                started = server.start()
                cold[server.name].append(server.wait_for_200(started, "/-/health"))
                ready[server.name].append(server.wait_for_200(started, "/-/readiness"))
            finally:
                stop_all([server])
        say(
            f"cold start {i + 1}/{count}: "
            + ", ".join(f"{n} {v[-1] * 1000:.0f} ms" for n, v in cold.items())
        )
    return cold, ready


def check_server(server: Server) -> list[str]:
    build = BUILD if server.name in ("service", "ceiling") else None
    problems = []
    for target in check_targets():
        try:
            status, content_type, body = http_get(server.port, target)
        except OSError as exc:
            problems.append(f"GET {target}: {exc}")
            continue
        problem = check_response(target, status, content_type, body, build)
        if problem:
            problems.append(problem)
    return [f"{server.name}: {p}" for p in problems]


def load(servers: list[Server], wrk: Wrk, args: argparse.Namespace) -> list[report.Sample]:
    samples = []
    total = args.rounds * len(args.endpoints) * len(args.connections) * len(servers)
    done = 0
    for round_number in range(1, args.rounds + 1):
        for endpoint in args.endpoints:
            for connections in args.connections:
                for server in servers:
                    url = f"http://127.0.0.1:{server.port}{ENDPOINTS[endpoint]}"
                    result = wrk.run(url, connections, args.duration)
                    done += 1
                    say(
                        f"[{done}/{total}] round {round_number} {endpoint} c={connections} "
                        f"{server.name}: {result.requests_per_second:.0f} req/s"
                        + (f", {result.errors} failed" if result.errors else "")
                    )
                    samples.append(
                        report.Sample(
                            server.name,
                            endpoint,
                            connections,
                            result.requests_per_second,
                            result.p50_us,
                            result.p99_us,
                            result.errors,
                        )
                    )
    return samples


def run(args: argparse.Namespace) -> int:
    servers = build_servers(args.dockerfile)
    wrk_path = shutil.which("wrk")
    if wrk_path is None:
        raise BenchError("wrk not found: install the Debian package wrk (`make tools`)")
    print("Servers (single worker each, 127.0.0.1, a free port each):")
    for server in servers:
        print(f"  {report.LABELS[server.name]}: {server.describe()}")
    runs = args.rounds * len(args.endpoints) * len(args.connections) * len(servers)
    print(
        f"wrk: {args.rounds} interleaved rounds x {args.duration:g}s, {args.threads} thread(s), "
        f"connections {','.join(map(str, args.connections))}; {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    say(f"{runs} wrk runs of {args.duration:g}s: about {runs * args.duration / 60:.1f} min")

    cold, ready = measure_cold_starts(servers, args.cold_starts)
    rss: dict[str, int] = {}
    with Wrk(wrk_path, threads=args.threads) as wrk:
        try:
            for server in servers:  # ready = what a Kubernetes Service waits for
                server.wait_for_200(server.start(), "/-/readiness")
            problems = [p for server in servers for p in check_server(server)]
            if problems:
                raise BenchError("wrong answers, not benchmarking: " + "; ".join(problems))
            for server in servers:  # warm up: first connections, lazy imports
                wrk.run(
                    f"http://127.0.0.1:{server.port}{ENDPOINTS['echo']}", max(args.connections), 1
                )
            samples = load(servers, wrk, args)
            rss = {server.name: server.rss_kib() for server in servers}
        finally:
            stop_all(servers)

    rows = report.summarize(samples, args.endpoints)
    ratio_connections = 64 if 64 in args.connections else max(args.connections)
    print(report.report(rows, ratio_connections, cold, rss, ready))
    print(f"load average after the run: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    missed = report.misses(rows, ratio_connections, cold)
    return 1 if missed and args.fail_on_miss else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the servers' process groups are always stopped.
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return run(args)
    except (BenchError, WrkError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
