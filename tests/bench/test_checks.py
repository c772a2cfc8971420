"""Correctness checks run before load: each names what is wrong with a response."""

import json
import socket

import pytest

from bench.checks import ENDPOINTS, TRICKY_TEXT, check_observed, check_response, check_targets

JSON = "application/json"


def _health(**extra):
    body = {"status": "ok", "debug": {"hostname": socket.gethostname(), "ip": None}, **extra}
    return json.dumps(body).encode()


def test_good_answers_pass():
    tricky = check_targets()[-1]
    assert check_response("/api/echo?text=hello", 200, JSON, b'{"text":"hello"}') is None
    assert check_response(tricky, 200, JSON, json.dumps({"text": TRICKY_TEXT}).encode()) is None
    assert check_response("/-/health", 200, JSON, _health()) is None
    assert check_response("/-/health", 200, JSON, _health(version="b", revision=""), "b") is None
    assert check_response("/-/liveness", 200, "text/plain", b"ok") is None


@pytest.mark.parametrize(
    ("target", "status", "content_type", "body", "build", "problem"),
    [
        ("/-/readiness", 503, JSON, b"{}", None, "GET /-/readiness gave 503, expected 200"),
        (
            "/api/echo?text=hello",
            200,
            "text/plain",
            b"hello",
            None,
            "GET /api/echo?text=hello gave content-type 'text/plain', expected application/json",
        ),
        (
            "/api/echo?text=hello",
            200,
            JSON,
            b'{"text":"hell"}',
            None,
            "GET /api/echo?text=hello gave {'text': 'hell'}, expected {'text': 'hello'}",
        ),
        (
            "/-/health",
            200,
            JSON,
            b"nope",
            None,
            "GET /-/health gave a body that is not JSON: b'nope'",
        ),
        (
            "/-/health",
            200,
            JSON,
            b'{"status":"ok"}',
            None,
            "GET /-/health gave debug=None, expected hostname and ip",
        ),
        (
            "/-/health",
            200,
            JSON,
            _health(),
            "b",
            "GET /-/health gave",
        ),
    ],
)
def test_wrong_answers_are_named(target, status, content_type, body, build, problem):
    assert check_response(target, status, content_type, body, build).startswith(problem)


def test_the_team_route_is_checked_for_its_item_and_not_among_the_templates_own():
    item = ENDPOINTS["item"]
    assert item not in check_targets()
    assert check_response(item, 200, JSON, b'{"id":42,"name":"item 42"}') is None
    assert check_response(item, 200, JSON, b'{"id":42}') == (
        "GET /api/items/42 gave {'id': 42}, expected {'id': 42, 'name': 'item 42'}"
    )


def test_the_template_must_give_the_team_route_an_id_and_count_it_by_its_template():
    item, counted = ENDPOINTS["item"], b'..._count{http_route="/api/items/{item_id}"} 3.0'
    assert check_observed(item, {"x-request-id": "abc"}, counted) is None
    assert check_observed(item, {}, counted) == "GET /api/items/42 gave no X-Request-ID header"
    assert check_observed(item, {"x-request-id": "abc"}, b'http_route="/api/items/42"') == (
        "GET /-/metrics counts no request with http_route '/api/items/{item_id}'"
    )
