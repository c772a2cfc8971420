"""Prometheus metrics for GET /-/metrics, in a registry of the app's own (one per app).

- http_server_request_duration_seconds{http_request_method, http_route, http_response_status_code}:
  a histogram named and labelled after the OpenTelemetry HTTP semantic conventions
  (http.server.request.duration), with buckets for a service that answers in well under 1 ms.
- app_build_info{version, revision} 1, and the process, Python GC and platform collectors.

Label values stay bounded whatever clients send: methods outside KNOWN_METHODS count as _OTHER,
routes are templates (app/routes.py: `_OTHER` when no route matched, never the raw path), and
status codes are the ones the app sends. The metrics are one process's: run one per pod.

The histogram is counted by RequestDurations, a prometheus-client collector built for the hot
path: each (method, route, status) series is a plain list of bucket counts, resolved once, and
one observation is a bisect and two additions (prometheus-client's own Histogram takes a lock
per bucket and per sum, several times the cost). It is lock-free because only the event loop's
thread observes and collects (the layers and the /-/metrics handlers all run on it).
"""

from bisect import bisect_left
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, Info
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.utils import floatToGoString

METRICS_PATH = "/-/metrics"
DURATION = "http_server_request_duration_seconds"
LABELS = ("http_request_method", "http_route", "http_response_status_code")
# 50 us .. 10 s: fine where this service answers (tens of microseconds in the app), and still
# meaningful for a slow dependency or a stalled event loop.
BUCKETS = (
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
# The HTTP methods of RFC 9110 and RFC 5789, as OpenTelemetry's semantic conventions know them.
KNOWN_METHODS = frozenset(
    ("CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE")
)
OTHER_METHOD = "_OTHER"


class RequestDurations:
    """The request-duration histogram, as a prometheus-client collector."""

    def __init__(self, buckets: Iterable[float] = BUCKETS, methods: Iterable[str] = KNOWN_METHODS):
        self.bounds = tuple(sorted(buckets))
        self.first_bound = self.bounds[0]
        self.methods = frozenset(methods)
        self._le = [*map(floatToGoString, self.bounds), "+Inf"]
        # Per series: a count per bucket (not cumulative; the last is +Inf), then the sum.
        self._series: dict[tuple[str, str, int], list[float]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        series = self._series.get((method, route, status))
        if series is None:
            series = self._add_series(method, route, status)
        # Most requests fall in the first bucket: one comparison instead of a search.
        series[0 if seconds <= self.first_bound else bisect_left(self.bounds, seconds)] += 1
        series[-1] += seconds

    def _add_series(self, method: str, route: str, status: int) -> list[float]:
        """The series of a request not counted before. Stored under its method's label only, so
        that unknown methods (all counted as _OTHER) never grow the table."""
        if method not in self.methods:
            method = OTHER_METHOD
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = [0] * (len(self.bounds) + 1) + [0.0]
        return series

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(
            DURATION,
            "Duration of HTTP server requests, from the request reaching the app to its last"
            " byte sent.",
            labels=LABELS,
        )
        for (method, route, status), series in list(self._series.items()):
            cumulative, buckets = 0, []
            for le, count in zip(self._le, series[:-1], strict=True):
                cumulative += count
                buckets.append((le, cumulative))
            family.add_metric([method, route, str(status)], buckets, series[-1])
        yield family

    def describe(self) -> Iterator[HistogramMetricFamily]:
        yield HistogramMetricFamily(DURATION, "", labels=LABELS)


class Metrics:
    def __init__(self, version: str, revision: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        Info("app_build", "Which build is running.", registry=self.registry).info(
            {"version": version, "revision": revision}
        )
        self.durations = RequestDurations()
        self.registry.register(self.durations)
        self.observe = self.durations.observe

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """The exposition (body, content type) in the format the Accept header asks for:
        OpenMetrics when asked, else the Prometheus text format."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type
