"""`python -m bench.instructions`: instructions per request, counted by callgrind."""

import pytest

from bench.instructions import ab_requests, instructions_in, parse_args
from bench.servers import BenchError
from tests.support.cli import run_bench
from tests.support.tools import require_tools

AB_OUTPUT = """
Concurrency Level:      16
Time taken for tests:   6.113 seconds
Complete requests:      3000
Failed requests:        {failed}
Keep-Alive requests:    3000
"""


def test_the_count_is_the_dumps_summary() -> None:
    dump = b"# callgrind format\nversion: 1\nevents: Ir\nfn=(1) main\n16 5\nsummary: 552316080\n"
    assert instructions_in(dump) == 552316080
    assert instructions_in(dump.replace(b"summary:", b"totals:")) == 552316080
    with pytest.raises(BenchError, match="no summary"):
        instructions_in(b"events: Ir\n")  # cut short: not a count


def test_requests_are_what_ab_completed_and_none_may_fail() -> None:
    assert ab_requests(AB_OUTPUT.format(failed=0)) == 3000
    with pytest.raises(BenchError, match="ab: 2 of 3000 requests failed"):
        ab_requests(AB_OUTPUT.format(failed=2))
    with pytest.raises(BenchError, match="no request counts"):
        ab_requests("apr_socket_connect(): Connection refused (111)")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-e", "nope"], "unknown endpoint 'nope'"),
        (["-n", "4", "-c", "8"], "need 1 <= --connections <= --requests"),
    ],
)
def test_bad_flags_exit_2(capsys, argv: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.integration
@pytest.mark.long
def test_counts_the_service_and_its_ceiling_on_health() -> None:
    """Both servers under valgrind, a few hundred requests each: a count per request for each,
    the service's above the ceiling's (it does more: the request id, the histogram)."""
    require_tools("valgrind", "ab")
    proc = run_bench("instructions", "-n", "300", "-c", "4", "-e", "health", timeout=600)
    assert proc.returncode == 0, proc.stderr
    (line,) = [line.split() for line in proc.stdout.splitlines() if line.startswith("  health")]
    service, ceiling = (int(v.replace(",", "")) for v in (line[2], line[5]))
    assert 50_000 < ceiling < service < 2 * ceiling, proc.stdout
    assert abs(float(line[-1].removesuffix("x")) - ceiling / service) < 0.002
