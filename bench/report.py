"""The numbers `make bench` prints: medians over rounds, ratios against targets, tables (pure)."""

import dataclasses
import statistics
from collections.abc import Iterable, Sequence

SERVERS = ("service", "ceiling", "seed", "metrics-off", "traced", "team", "bare")
LABELS = {
    "service": "(a) service",
    "ceiling": "(b) raw ASGI",
    "seed": "(c) seed-style",
    "metrics-off": "(a) metrics off",
    "traced": "(a) tracing on",
    "team": "(d) template + route",
    "bare": "(e) bare FastAPI",
}
# What is compared, side by side: (server, versus, how the server is named in the ratio).
COMPARISONS = (
    ("service", "ceiling", "service"),
    ("service", "seed", "service"),
    ("team", "bare", "template"),
)
# The server (defaults: metrics and request ids on) at the highest connection count, as a
# minimum multiple of the other's requests/s, by (endpoint, versus).
TARGETS = {
    ("echo", "ceiling"): 0.80,
    ("echo", "seed"): 3.0,
    ("health", "ceiling"): 0.90,
    ("liveness", "ceiling"): 0.90,
    ("readiness", "ceiling"): 0.90,
    # A team's own route: the template with it added, over the same route in bare FastAPI.
    ("item", "bare"): 0.90,
}
# What observability costs: (numerator, denominator, what the ratio shows).
COSTS = (
    ("service", "metrics-off", "metrics on / off"),
    ("traced", "service", "tracing on / off"),
    ("metrics-off", "ceiling", "metrics off / raw ASGI"),
)
RATIO_NAMES = {server: name for server, _, name in COMPARISONS}
# Cold start passes if the service is no slower than the seed-style app, within this noise margin.
COLD_START_MARGIN = 0.10


@dataclasses.dataclass(frozen=True)
class Sample:
    """One wrk run. cpu_us: the server's CPU time (user + system) per request served."""

    server: str
    endpoint: str
    connections: int
    rps: float
    p50_us: float
    p99_us: float
    errors: int = 0
    cpu_us: float = 0.0


@dataclasses.dataclass(frozen=True)
class Row:
    """The median of the rounds for one server, endpoint and connection count."""

    server: str
    endpoint: str
    connections: int
    rps: float
    p50_us: float
    p99_us: float
    rounds: int
    errors: int
    cpu_us: float = 0.0


@dataclasses.dataclass(frozen=True)
class Ratio:
    endpoint: str
    versus: str
    ratio: float | None
    target: float | None
    verdict: str  # PASS, MISS, ERRORS (failed requests in a run) or "-" (no target)
    # The other server's CPU time per request over the service's: the throughput ratio the two
    # would reach if CPU-bound alone, much steadier than requests/s on a shared, busy machine.
    cpu_ratio: float | None = None
    server: str = "service"  # the numerator


def _order(values: Iterable[str], preferred: Sequence[str]) -> list[str]:
    seen = list(dict.fromkeys(values))
    return sorted(seen, key=lambda v: (preferred.index(v) if v in preferred else len(preferred), v))


def summarize(samples: Iterable[Sample], endpoints: Sequence[str] = ()) -> list[Row]:
    """One row per (endpoint, connections, server), medians over rounds, in display order."""
    groups: dict[tuple[str, int, str], list[Sample]] = {}
    for sample in samples:
        groups.setdefault((sample.endpoint, sample.connections, sample.server), []).append(sample)
    endpoint_order = _order((key[0] for key in groups), endpoints)
    rows = []
    server_order = _order((key[2] for key in groups), SERVERS)
    for endpoint, connections, server in sorted(
        groups, key=lambda k: (endpoint_order.index(k[0]), k[1], server_order.index(k[2]))
    ):
        runs = groups[(endpoint, connections, server)]
        rows.append(
            Row(
                server=server,
                endpoint=endpoint,
                connections=connections,
                rps=statistics.median(s.rps for s in runs),
                p50_us=statistics.median(s.p50_us for s in runs),
                p99_us=statistics.median(s.p99_us for s in runs),
                rounds=len(runs),
                errors=sum(s.errors for s in runs),
                cpu_us=statistics.median(s.cpu_us for s in runs),
            )
        )
    return rows


def ratios(rows: Sequence[Row], connections: int) -> list[Ratio]:
    """Each COMPARISONS pair measured at `connections` (the service against the ceiling and the
    seed-style app; the template with a team's route against bare FastAPI), per endpoint."""
    by_key = {(r.endpoint, r.server): r for r in rows if r.connections == connections}
    result = []
    for endpoint in dict.fromkeys(r.endpoint for r in rows):
        for name, versus, _ in COMPARISONS:
            server, other = by_key.get((endpoint, name)), by_key.get((endpoint, versus))
            target = TARGETS.get((endpoint, versus))
            if server is None or other is None:
                continue
            ratio = server.rps / other.rps if other.rps else None
            if server.errors or other.errors:
                verdict = "ERRORS"
            elif target is None or ratio is None:
                verdict = "-"
            else:
                verdict = "PASS" if ratio >= target else "MISS"
            cpu_ratio = other.cpu_us / server.cpu_us if server.cpu_us and other.cpu_us else None
            result.append(Ratio(endpoint, versus, ratio, target, verdict, cpu_ratio, name))
    return result


def costs(rows: Sequence[Row], connections: int) -> list[tuple[str, str, float, float | None]]:
    """(endpoint, what, ratio of requests/s, ratio by CPU time per request) for each COSTS pair
    measured at `connections`."""
    by_key = {(r.endpoint, r.server): r for r in rows if r.connections == connections}
    result = []
    for endpoint in dict.fromkeys(r.endpoint for r in rows):
        for numerator, denominator, what in COSTS:
            top, bottom = by_key.get((endpoint, numerator)), by_key.get((endpoint, denominator))
            if top is not None and bottom is not None and bottom.rps:
                cpu = bottom.cpu_us / top.cpu_us if top.cpu_us and bottom.cpu_us else None
                result.append((endpoint, what, top.rps / bottom.rps, cpu))
    return result


def cost_table(items: Sequence[tuple[str, str, float, float | None]]) -> str:
    body = [
        [endpoint, what, f"{ratio:.2f}x", "-" if cpu is None else f"{cpu:.2f}x"]
        for endpoint, what, ratio, cpu in items
    ]
    return format_table(["endpoint", "requests/s", "measured", "by CPU/req"], body)


def cold_start_verdict(cold: dict[str, list[float]]) -> str:
    if not cold.get("service") or not cold.get("seed"):
        return "-"
    service, seed = statistics.median(cold["service"]), statistics.median(cold["seed"])
    return "PASS" if service <= seed * (1 + COLD_START_MARGIN) else "MISS"


def format_ms(microseconds: float) -> str:
    return f"{microseconds / 1000:.2f} ms"


def format_table(headers: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """A plain-text table: text columns left-aligned, numeric-looking columns right-aligned."""
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *body, strict=True)]

    def numeric(text: str) -> bool:
        return bool(text) and (text[0].isdigit() or (text[0] == "-" and text[1:2].isdigit()))

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(width) if numeric(cell) else cell.ljust(width)
            for cell, width in zip(cells, widths, strict=True)
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in body)])


def throughput_table(rows: Sequence[Row]) -> str:
    body = [
        [
            LABELS.get(r.server, r.server),
            r.endpoint,
            str(r.connections),
            f"{r.rps:.0f}",
            format_ms(r.p50_us),
            format_ms(r.p99_us),
            f"{r.cpu_us:.0f} us" if r.cpu_us else "-",
            str(r.errors) if r.errors else "",
        ]
        for r in rows
    ]
    headers = ["server", "endpoint", "conns", "req/s", "p50", "p99", "CPU/req", "failed"]
    return format_table(headers, body)


def ratio_table(items: Sequence[Ratio]) -> str:
    body = [
        [
            r.endpoint,
            f"{RATIO_NAMES.get(r.server, r.server)} / {LABELS.get(r.versus, r.versus)}",
            "-" if r.ratio is None else f"{r.ratio:.2f}x",
            "-" if r.target is None else f">= {r.target:.2f}x",
            r.verdict,
            "-" if r.cpu_ratio is None else f"{r.cpu_ratio:.2f}x",
        ]
        for r in items
    ]
    headers = ["endpoint", "ratio", "measured", "target", "verdict", "by CPU/req"]
    return format_table(headers, body)


def _median_ms(values: Sequence[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f} ms" if values else "-"


def process_table(
    cold: dict[str, list[float]],
    rss_kib: dict[str, int],
    ready: dict[str, list[float]] | None = None,
) -> str:
    ready = ready or {}
    body = []
    for server in _order([*cold, *rss_kib], SERVERS):
        starts = cold.get(server, [])
        body.append(
            [
                LABELS.get(server, server),
                _median_ms(starts),
                " ".join(f"{s * 1000:.0f}" for s in starts) or "-",
                _median_ms(ready.get(server, [])),
                f"{rss_kib[server] / 1024:.1f} MiB" if server in rss_kib else "-",
            ]
        )
    headers = ["server", "cold start", "each start (ms)", "ready", "RSS after load"]
    return format_table(headers, body)


def report(
    rows: Sequence[Row],
    ratio_connections: int,
    cold: dict[str, list[float]],
    rss_kib: dict[str, int],
    ready: dict[str, list[float]] | None = None,
) -> str:
    """The whole printed summary."""
    cold_verdict = cold_start_verdict(cold)
    parts = [
        "Throughput and latency (median of rounds):",
        throughput_table(rows),
        "",
        f"Ratios at {ratio_connections} connections:",
        ratio_table(ratios(rows, ratio_connections)),
        "",
    ]
    cost_items = costs(rows, ratio_connections)
    if cost_items:
        parts += [
            f"Cost of observability at {ratio_connections} connections (side by side):",
            cost_table(cost_items),
            "",
        ]
    parts += [
        "Processes (cold start = process start to first 200 on /-/health, median;",
        "ready = to first 200 on /-/readiness, median):",
        process_table(cold, rss_kib, ready),
    ]
    if cold_verdict != "-":
        ratio = statistics.median(cold["service"]) / statistics.median(cold["seed"])
        parts.append(
            f"cold start: service / seed-style {ratio:.2f}x, target <= 1.00x "
            f"(+{COLD_START_MARGIN:.0%} noise margin): {cold_verdict}"
        )
    return "\n".join(parts)


def misses(rows: Sequence[Row], ratio_connections: int, cold: dict[str, list[float]]) -> int:
    """How many targets were missed (or invalid because requests failed)."""
    verdicts = [r.verdict for r in ratios(rows, ratio_connections)]
    verdicts.append(cold_start_verdict(cold))
    return sum(v in ("MISS", "ERRORS") for v in verdicts)
