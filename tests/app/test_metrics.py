"""GET /-/metrics: the request-duration histogram, build info and process metrics.

Every request counts, whoever answers it (fast path or FastAPI), with bounded labels whatever the
client sends. The exposition is parsed with prometheus-client's own parser here; promtool checks a
real server's output in test_metrics_server.py.
"""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.application import create_app
from app.metrics import BUCKETS, KNOWN_METHODS, Metrics
from app.settings import get_settings
from tests.app.asgi import call
from tests.app.conftest import HOST

SETTINGS = get_settings({"APP_VERSION": "1.2.3", "APP_REVISION": "c0ffee"})
DURATION = "http_server_request_duration_seconds"


def scrape(app) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /-/metrics, by (name, sorted labels)."""
    answer = call(app, "/-/metrics")
    assert answer.status == 200
    samples = {}
    for family in text_string_to_metric_families(answer.body.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def counts(samples) -> dict[tuple[str, str, str], float]:
    """The request counts by (method, route, status)."""
    found = {}
    for (name, labels), value in samples.items():
        if name == DURATION + "_count":
            label = dict(labels)
            key = (
                label["http_request_method"],
                label["http_route"],
                label["http_response_status_code"],
            )
            found[key] = value
    return found


@pytest.fixture(params=[True, False], ids=["fast path", "FastAPI only"])
def app(request):
    service = create_app(SETTINGS, host=HOST, fast_path=request.param)
    service.fallback.build()
    return service


def test_every_request_is_counted_by_route_template_method_and_status(app) -> None:
    call(app, "/api/echo", b"text=hi")  # fast path
    call(app, "/api/echo", b"text=hi")
    call(app, "/api/echo", b"")  # FastAPI: 422
    call(app, "/-/health")
    call(app, "/-/health", method="HEAD")
    call(app, "/-/readiness")
    call(app, "/-/liveness", method="POST")  # 405: the route matched, the method did not
    call(app, "/no/such/path")
    call(app, "/openapi.json")
    assert counts(scrape(app)) == {
        ("GET", "/api/echo", "200"): 2,
        ("GET", "/api/echo", "422"): 1,
        ("GET", "/-/health", "200"): 1,
        ("HEAD", "/-/health", "200"): 1,
        ("GET", "/-/readiness", "200"): 1,
        ("POST", "/-/liveness", "405"): 1,
        ("GET", "_OTHER", "404"): 1,
        ("GET", "/openapi.json", "200"): 1,
    }  # the scrape itself is counted once it has finished


def test_scrapes_are_counted_too(app) -> None:
    scrape(app)
    assert counts(scrape(app)) == {("GET", "/-/metrics", "200"): 1}


def test_label_values_stay_bounded_whatever_clients_send(app) -> None:
    for index in range(50):
        call(app, f"/random/{index}/{'x' * index}")
        call(app, "/-/health", method=f"BREW{index}")
    call(app, "/-/health", method="get")  # methods are case-sensitive: not GET
    found = counts(scrape(app))
    assert found == {("GET", "_OTHER", "404"): 50, ("_OTHER", "/-/health", "405"): 51}


def test_raw_paths_never_become_labels(app) -> None:
    call(app, "/secret-user-token-123")
    body = call(app, "/-/metrics").body.decode()
    assert "secret-user-token-123" not in body


def test_a_fast_request_lands_in_a_sub_millisecond_bucket() -> None:
    app = create_app(SETTINGS, host=HOST)
    for _ in range(5):
        call(app, "/-/liveness")
    samples = scrape(app)
    labels = (
        ("http_request_method", "GET"),
        ("http_response_status_code", "200"),
        ("http_route", "/-/liveness"),
    )
    assert samples[(DURATION + "_bucket", (*labels, ("le", "0.001")))] >= 1
    assert min(BUCKETS) <= 0.0001
    assert max(BUCKETS) >= 10


def test_build_info_and_process_and_gc_metrics(app) -> None:
    samples = scrape(app)
    assert samples[("app_build_info", (("revision", "c0ffee"), ("version", "1.2.3")))] == 1
    names = {name for name, _ in samples}
    assert {"process_resident_memory_bytes", "process_cpu_seconds_total"} <= names
    assert {"python_gc_collections_total", "python_info"} <= names


def test_openmetrics_when_the_scraper_asks_for_it(app) -> None:
    accept = b"application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
    answer = call(app, "/-/metrics", headers=((b"accept", accept),))
    content_type = dict(answer.headers)[b"content-type"].decode()
    assert content_type.startswith("application/openmetrics-text; version=1.0.0")
    assert answer.body.endswith(b"# EOF\n")
    plain = call(app, "/-/metrics")
    assert dict(plain.headers)[b"content-type"] == b"text/plain; version=0.0.4; charset=utf-8"


def test_head_answers_like_get_without_a_body(app) -> None:
    head = call(app, "/-/metrics", method="HEAD")
    assert (head.status, head.body) == (200, b"")
    assert int(dict(head.headers)[b"content-length"]) > 1000


def test_metrics_off_removes_the_endpoint() -> None:
    service = create_app(get_settings({"APP_METRICS": "false"}), host=HOST)
    service.fallback.build()
    assert call(service, "/api/echo", b"text=x").status == 200
    assert call(service, "/-/metrics").status == 404


def test_children_are_resolved_once_and_stay_bounded() -> None:
    metrics = Metrics("v", "r")
    for index in range(1000):
        metrics.observe(f"M{index}", "/x", 200, 0.001)
        metrics.observe("GET", "/x", 200, 0.001)
    assert set(metrics.durations._series) == {("_OTHER", "/x", 200), ("GET", "/x", 200)}
    assert "GET" in KNOWN_METHODS
    assert "QUERY" not in KNOWN_METHODS
