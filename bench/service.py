"""`make bench`: the service against its ceiling and the seed-style baseline, side by side.

Starts three single-worker uvicorn servers on 127.0.0.1: (a) the service with the Dockerfile's CMD,
(b) a raw ASGI app on the same uvicorn and flags (the ceiling), (c) a seed-style FastAPI app on
uvicorn's pure-Python stack. Checks each answers correctly, loads them with wrk, interleaved, and
prints requests/s, p50/p99, the ratios against the targets, cold start and RSS after load.

With variants (the default), two more copies of (a) run in the same rounds on echo and health at
the highest connection count: metrics off (APP_METRICS=false), and tracing on (every request
sampled, spans exported over OTLP/HTTP to a sink in this process), for the cost of each.

On the "item" endpoint, what the template costs a team's own route: (d) the template with a
route added as its own are (an APIRouter included in the FastAPI app; metrics and request ids on,
the defaults) against (e) the same route in a bare FastAPI app, both on (a)'s command and flags.
Only those two serve it, and they serve nothing else under load.
"""

import argparse
import contextlib
import os
import shutil
import signal
import sys
from collections.abc import Collection
from pathlib import Path

from bench import report
from bench.checks import ENDPOINTS, TEAM_ENDPOINTS, check_observed, check_response, check_targets
from bench.otlp_sink import OTLPSink
from bench.processes import split_cpus
from bench.servers import (
    BARE_APP,
    CEILING_APP,
    REPO_ROOT,
    TEAM_APP,
    BenchError,
    Server,
    http_get,
    http_response,
    local_command,
    read_production_cmd,
    seed_command,
    server_env,
    with_app,
)
from bench.wrk import Wrk, WrkError

BUILD = "bench"
VARIANTS = ("metrics-off", "traced")
VARIANT_ENDPOINTS = ("echo", "health")
# The template with a team's route, and that route in a bare FastAPI app: loaded on
# TEAM_ENDPOINTS only.
TEAM_SERVERS = ("team", "bare")


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
        "-d", "--duration", type=seconds, default=2.0, help="seconds per wrk run (2)"
    )
    # Many short rounds rather than a few long ones: on a machine whose speed drifts by 10-20%
    # from one run to the next, the median of 8 runs per server is what the ratios can trust.
    parser.add_argument("-r", "--rounds", type=int, default=8, help="interleaved rounds (8)")
    # The same code in another process of the same command runs up to 10-30% faster or slower
    # on this VM, for the process's life (memory placement, presumably): one process per server
    # would make that the ratio's error. New processes each round make it part of the median.
    parser.add_argument(
        "--fresh",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="new server processes every round (on)",
    )
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
    parser.add_argument(
        "--variants",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run the service with metrics off and with tracing on (echo, health)",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.cold_starts < 0 or args.threads < 1:
        parser.error("--rounds and --threads must be >= 1, --cold-starts >= 0")
    return args


def build_servers(dockerfile: Path, otlp_endpoint: str | None = None) -> list[Server]:
    """The three servers, the team route's two, and the service's variants when otlp_endpoint
    is given."""
    production = read_production_cmd(dockerfile)
    bin_dir = Path(sys.executable).parent
    uvicorn = str(bin_dir / "uvicorn") if (bin_dir / "uvicorn").exists() else "uvicorn"
    env = server_env()

    def service(port: int) -> list[str]:
        return local_command(production, port, bin_dir)

    servers = [
        Server("service", service, env),
        Server("ceiling", lambda port: with_app(service(port), CEILING_APP), env),
        Server("seed", lambda port: seed_command(uvicorn, port), env),
        Server("team", lambda port: with_app(service(port), TEAM_APP), env),
        Server("bare", lambda port: with_app(service(port), BARE_APP), env),
    ]
    if otlp_endpoint is not None:
        traced_env = server_env({"OTEL_EXPORTER_OTLP_ENDPOINT": otlp_endpoint})
        servers += [
            Server("metrics-off", service, server_env({"APP_METRICS": "false"})),
            Server("traced", service, traced_env),
        ]
    return servers


def runs_in(server: Server, endpoint: str, connections: int, load_connections: int) -> bool:
    """Whether a server is loaded with this endpoint and connection count (the variants: only
    echo and health, at the count the ratios are taken at; the team route's servers: only its
    endpoint, and only they)."""
    if (server.name in TEAM_SERVERS) != (endpoint in TEAM_ENDPOINTS):
        return False
    if server.name not in VARIANTS:
        return True
    return endpoint in VARIANT_ENDPOINTS and connections == load_connections


def loaded_servers(servers: list[Server], args: argparse.Namespace) -> list[Server]:
    """The servers some run of the plan loads (-e item: only the team route's two)."""
    top = ratio_connections(args.connections)
    return [
        s
        for s in servers
        if any(runs_in(s, e, c, top) for e in args.endpoints for c in args.connections)
    ]


def ready_path(server: Server) -> str:
    """What answers 200 once a server is ready: the template's readiness; the bare app has only
    the team's route."""
    return ENDPOINTS["item"] if server.name == "bare" else "/-/readiness"


def warm_up_target(server: Server) -> str:
    return ENDPOINTS["item"] if server.name in TEAM_SERVERS else ENDPOINTS["echo"]


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
                started, seconds = server.start_serving("/-/health")
                cold[server.name].append(seconds)
                ready[server.name].append(server.wait_for_200(started, "/-/readiness"))
            finally:
                stop_all([server])
        say(
            f"cold start {i + 1}/{count}: "
            + ", ".join(f"{n} {v[-1] * 1000:.0f} ms" for n, v in cold.items())
        )
    return cold, ready


def check_server(server: Server) -> list[str]:
    if server.name == "bare":
        problems = check_team_route(server.port, observed=False)
    else:
        build = None if server.name == "seed" else BUILD
        problems = []
        if server.name in ("service", "team", *VARIANTS):  # metrics on, but for metrics-off
            status, _, body = http_get(server.port, "/-/metrics")
            metrics_on = status == 200 and b"http_server_request_duration_seconds_count{" in body
            if metrics_on != (server.name != "metrics-off"):
                problems.append(f"GET /-/metrics gave {status}, metrics_on={metrics_on}")
        problems += check_own_endpoints(server.port, build)
        if server.name == "team":
            problems += check_team_route(server.port, observed=True)
    return [f"{server.name}: {p}" for p in problems]


def check_own_endpoints(port: int, build: str | None) -> list[str]:
    """The template's own endpoints under load, and an echo that must survive quoting."""
    problems = []
    for target in check_targets():
        try:
            status, content_type, body = http_get(port, target)
        except OSError as exc:
            problems.append(f"GET {target}: {exc}")
            continue
        problem = check_response(target, status, content_type, body, build)
        if problem:
            problems.append(problem)
    return problems


def check_team_route(port: int, observed: bool) -> list[str]:
    """The team's route answers; `observed` (the template): with its request id, and counted in
    the histogram under its route template."""
    target = ENDPOINTS["item"]
    try:
        status, headers, body = http_response(port, target)
        problem = check_response(target, status, headers.get("content-type", ""), body)
        if problem is None and observed:
            metrics_status, _, metrics = http_get(port, "/-/metrics")
            problem = check_observed(target, headers, metrics if metrics_status == 200 else b"")
    except OSError as exc:
        problem = f"GET {target}: {exc}"
    return [problem] if problem else []


def _cpu_list(cpus: Collection[int] | None) -> str:
    return ",".join(map(str, sorted(cpus or ())))


def ratio_connections(connections: list[int]) -> int:
    return 64 if 64 in connections else max(connections)


def start_all(servers: list[Server], wrk: Wrk, connections: int) -> None:
    """Start every server, check its answers, warm it up (first connections, lazy imports)."""
    for server in servers:  # ready = what a Kubernetes Service waits for
        server.start_serving(ready_path(server))
    problems = [p for server in servers for p in check_server(server)]
    if problems:
        raise BenchError("wrong answers, not benchmarking: " + "; ".join(problems))
    for server in servers:
        wrk.run(f"http://127.0.0.1:{server.port}{warm_up_target(server)}", connections, 1)


def load(servers: list[Server], wrk: Wrk, args: argparse.Namespace) -> list[report.Sample]:
    """The rounds; with args.fresh, every round on new server processes. Leaves the last
    round's servers running (for their RSS)."""
    samples = []
    top = ratio_connections(args.connections)
    plan = [
        (endpoint, connections, [s for s in servers if runs_in(s, endpoint, connections, top)])
        for endpoint in args.endpoints
        for connections in args.connections
    ]
    total = args.rounds * sum(len(loaded) for _, _, loaded in plan)
    done = 0
    for round_number in range(1, args.rounds + 1):
        if round_number == 1 or args.fresh:
            stop_all(servers)
            start_all(servers, wrk, max(args.connections))
        for endpoint, connections, loaded in plan:
            # Every other round in reverse: no server always runs right after the same one.
            for server in loaded if round_number % 2 else loaded[::-1]:
                url = f"http://127.0.0.1:{server.port}{ENDPOINTS[endpoint]}"
                cpu_before = server.cpu_seconds()
                result = wrk.run(url, connections, args.duration)
                cpu = server.cpu_seconds() - cpu_before
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
                        cpu * 1e6 / result.requests if result.requests else 0.0,
                    )
                )
    return samples


def run(args: argparse.Namespace) -> int:
    with contextlib.ExitStack() as stack:
        variants = args.variants and any(e in VARIANT_ENDPOINTS for e in args.endpoints)
        sink = stack.enter_context(OTLPSink()) if variants else None
        return run_with(args, sink)


def run_with(args: argparse.Namespace, sink: OTLPSink | None) -> int:
    servers = build_servers(args.dockerfile, sink.endpoint if sink is not None else None)
    servers = loaded_servers(servers, args)
    cpus = split_cpus()
    load_cpus, server_cpus = cpus if cpus is not None else (None, None)
    for server in servers:
        server.cpus = server_cpus
    wrk_path = shutil.which("wrk")
    if wrk_path is None:
        raise BenchError("wrk not found: install the Debian package wrk (`make tools`)")
    print("Servers (single worker each, 127.0.0.1, a free port each):")
    for server in servers:
        print(f"  {report.LABELS[server.name]}: {server.describe()}")
    top = ratio_connections(args.connections)
    runs = args.rounds * sum(
        runs_in(s, e, c, top) for e in args.endpoints for c in args.connections for s in servers
    )
    print(
        f"wrk: {args.rounds} interleaved rounds x {args.duration:g}s"
        + (", new server processes each round" if args.fresh else "")
        + f", {args.threads} thread(s), "
        f"connections {','.join(map(str, args.connections))}; {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}; "
        + (
            f"wrk on CPU {_cpu_list(load_cpus)}, the servers on CPU {_cpu_list(server_cpus)}"
            if cpus is not None
            else "wrk and the servers share the one CPU"
        ),
        flush=True,
    )
    say(f"{runs} wrk runs of {args.duration:g}s: about {runs * args.duration / 60:.1f} min")

    # The team route's servers are the service's start plus a route: not timed again.
    timed = [s for s in servers if s.name not in TEAM_SERVERS]
    cold, ready = measure_cold_starts(timed, args.cold_starts)
    rss: dict[str, int] = {}
    with Wrk(wrk_path, threads=args.threads, cpus=load_cpus) as wrk:
        try:
            samples = load(servers, wrk, args)
            rss = {server.name: server.rss_kib() for server in servers}
        finally:
            stop_all(servers)

    rows = report.summarize(samples, args.endpoints)
    print(report.report(rows, top, cold, rss, ready))
    if sink is not None:
        print(f"tracing on: {sink.requests} OTLP exports, {sink.bytes / 1e6:.1f} MB of spans")
    print(f"load average after the run: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    missed = report.misses(rows, top, cold)
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
