"""The summary `make bench` prints: medians, ratios against the targets, verdicts, tables."""

from bench.report import (
    Row,
    Sample,
    cold_start_verdict,
    costs,
    format_table,
    misses,
    ratios,
    report,
    summarize,
)


def _samples(server, endpoint, connections, *rps, errors=0):
    return [
        Sample(server, endpoint, connections, r, p50_us=100 * i, p99_us=1000 * i, errors=errors)
        for i, r in enumerate(rps, start=1)
    ]


def test_summarize_takes_medians_over_rounds_in_display_order():
    samples = [
        *_samples("seed", "echo", 64, 10, 30, 20),
        *_samples("service", "echo", 64, 300, 100, 200),
        *_samples("service", "echo", 1, 5, 6, 7),
        *_samples("ceiling", "health", 64, 1, 2, 3),
    ]
    rows = summarize(samples, endpoints=["health", "echo"])
    assert [(r.endpoint, r.connections, r.server) for r in rows] == [
        ("health", 64, "ceiling"),
        ("echo", 1, "service"),
        ("echo", 64, "service"),
        ("echo", 64, "seed"),
    ]
    echo = rows[2]
    assert (echo.rps, echo.p50_us, echo.p99_us, echo.rounds) == (200, 200, 2000, 3)


def _row(server, endpoint, rps, connections=64, errors=0, cpu_us=0.0):
    return Row(server, endpoint, connections, rps, 100, 1000, 3, errors, cpu_us)


def test_ratios_against_the_targets():
    rows = [
        _row("service", "echo", 8000),
        _row("ceiling", "echo", 10000),
        _row("seed", "echo", 1000),
        _row("service", "health", 8900),
        _row("ceiling", "health", 10000),
        _row("seed", "health", 1000),
        _row("service", "echo", 1, connections=1),  # other connection counts are not compared
    ]
    result = [
        (r.endpoint, r.versus, round(r.ratio, 2), r.target, r.verdict) for r in ratios(rows, 64)
    ]
    assert result == [
        ("echo", "ceiling", 0.8, 0.80, "PASS"),
        ("echo", "seed", 8.0, 3.0, "PASS"),
        ("health", "ceiling", 0.89, 0.90, "MISS"),
        ("health", "seed", 8.9, None, "-"),
    ]
    assert misses(rows, 64, {}) == 1


def test_cpu_time_per_request_gives_a_steadier_second_ratio():
    samples = [
        *[Sample("service", "echo", 64, r, 100, 1000, 0, cpu) for r, cpu in ((900, 50), (1, 60))],
        *[Sample("ceiling", "echo", 64, r, 100, 1000, 0, cpu) for r, cpu in ((1000, 40), (1, 40))],
    ]
    rows = summarize(samples)
    assert [r.cpu_us for r in rows] == [55, 40]  # medians
    (ratio,) = [r for r in ratios(rows, 64) if r.versus == "ceiling"]
    assert round(ratio.cpu_ratio, 3) == round(40 / 55, 3)
    assert "0.73x" in report(rows, 64, {}, {})


def test_failed_requests_make_the_ratio_invalid():
    rows = [_row("service", "liveness", 9000, errors=2), _row("ceiling", "liveness", 10000)]
    (ratio,) = ratios(rows, 64)
    assert ratio.verdict == "ERRORS"
    assert misses(rows, 64, {}) == 1


def test_cold_start_compares_medians_with_a_margin():
    assert cold_start_verdict({"service": [0.5, 0.3, 0.2], "seed": [0.3, 0.2, 0.9]}) == "PASS"
    assert cold_start_verdict({"service": [0.4], "seed": [0.3]}) == "MISS"
    assert cold_start_verdict({"service": [0.4]}) == "-"


def test_format_table_aligns_text_left_and_numbers_right():
    table = format_table(["name", "req/s"], [["a", "5"], ["long name", "12345"]])
    assert table.splitlines() == [
        "name       req/s",
        "---------  -----",
        "a              5",
        "long name  12345",
    ]


def test_report_shows_every_part():
    rows = [_row("service", "echo", 3000), _row("ceiling", "echo", 6000), _row("seed", "echo", 500)]
    text = report(
        rows, 64, {"service": [0.2], "seed": [0.3]}, {"service": 30 * 1024}, {"service": [0.25]}
    )
    assert "(a) service     echo         64   3000  0.10 ms  1.00 ms" in text
    assert "echo      service / (b) raw ASGI       0.50x  >= 0.80x  MISS" in text
    assert "echo      service / (c) seed-style     6.00x  >= 3.00x  PASS" in text
    assert "(a) service         200 ms              200  250 ms        30.0 MiB" in text
    assert text.endswith(
        "cold start: service / seed-style 0.67x, target <= 1.00x (+10% noise margin): PASS"
    )


def test_costs_of_metrics_and_tracing_side_by_side():
    rows = [
        _row("service", "echo", 9000, cpu_us=50),
        _row("metrics-off", "echo", 10000, cpu_us=40),
        _row("traced", "echo", 4500),
        _row("ceiling", "echo", 10000, cpu_us=40),
        _row("service", "health", 9000),  # no variants measured for health
        _row("traced", "echo", 1, connections=1),  # other connection counts are not compared
    ]
    assert costs(rows, 64) == [
        ("echo", "metrics on / off", 0.9, 0.8),
        ("echo", "tracing on / off", 0.5, None),  # no CPU figure for one of the two
        ("echo", "metrics off / raw ASGI", 1.0, 1.0),
    ]
    text = report(rows, 64, {}, {})
    assert "Cost of observability at 64 connections (side by side):" in text
    assert "echo      metrics on / off           0.90x       0.80x" in text
    assert "echo      tracing on / off           0.50x  -\n" in text
    assert "(a) service      echo         64   9000  0.10 ms  1.00 ms    50 us" in text
    assert "Cost of observability" not in report(rows[-2:], 64, {}, {})


def test_a_team_route_in_the_template_against_bare_fastapi():
    """The template with a team's route over the same route in a bare FastAPI app: >= 0.90x."""
    rows = [
        _row("team", "item", 9000, cpu_us=50),
        _row("bare", "item", 10000, cpu_us=45),
        _row("service", "echo", 8000),  # compared with nothing here
    ]
    (ratio,) = ratios(rows, 64)
    assert (ratio.server, ratio.versus, ratio.ratio, ratio.target, ratio.verdict) == (
        "team",
        "bare",
        0.9,
        0.90,
        "PASS",
    )
    assert round(ratio.cpu_ratio, 2) == 0.9
    text = report(rows, 64, {}, {})
    assert "(d) template + route  item         64   9000" in text
    assert "(e) bare FastAPI      item         64  10000" in text
    assert "item      template / (e) bare FastAPI     0.90x  >= 0.90x  PASS" in text
    slower = [_row("team", "item", 8900), _row("bare", "item", 10000)]
    assert [r.verdict for r in ratios(slower, 64)] == ["MISS"]
    assert misses(slower, 64, {}) == 1
