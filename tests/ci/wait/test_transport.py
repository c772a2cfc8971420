"""One GET ends by its deadline whatever the server does: servers on 127.0.0.1 that send their
answer a byte at a time (headers or body), or nothing at all."""

import threading
import time

import pytest

from ci.wait import transport
from ci.wait.argocd import ArgoCD, Unreachable
from tests.ci.wait.fake_argocd import DRIP_LIMIT, dripping, serving


@pytest.fixture
def stop():
    event = threading.Event()
    yield event
    event.set()


@pytest.mark.parametrize("part", ["headers", "body"])
def test_a_server_that_drips_bytes_cannot_stretch_a_request(part, stop):
    with serving(dripping(part, stop)) as server:
        started = time.monotonic()
        with pytest.raises(Unreachable) as raised:
            ArgoCD(server.url).application("x", timeout=1.0)
        took = time.monotonic() - started
    assert 0.9 < took < 2.5
    assert str(raised.value) == (
        f"Argo CD at {server.url} is unreachable (no complete answer within 1s)"
    )


def test_a_server_that_says_nothing_is_cut_at_the_deadline(stop):
    with serving(lambda handler: stop.wait(DRIP_LIMIT)) as server:
        started = time.monotonic()
        with pytest.raises(transport.DeadlineExceeded):
            transport.get(server.url + "/", {}, 0.5, None, 100)
        assert time.monotonic() - started < 2


def test_an_answer_within_the_deadline_is_whole():
    def respond(handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "11")
        handler.end_headers()
        handler.wfile.write(b'{"a": true}')

    with serving(respond) as server:
        response = transport.get(server.url + "/p?q=1", {"Accept": "x"}, 5.0, None, 100)
        assert response == transport.Response(200, b'{"a": true}', None)
        assert server.seen == [("/p?q=1", "")]


def test_origins():
    assert transport.origin("HTTPS://Argo.Example/x") == ("https", "argo.example", 443)
    assert transport.origin("http://[::1]:8080/") == ("http", "::1", 8080)
    assert transport.same_origin("http://h/a", "http://h:80/b")
    assert not transport.same_origin("https://h/a", "http://h:443/a")
    assert not transport.same_origin("http://h/a", "http://[::1/")
