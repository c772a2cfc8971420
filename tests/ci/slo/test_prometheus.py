"""The Prometheus API client (``ci.slo.prometheus``): its settings, what it sends and what it
makes of each answer.

Debian's Prometheus cannot check a bearer token, redirect, or fail on demand, so those cases run
against a stand-in on a thread in this process that answers in the API's shapes and records what
it was sent; the real server answers the queries (tests/ci/slo/test_queries.py) and serves TLS
with a private CA here (integration).
"""

import contextlib
import time
from collections.abc import Callable

import pytest

from ci.errors import UsageError
from ci.slo.prometheus import Prometheus, Unreachable, check_url, finite
from tests.ci.slo.stand_in import Answer, StandIn, json_answer, serving
from tests.support.prometheus import Tls, running_prometheus

VECTOR = {
    "status": "success",
    "data": {"resultType": "vector", "result": [{"metric": {"pod": "a"}, "value": [1, "42"]}]},
}


def test_a_query_is_an_instant_vector_at_a_time_with_the_token():
    with serving(StandIn(json_answer(VECTOR))) as stand_in:
        client = Prometheus.from_settings(stand_in.url + "/prefix/", " s3cret ", None)
        assert client.query('sum(up{job="a b"})', 1_700_000_000.5, 5) == [({"pod": "a"}, 42.0)]
    path, headers = stand_in.requests[0]
    assert path == (
        "/prefix/api/v1/query?query=sum%28up%7Bjob%3D%22a+b%22%7D%29&time=1700000000.500&timeout=5s"
    )
    assert headers["Authorization"] == "Bearer s3cret"


def test_no_token_no_header():
    with serving(StandIn(json_answer(VECTOR))) as stand_in:
        Prometheus.from_settings(stand_in.url, "", None).query("up", 1.0, 5)
    assert "Authorization" not in stand_in.requests[0][1]


def redirect_to(location: str) -> Callable[[str], Answer]:
    def answer(path: str) -> Answer:
        if path.startswith("/api/"):
            return 302, {"Location": location}, b""
        return json_answer(VECTOR)(path)

    return answer


def test_a_redirect_within_the_origin_is_followed_with_the_token():
    with serving(StandIn(redirect_to("/moved/api/v1/query?query=up&time=1"))) as stand_in:
        found = Prometheus.from_settings(stand_in.url, "s3cret", None).query("up", 1.0, 5)
    assert found == [({"pod": "a"}, 42.0)]
    assert [path for path, _ in stand_in.requests][1] == "/moved/api/v1/query?query=up&time=1"
    assert stand_in.requests[1][1]["Authorization"] == "Bearer s3cret"


def test_a_redirect_to_another_origin_is_not_followed():
    with contextlib.ExitStack() as stack:
        elsewhere = stack.enter_context(serving(StandIn(json_answer(VECTOR))))
        redirecting = StandIn(redirect_to(elsewhere.url + "/api/v1/query"))
        stand_in = stack.enter_context(serving(redirecting))
        client = Prometheus.from_settings(stand_in.url, "s3cret", None)
        with pytest.raises(UsageError) as error:
            client.query("up", 1.0, 5)
    assert str(error.value) == (
        f"Prometheus at {stand_in.url} redirected to another origin: not followed, the token"
        " goes only to PROMETHEUS_URL; set PROMETHEUS_URL to the URL the API answers at"
    )
    assert elsewhere.requests == []


def error_body(kind: str, message: str) -> dict:
    return {"status": "error", "errorType": kind, "error": message}


@pytest.mark.parametrize(
    ("status", "body", "kind", "message"),
    [
        (401, {}, UsageError, "rejected the request (HTTP 401): check PROMETHEUS_TOKEN"),
        (
            403,
            error_body("forbidden", "token s3cret may not read"),
            UsageError,
            "refused the query (HTTP 403: forbidden: token *** may not read):"
            " is PROMETHEUS_URL its API?",
        ),
        (404, {}, UsageError, "refused the query (HTTP 404): is PROMETHEUS_URL its API?"),
        (
            400,
            error_body("bad_data", 'parse error: unexpected "}"'),
            UsageError,
            'refused the query (HTTP 400: bad_data: parse error: unexpected "}"): check --selector',
        ),
        (
            503,
            error_body("timeout", "query timed out"),
            Unreachable,
            "answered HTTP 503: timeout: query timed out",
        ),
        (
            422,
            error_body("execution", "many-to-many matching not allowed"),
            Unreachable,
            "answered HTTP 422: execution: many-to-many matching not allowed",
        ),
        (
            200,
            {"status": "success", "data": {"resultType": "matrix", "result": []}},
            Unreachable,
            "did not answer an instant vector",
        ),
        (200, {"status": "success"}, Unreachable, "answered without data"),
    ],
)
def test_what_each_answer_means(status, body, kind, message):
    with serving(StandIn(json_answer(body, status))) as stand_in:
        client = Prometheus.from_settings(stand_in.url, "s3cret", None)
        with pytest.raises(kind) as error:
            client.query("up", 1.0, 5)
    assert type(error.value) is kind
    assert str(error.value) == f"Prometheus at {stand_in.url} {message}"


def test_an_answer_that_is_not_json_is_unreachable():
    answer = lambda path: (200, {}, b"<html>proxy login</html>")  # noqa: E731
    with serving(StandIn(answer)) as stand_in, pytest.raises(Unreachable) as error:
        Prometheus.from_settings(stand_in.url, "", None).query("up", 1.0, 5)
    assert str(error.value) == f"Prometheus at {stand_in.url} did not answer JSON"


def test_nothing_listening_is_unreachable_within_the_deadline():
    with serving(StandIn(json_answer(VECTOR))) as stand_in:
        url = stand_in.url
    started = time.monotonic()
    with pytest.raises(Unreachable, match=r"^Prometheus at http://127\.0\.0\.1:\d+ is unreachable"):
        Prometheus.from_settings(url, "", None).query("up", 1.0, 2)
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (None, "PROMETHEUS_URL is not set: the base URL of the Prometheus HTTP API"),
        ("", "PROMETHEUS_URL is not set: the base URL of the Prometheus HTTP API"),
        ("prometheus:9090", "PROMETHEUS_URL must be an http(s) URL, got 'prometheus:9090'"),
        ("ftp://p", "PROMETHEUS_URL must be an http(s) URL, got 'ftp://p'"),
        ("http://p:0", "PROMETHEUS_URL must be an http(s) URL, got 'http://p:0'"),
        ("http://p x", "PROMETHEUS_URL must be an http(s) URL, got 'http://p x'"),
        ("http://[::1", "PROMETHEUS_URL is not a valid URL (Invalid IPv6 URL): 'http://[::1'"),
        (
            "http://u:pw@p",
            "PROMETHEUS_URL must not hold credentials: use PROMETHEUS_TOKEN",
        ),
        (
            "http://p/?x=1",
            "PROMETHEUS_URL must be a base URL, without ?query or #fragment: 'http://p/?x=1'",
        ),
    ],
)
def test_a_bad_url_is_bad_input(url, message):
    with pytest.raises(UsageError) as error:
        Prometheus.from_settings(url, None, None)
    assert str(error.value) == message


@pytest.mark.parametrize(
    ("raw", "url"),
    [
        ("HTTPS://Prom.example:9090/thanos/", "https://Prom.example:9090/thanos"),
        ("http://127.0.0.1:9090", "http://127.0.0.1:9090"),
    ],
)
def test_check_url(raw, url):
    assert check_url(raw) == url


def test_a_token_a_header_cannot_carry_is_bad_input_and_never_shown():
    with pytest.raises(UsageError) as error:
        Prometheus.from_settings("http://p", "abc\r\nX-Evil: 1", None)
    assert "abc" not in str(error.value)
    assert str(error.value).startswith("PROMETHEUS_TOKEN holds a character an HTTP header")


def test_a_ca_file_must_be_pem(tmp_path):
    with pytest.raises(UsageError, match=r"PROMETHEUS_CA_FILE '.*/none' is not a file"):
        Prometheus.from_settings("https://p", None, str(tmp_path / "none"))
    (tmp_path / "ca.pem").write_text("not a certificate\n")
    with pytest.raises(UsageError, match=r"PROMETHEUS_CA_FILE '.*ca\.pem': no PEM certificates"):
        Prometheus.from_settings("https://p", None, str(tmp_path / "ca.pem"))


@pytest.mark.parametrize(
    ("value", "found"), [(1.5, 1.5), (float("nan"), None), (float("inf"), None), (0.0, 0.0)]
)
def test_finite(value, found):
    assert finite(value) == found


@pytest.mark.integration
def test_over_tls_a_private_ca_is_trusted_only_when_given(test_ca, tmp_path):
    tls = Tls(test_ca.cert, test_ca.key, test_ca.ca)
    with running_prometheus(tmp_path / "prometheus", [], tls) as prometheus:
        trusted = Prometheus.from_settings(prometheus.url, None, str(test_ca.ca))
        assert trusted.query("vector(1)", time.time(), 5) == [({}, 1.0)]
        with pytest.raises(UsageError) as error:
            Prometheus.from_settings(prometheus.url, None, None).query("vector(1)", time.time(), 5)
    assert str(error.value).startswith(f"Prometheus at {prometheus.url}: TLS certificate not")
    assert str(error.value).endswith("; set PROMETHEUS_CA_FILE to the CA's PEM file")
