"""The PromQL of a verification (``ci.slo.queries``): its parts in-process, and its counts on a
real Prometheus scraping real servers of the service (integration)."""

import contextlib
import time
import urllib.error
import urllib.request

import pytest

from app import SERVICE_NAME, metrics, probes
from ci.errors import UsageError
from ci.slo import queries
from ci.slo.prometheus import Prometheus
from ci.slo.queries import Build, alternatives, duration, excluded_routes, parse_selector, quote
from tests.support.prometheus import Fleet, Pod, scraped_pods


def test_the_names_are_the_services():
    """``ci`` does not import ``app``: the metric, label and probe names are kept equal here."""
    assert queries.DURATION == metrics.DURATION
    assert metrics.LABELS[1:] == (queries.ROUTE, queries.STATUS)
    assert set(queries.PROBE_ROUTES) == {
        probes.HEALTH_PATH,
        probes.LIVENESS_PATH,
        probes.READINESS_PATH,
        metrics.METRICS_PATH,
    }
    info = metrics.Metrics("v", "r").registry.get_sample_value(
        queries.BUILD_INFO, {"version": "v", "revision": "r"}
    )
    assert info == 1.0


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("1a2b3c4d", '"1a2b3c4d"'),
        ('a"b', r'"a\"b"'),
        ("a\\b", r'"a\\b"'),
        ("a\nb", r'"a\nb"'),
        ('x"} or vector(1) #', r'"x\"} or vector(1) #"'),  # stays one string: no injection
    ],
)
def test_quote(value, quoted):
    assert quote(value) == quoted


def test_alternatives_match_the_routes_literally():
    assert alternatives(["/-/health", "/api/a.b", "/x(y)|z"]) == r"/-/health|/api/a\.b|/x\(y\)\|z"


@pytest.mark.parametrize(
    ("seconds", "text"), [(300, "300s"), (4.25, "4250ms"), (4.0004, "4s"), (0.0001, "1ms")]
)
def test_duration(seconds, text):
    assert duration(seconds) == text


@pytest.mark.parametrize(
    ("text", "matchers"),
    [
        ("", ()),
        (f'namespace="{SERVICE_NAME}-dev"', (f'namespace="{SERVICE_NAME}-dev"',)),
        (
            '{namespace = "dev", job=~"a|b" , pod!~"old-.*",cluster!="x"}',
            ('namespace="dev"', 'job=~"a|b"', 'pod!~"old-.*"', 'cluster!="x"'),
        ),
        (r'team="a\"b"', (r'team="a\"b"',)),
    ],
)
def test_parse_selector(text, matchers):
    assert parse_selector(text) == matchers


@pytest.mark.parametrize(
    "text",
    [
        "namespace=dev",  # unquoted
        'namespace="dev" job="x"',  # no comma
        '__name__="up"',  # not a label of the targets
        'namespace="dev"} or vector(1)',
        "namespace='dev'",
        '1ns="dev"',
        'namespace=="dev"',
    ],
)
def test_a_selector_that_is_not_label_matchers_is_bad_input(text):
    with pytest.raises(UsageError, match=r"^--selector: expected"):
        parse_selector(text)


@pytest.mark.parametrize(
    ("paths", "excluded"),
    [
        ((), queries.PROBE_ROUTES),
        (("/api/echo?text=verify",), queries.PROBE_ROUTES),
        (("/-/health", "/api/echo"), ("/-/liveness", "/-/readiness", "/-/metrics")),
        (("/-/readiness?x=1",), ("/-/health", "/-/liveness", "/-/metrics")),
    ],
)
def test_the_probes_are_left_out_unless_the_traffic_asks_for_them(paths, excluded):
    assert excluded_routes(paths) == excluded


def test_every_series_is_joined_on_this_builds_info_by_scrape_target():
    build = Build("1a2b3c4d", ('namespace="dev"',))
    info = 'max_over_time(app_build_info{version="1a2b3c4d", namespace="dev"}[300s])'
    target = "job, namespace, pod, instance"
    join = f"* on({target}) group_left() max by ({target}) ({info})"
    routes = 'http_route!~"/-/health|/-/liveness|/-/readiness|/-/metrics"'
    count = f'http_server_request_duration_seconds_count{{namespace="dev", {routes}}}'
    counted = (
        f"((max_over_time({count}[300s]) unless {count} offset 300s) or increase({count}[300s]))"
    )
    assert build.requests(300) == f"sum({counted} {join})"
    assert build.errors(300).count('http_response_status_code=~"5.."') == 3
    assert build.latency(300).startswith("histogram_quantile(0.95, sum by (le) (((max_over_time(")
    assert "_bucket{" in build.latency(300)
    assert build.targets(300) == f"count(max by (job, namespace, pod, instance) ({info}))"
    assert build.last_scrape() == (
        'min(timestamp(app_build_info{version="1a2b3c4d", namespace="dev"}))'
    )


def test_no_route_matcher_when_nothing_is_left_out():
    assert "http_route" not in Build("v", excluded=()).requests(60)


# -- on a real Prometheus ----------------------------------------------------------------------

PODS = (
    Pod("new1", "web-new1-a"),
    Pod("old1", "web-old1-a", app="tests.support.failing_echo:app"),
    # The same build in another environment.
    Pod("new1", "web-new1-prod", namespace=f"{SERVICE_NAME}-prod"),
)


@pytest.mark.integration
def test_the_counts_are_this_builds_exactly(tmp_path):
    """Every series of these pods is born inside the window (the first requests come before
    any scrape saw them), the old build's pod fails beside the new one, the probes are hit and
    the same build serves another namespace: each number counts only what it should."""
    dev = (f'namespace="{SERVICE_NAME}-dev"',)
    new, old = Build("new1", dev), Build("old1", dev)
    with_probes = Build("new1", ('pod="web-new1-a"',), excluded_routes(["/-/health"]))
    expected = {
        "new1 requests": (new.requests, 7.0),
        "new1 errors": (new.errors, None),  # no 5xx series at all
        "new1 pods": (new.targets, 1.0),
        "old1 requests": (old.requests, 5.0),
        "old1 errors": (old.errors, 5.0),
        "new1 in every namespace": (Build("new1").requests, 11.0),
        "new1 with /-/health": (with_probes.requests, 10.0),
    }
    with scraped_pods(tmp_path / "prometheus", PODS) as fleet:
        start = time.time()
        send(fleet, "web-new1-a", "/api/echo?text=a", 7)
        send(fleet, "web-new1-a", "/-/health", 3)
        send(fleet, "web-old1-a", "/api/echo?text=a", 5)
        send(fleet, "web-new1-prod", "/api/echo?text=a", 4)
        found, at = settled(fleet, expected, start)
        assert found == {name: value for name, (_, value) in expected.items()}
        assert 0 < look(fleet, new.latency(at - start), at) < 0.5
        # The control: increase() alone misses what a series counted before its first scrape.
        echo = f'{queries.COUNT}{{pod="web-new1-a", http_route="/api/echo"}}'
        naive = look(fleet, f"sum(increase({echo}[{duration(at - start)}]))", at)
        assert naive is None or naive < 7


def send(fleet: Fleet, pod: str, path: str, count: int) -> None:
    for _ in range(count):
        with contextlib.suppress(urllib.error.HTTPError):
            urllib.request.urlopen(fleet.servers[pod].url(path), timeout=5).read()


def look(fleet: Fleet, expr: str, at: float) -> float | None:
    result = Prometheus(fleet.prometheus.url).query(expr, at, 10)
    return result[0][1] if result else None


def settled(fleet: Fleet, expected: dict, start: float, timeout: float = 15):
    """The numbers since ``start``, once they are what is expected (every request scraped) or
    after ``timeout`` seconds; and the time they were asked for."""
    ends = time.monotonic() + timeout
    while True:
        at = time.time()
        found = {name: look(fleet, query(at - start), at) for name, (query, _) in expected.items()}
        if time.monotonic() > ends or all(found[n] == v for n, (_, v) in expected.items()):
            return found, at
        time.sleep(0.2)
