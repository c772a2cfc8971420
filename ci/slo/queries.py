"""The PromQL of a verification: one build's requests, 5xx answers, p95 latency and pods.

**Only this build's series.** Every number is joined on ``app_build_info{version=TAG}`` by scrape
target (``job``, ``namespace``, ``pod``, ``instance``: what the Prometheus Operator puts on every
series of a pod)::

    sum(COUNT * on(job, namespace, pod, instance) group_left()
        max by (job, namespace, pod, instance) (max_over_time(app_build_info{version="TAG"}[W])))

so during a rollout the old pods' requests (another ``version``) never count, and a pod of the
build that went away during the window (crashed, drained) still does. A pod's image never changes
(a new image is a new pod), so a target's whole window belongs to one build.

**Counting a window exactly enough.** ``increase()`` sees only the growth between samples in the
window, so a series born inside it (a new pod's first requests, the first 500 a build ever
answered) would lose everything counted before its first scrape: a build failing a few requests
would show no errors at all. A series absent at the window's start is therefore counted whole
(``max_over_time``: counters start at 0 with the series), the others by ``increase()`` (which
copes with counter resets).

**Not the probes.** The routes of ``/-/health``, ``/-/liveness``, ``/-/readiness`` and
``/-/metrics`` are left out (a readiness 503 while a pod starts is by design, and Prometheus's own
scrapes would count as traffic), unless the rule's synthetic traffic asks for one of them.

``--selector`` (label matchers such as ``namespace="<service>-dev"``) narrows every
series to the environment's targets: the same build runs in dev and prod after a promotion.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from ci.errors import UsageError
from ci.project import service_name

DURATION = "http_server_request_duration_seconds"
BUILD_INFO = "app_build_info"
ROUTE = "http_route"
STATUS = "http_response_status_code"
COUNT, BUCKET = f"{DURATION}_count", f"{DURATION}_bucket"
SERVER_ERROR = f'{STATUS}=~"5.."'
TARGET_LABELS = ("job", "namespace", "pod", "instance")
PROBE_ROUTES = ("/-/health", "/-/liveness", "/-/readiness", "/-/metrics")
QUANTILE = 0.95
# One label matcher: name, operator, a double-quoted PromQL string (escapes kept as written).
_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\\n]|\\.)*")\s*')
_RE2_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")


def quote(value: str) -> str:
    """``value`` as a PromQL double-quoted string."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def alternatives(values: Iterable[str]) -> str:
    """A regex (RE2, anchored by PromQL) matching exactly ``values``."""
    return "|".join(_RE2_SPECIAL.sub(r"\\\1", value) for value in values)


def duration(seconds: float) -> str:
    """A PromQL duration, to the millisecond (at least one)."""
    milliseconds = max(1, round(seconds * 1000))
    return f"{milliseconds // 1000}s" if milliseconds % 1000 == 0 else f"{milliseconds}ms"


def parse_selector(text: str, flag: str = "--selector") -> tuple[str, ...]:
    """Label matchers (``name="value"``, ``=~``, ``!=``, ``!~``; commas between) as written;
    UsageError naming the part that is not one."""
    matchers: list[str] = []
    rest = text.strip().strip("{}").strip()
    while rest:
        match = _MATCHER.match(rest)
        if not match or match.group(1).startswith("__"):
            raise UsageError(
                f'{flag}: expected label matchers like namespace="{service_name()}-dev",'
                f" not {rest[:60]!r}"
            )
        matchers.append("".join(match.groups()))
        rest = rest[match.end() :]
        if rest and not rest.startswith(","):
            raise UsageError(f"{flag}: expected a comma before {rest[:60]!r}")
        rest = rest[1:].lstrip()
    return tuple(matchers)


def excluded_routes(traffic_paths: Iterable[str] = ()) -> tuple[str, ...]:
    """The probe routes, less those the rule's synthetic traffic asks for."""
    asked = {urlsplit(path).path for path in traffic_paths}
    return tuple(route for route in PROBE_ROUTES if route not in asked)


@dataclass(frozen=True)
class Build:
    """The series of the build ``version`` (the image tag) among the targets ``matchers`` pick."""

    version: str
    matchers: tuple[str, ...] = ()
    excluded: tuple[str, ...] = PROBE_ROUTES

    def requests(self, window: float) -> str:
        return f"sum({self._joined(COUNT, (), window)})"

    def errors(self, window: float) -> str:
        return f"sum({self._joined(COUNT, (SERVER_ERROR,), window)})"

    def latency(self, window: float, quantile: float = QUANTILE) -> str:
        joined = self._joined(BUCKET, (), window)
        return f"histogram_quantile({quantile:g}, sum by (le) ({joined}))"

    def targets(self, window: float) -> str:
        """How many scrape targets (pods) reported the build during the window."""
        return f"count({self._build(window)})"

    def last_scrape(self) -> str:
        """When the least recently scraped target of the build was scraped (Unix seconds)."""
        return f"min(timestamp({self._info()}))"

    def _info(self) -> str:
        return _selector(BUILD_INFO, (f"version={quote(self.version)}", *self.matchers))

    def _build(self, window: float) -> str:
        by = ", ".join(TARGET_LABELS)
        return f"max by ({by}) (max_over_time({self._info()}[{duration(window)}]))"

    def _joined(self, metric: str, extra: tuple[str, ...], window: float) -> str:
        on = ", ".join(TARGET_LABELS)
        return (
            f"{self._counted(metric, extra, window)} * on({on}) group_left() {self._build(window)}"
        )

    def _counted(self, metric: str, extra: tuple[str, ...], window: float) -> str:
        """Per series, what it counted in the window: a series born inside it whole, the
        others their increase."""
        matchers = list(self.matchers)
        if self.excluded:
            matchers.append(f"{ROUTE}!~{quote(alternatives(self.excluded))}")
        series, w = _selector(metric, (*matchers, *extra)), duration(window)
        born = f"(max_over_time({series}[{w}]) unless {series} offset {w})"
        return f"({born} or increase({series}[{w}]))"


def _selector(metric: str, matchers: Iterable[str]) -> str:
    return f"{metric}{{{', '.join(matchers)}}}"
