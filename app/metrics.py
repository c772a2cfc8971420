"""Prometheus metrics for GET /-/metrics, in a registry of the app's own (one per app).

- http_server_request_duration_seconds{http_request_method, http_route, http_response_status_code}:
  a histogram named and labelled after the OpenTelemetry HTTP semantic conventions
  (http.server.request.duration), with buckets for a service that answers in well under 1 ms.
- app_build_info{version, revision} 1, and the process, Python GC and platform collectors.

Label values stay bounded whatever clients send: methods outside KNOWN_METHODS count as _OTHER,
routes are templates (app/routes.py: `_OTHER` when no route matched, never the raw path), and status
codes are the ones the app sends. The metrics are one process's: run one per pod.
"""

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Histogram, Info
from prometheus_client.exposition import choose_encoder
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

METRICS_PATH = "/-/metrics"
DURATION = "http_server_request_duration_seconds"
LABELS = ("http_request_method", "http_route", "http_response_status_code")
# 50 us .. 10 s: fine where this service answers (tens of microseconds in the app), and still
# meaningful for a slow dependency or a stalled event loop.
BUCKETS = (
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
# The HTTP methods of RFC 9110 and RFC 5789 (what OpenTelemetry's semantic conventions know);
# OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS replaces the list, as the conventions specify.
KNOWN_METHODS = frozenset(
    ("CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE")
)
OTHER_METHOD = "_OTHER"
# One histogram child per (method, route, status) seen, resolved once: observing is then one
# dict lookup and the child's observe().
Observe = Callable[[float], None]


def known_methods(environ_value: str | None) -> frozenset[str]:
    """The methods counted by name: OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS (comma-separated),
    or the standard ones when it is unset or empty."""
    if not environ_value or not environ_value.strip():
        return KNOWN_METHODS
    return frozenset(m.strip() for m in environ_value.split(",") if m.strip())


class Metrics:
    def __init__(self, version: str, revision: str, methods: Iterable[str] = KNOWN_METHODS) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        Info("app_build", "Which build is running.", registry=self.registry).info(
            {"version": version, "revision": revision}
        )
        self.duration = Histogram(
            DURATION,
            "Duration of HTTP server requests, from the first byte the app sees to the last it"
            " sends.",
            LABELS,
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.methods = frozenset(methods)
        self._children: dict[tuple[str, str, int], Observe] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        if method not in self.methods:
            method = OTHER_METHOD
        key = (method, route, status)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.duration.labels(method, route, str(status)).observe
        child(seconds)

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """The exposition (body, content type) in the format the Accept header asks for:
        OpenMetrics when asked, else the Prometheus text format."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type
