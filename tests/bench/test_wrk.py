"""Reading wrk's output: the report line our Lua script prints."""

from pathlib import Path

import pytest

from bench.wrk import REPORT_LUA, WrkError, parse_report, wrk_command

WRK_OUTPUT = """\
Running 5s test @ http://127.0.0.1:40123/-/liveness
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.01ms  310.12us   9.80ms   91.23%
    Req/Sec    31.90k     1.20k   33.10k    84.00%
  158712 requests in 5.00s, 21.19MB read
Requests/sec:  31722.81
Transfer/sec:      4.24MB
BENCH requests=158712 duration_us=5003210 connect_errors=0 read_errors=0 write_errors=0 \
status_errors=3 timeouts=1 p50_us=1987 p99_us=3120
"""


def test_parse_report_reads_the_lua_line():
    result = parse_report(WRK_OUTPUT)
    assert result.requests == 158712
    assert result.p50_us == 1987
    assert result.p99_us == 3120
    assert result.errors == 4
    assert result.requests_per_second == pytest.approx(158712 / 5.00321)


def test_parse_report_without_the_line_says_what_wrk_printed():
    with pytest.raises(WrkError, match=r"no report line \(last output: .*Transfer/sec"):
        parse_report(WRK_OUTPUT.rsplit("BENCH", 1)[0])


def test_parse_report_with_a_missing_key_names_it():
    line = "BENCH requests=10 duration_us=1000000 p50_us=1"
    with pytest.raises(WrkError, match="lacks connect_errors, read_errors"):
        parse_report(line)


def test_zero_duration_gives_zero_rate():
    line = (
        "BENCH requests=0 duration_us=0 connect_errors=5 read_errors=0 write_errors=0 "
        "status_errors=0 timeouts=0 p50_us=0 p99_us=0"
    )
    assert parse_report(line).requests_per_second == 0.0


def test_lua_script_prints_every_key_the_parser_needs():
    for key in ("requests", "duration_us", "status_errors", "timeouts", "p50_us", "p99_us"):
        assert f"{key}=%d" in REPORT_LUA


def test_wrk_command_never_has_more_threads_than_connections():
    argv = wrk_command("wrk", "http://127.0.0.1:1/x", 1, 2.4, Path("r.lua"), threads=4)
    assert argv == [
        "wrk",
        "--threads=1",
        "--connections=1",
        "--duration=2s",
        "--timeout=5s",
        "--script=r.lua",
        "http://127.0.0.1:1/x",
    ]
