"""The synthetic requests of ``verify`` (``ci.slo.traffic``): the schedule (pure), and what a
server on a thread in this process receives (it records each request and answers 200, or 503 for
``/busy``)."""

import time

import pytest

from ci.errors import UsageError
from ci.gitops.promotion import Traffic
from ci.project import service_name
from ci.slo.traffic import Synthetic, check_base_url, due_times
from tests.ci.slo.stand_in import StandIn, serving


@pytest.mark.parametrize(
    ("rate", "seconds", "due"),
    [
        (1, 3, [0, 1, 2]),
        (2, 1.5, [0, 0.5, 1.0]),
        (10, 0.35, [0, 0.1, 0.2, 0.3]),
        (0.1, 5, [0]),  # one request at once, even in a window shorter than the interval
        (20, 0.05, [0]),
    ],
)
def test_due_times(rate, seconds, due):
    assert due_times(rate, seconds) == pytest.approx(due)


def test_the_count_is_bounded_by_rate_times_window():
    assert len(due_times(20, 300)) == 6000


@pytest.mark.parametrize(
    ("raw", "url"),
    [("https://dev.example.com/", "https://dev.example.com"), ("http://h:8/p", "http://h:8/p")],
)
def test_check_base_url(raw, url):
    assert check_base_url(raw) == url


@pytest.mark.parametrize(
    "raw", ["dev.example.com", "ftp://h", "http://h/?q", "http://h/#f", "http://h:0", "http://[::1"]
)
def test_a_bad_base_url_is_bad_input(raw):
    with pytest.raises(UsageError, match=r"^--url must be the http\(s\) base URL of the service"):
        check_base_url(raw)


def answer(path: str):
    return (503 if path.startswith("/base/busy") else 200), {}, b"{}"


def test_the_paths_in_turn_at_the_rate_within_the_window():
    with serving(StandIn(answer)) as stand_in:
        traffic = Traffic(("/api/echo?text=verify", "/busy"), rate=20)
        started = time.monotonic()
        synthetic = Synthetic(stand_in.url + "/base", traffic, seconds=0.5).start()
        synthetic.join(timeout=5)
        took = time.monotonic() - started
    paths = [path for path, _ in stand_in.requests]
    assert paths == ["/base/api/echo?text=verify", "/base/busy"] * 5
    assert 0.45 <= took < 2
    headers = [headers for _, headers in stand_in.requests]
    assert [h["X-Request-ID"] for h in headers] == [f"verify-{n}" for n in range(10)]
    assert {h["User-Agent"] for h in headers} == {f"{service_name()}-verify"}
    assert synthetic.summary() == "synthetic: 10 sent (5 answered 200, 5 answered 503)"


def test_stop_ends_it_at_once():
    with serving(StandIn(answer)) as stand_in:
        synthetic = Synthetic(stand_in.url, Traffic(("/",), rate=10), seconds=60).start()
        time.sleep(0.25)
        started = time.monotonic()
        synthetic.stop()
        assert time.monotonic() - started < 0.5
        sent = len(stand_in.requests)
        time.sleep(0.3)
        assert len(stand_in.requests) == sent <= 4


def test_a_request_that_gets_no_answer_is_counted_as_such():
    with serving(StandIn(answer)) as stand_in:
        url = stand_in.url
    synthetic = Synthetic(url, Traffic(("/",), rate=10), seconds=0.2).start()
    synthetic.join(timeout=5)
    assert synthetic.summary() == "synthetic: 2 sent (2 no answer)"


def test_nothing_sent_yet():
    assert Synthetic("http://h", Traffic(("/",), 1), 1).summary() == "synthetic: 0 sent"
