"""The chart's PrometheusRule, rendered by Helm's engine (ci.chart), checked and unit-tested with
Prometheus' own promtool: input series shaped like the service's /-/metrics as the ServiceMonitor
scrapes them, alerts that must fire and alerts that must stay quiet, and the rules evaluated on
two real scrapes of the running service.
"""

import copy
import json
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from app import SERVICE_NAME
from tests.app.http import get
from tests.chart.conftest import CHART_DIR, PROMETHEUS_OPERATOR, kinds, render_with
from tests.support.server import PRODUCTION_FLAGS, RunningServer, running_server
from tests.support.tools import require_tools

METRIC = "http_server_request_duration_seconds"
# What Prometheus attaches to each series it scrapes through the chart's ServiceMonitor (the first
# environment's release): job = the Service's name, namespace = the release's namespace.
OURS = {"job": SERVICE_NAME, "namespace": f"{SERVICE_NAME}-dev"}
ECHO = {"http_request_method": "GET", "http_route": "/api/echo"}
READINESS = {"http_request_method": "GET", "http_route": "/-/readiness"}
DOCS = {"http_request_method": "GET", "http_route": "/docs"}
UNMATCHED = {"http_request_method": "GET", "http_route": "_OTHER"}
THRESHOLD = "0.1"  # prometheusRule.latency.thresholdSeconds' default
PAGE, TICKET = "critical", "warning"  # prometheusRule.severity's defaults
ALERTS = {"availability": "AvailabilityErrorBudgetBurn", "latency": "LatencyErrorBudgetBurn"}
RPM = 600  # requests per minute (10 per second)
MINUTES = 240  # every scenario runs 4 hours
SCHEMA = json.loads((CHART_DIR / "values.schema.json").read_text())


def rendered_rule(values: dict[str, Any] | None = None) -> dict[str, Any]:
    enabled = {"prometheusRule": {"enabled": True, **(values or {})}}
    return kinds(render_with(enabled, api_versions=PROMETHEUS_OPERATOR))["PrometheusRule"]


def write_rule_file(rule: dict[str, Any], path: Path, annotations: bool = True) -> Path:
    """The PrometheusRule's spec is a Prometheus rule file as it stands."""
    spec = copy.deepcopy(rule["spec"])
    if not annotations:
        for group in spec["groups"]:
            for item in group["rules"]:
                item.pop("annotations", None)
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    tool = require_tools("promtool")["promtool"]
    return subprocess.run(
        [tool, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


# --- input series, shaped like the service's histogram -------------------------------------


def counter(*phases: tuple[int, float]) -> str:
    """promtool's expanding notation for a counter scraped every minute: (minutes, increase per
    minute), phase after phase, from 0."""
    tokens, value = ["0"], 0.0
    for minutes, per_minute in phases:
        tokens.append(f"{value + per_minute!r}+{per_minute!r}x{minutes - 1}")
        value += per_minute * minutes
    return " ".join(tokens)


def series(name: str, labels: dict[str, str], values: str) -> dict[str, str]:
    text = ", ".join(f'{key}="{value}"' for key, value in labels.items())
    return {"series": f"{name}{{{text}}}", "values": values}


def requests(
    status: int,
    *phases: tuple[int, float],
    fast: float = 1.0,
    route: dict[str, str] = ECHO,
    target: dict[str, str] = OURS,
    pod: str = "pod-1",
) -> list[dict[str, str]]:
    """One histogram child: its _count, and the threshold bucket holding `fast` of it."""
    labels = {**target, "pod": pod, **route, "http_response_status_code": str(status)}
    within = tuple((minutes, per_minute * fast) for minutes, per_minute in phases)
    return [
        series(f"{METRIC}_count", labels, counter(*phases)),
        series(f"{METRIC}_bucket", {**labels, "le": THRESHOLD}, counter(*within)),
    ]


# --- expectations ------------------------------------------------------------------------------


def alerts_at(eval_time: str, **firing: tuple[str, ...]) -> list[dict[str, Any]]:
    """Both SLO alerts at `eval_time`: each fires with exactly the severities given for its SLO
    (availability=(PAGE, TICKET)); an SLO not named stays quiet."""
    return [
        {
            "eval_time": eval_time,
            "alertname": alert,
            "exp_alerts": [
                {"exp_labels": {**OURS, "slo": slo, "severity": severity}}
                for severity in firing.get(slo, ())
            ],
        }
        for slo, alert in ALERTS.items()
    ]


def ratio(window: str, slo: str, eval_time: str, value: float) -> dict[str, Any]:
    """A recording rule's value at `eval_time`, within 1e-9 (rates are floating point)."""
    name = f"slo:sli_error:ratio_rate{window}"
    labels = ", ".join(f'{key}="{val}"' for key, val in {**OURS, "slo": slo}.items())
    return {
        "expr": f'abs({name}{{slo="{slo}"}} - {value!r}) < bool 1e-9',
        "eval_time": eval_time,
        "exp_samples": [{"labels": f"{{{labels}}}", "value": 1}],
    }


def scenario(name, inputs, *alert_tests, recorded=()) -> dict[str, Any]:
    return {
        "name": name,
        "interval": "1m",
        "input_series": inputs,
        "alert_rule_test": [case for cases in alert_tests for case in cases],
        "promql_expr_test": list(recorded),
    }


def healthy(pod: str = "pod-1") -> list[dict[str, str]]:
    return requests(200, (MINUTES, RPM), pod=pod)


SCENARIOS = [
    scenario(
        "healthy: 0.05% errors and 0.5% slow requests stay within both budgets",
        requests(200, (MINUTES, RPM * 0.9995), fast=0.995)
        + requests(500, (MINUTES, RPM * 0.0005), fast=0.995),
        alerts_at("10m"),
        alerts_at("1h"),
        alerts_at("4h"),
        recorded=[ratio("1h", "availability", "2h", 0.0005), ratio("1h", "latency", "2h", 0.005)],
    ),
    scenario(
        "no 5xx ever: the availability error ratio is 0, not missing",
        healthy(),
        alerts_at("1h"),
        recorded=[ratio("5m", "availability", "1h", 0), ratio("3d", "availability", "1h", 0)],
    ),
    scenario(
        "2% of requests fail: 20x the budget pages (and tickets)",
        requests(200, (MINUTES, RPM * 0.98)) + requests(500, (MINUTES, RPM * 0.02)),
        alerts_at("15m", availability=(PAGE, TICKET)),
        alerts_at("4h", availability=(PAGE, TICKET)),
    ),
    scenario(
        "0.5% of requests fail: 5x the budget is a ticket, not a page",
        requests(200, (MINUTES, RPM * 0.995)) + requests(500, (MINUTES, RPM * 0.005)),
        alerts_at("3h", availability=(TICKET,)),
    ),
    scenario(
        "a 10-minute outage pages at once and stops paging once the short windows are clean; "
        "the ticket lasts until the 6h window is clean",
        requests(500, (10, RPM), (410, 0)) + requests(200, (10, 0), (410, RPM)),
        alerts_at("8m", availability=(PAGE, TICKET)),
        alerts_at("45m", availability=(TICKET,)),
        alerts_at("6h", availability=(TICKET,)),
        alerts_at("6h15m"),
    ),
    scenario(
        "one pod of two fails: one alert for the service, not one per pod",
        healthy("pod-1") + requests(500, (MINUTES, RPM / 2), pod="pod-2"),
        alerts_at("15m", availability=(PAGE, TICKET)),
        recorded=[ratio("5m", "availability", "15m", 1 / 3)],
    ),
    scenario(
        "readiness answering 503 (a pod starting or draining) is not an error of the service",
        healthy() + requests(503, (MINUTES, 12), route=READINESS),
        alerts_at("1h"),
    ),
    scenario(
        "slow downloads of the docs and unmatched paths are not the API's latency",
        healthy()
        + requests(200, (MINUTES, RPM), fast=0, route=DOCS)
        + requests(404, (MINUTES, RPM), fast=0, route=UNMATCHED),
        alerts_at("1h"),
        recorded=[ratio("5m", "latency", "1h", 0)],
    ),
    scenario(
        "another service's errors do not alert here",
        healthy()
        + requests(500, (MINUTES, RPM), target={"job": "other", "namespace": "elsewhere"}),
        alerts_at("1h"),
    ),
    scenario(
        "20% of requests slower than the threshold: the latency budget pages",
        requests(200, (MINUTES, RPM), fast=0.8),
        alerts_at("15m", latency=(PAGE, TICKET)),
    ),
    scenario(
        "4% slow: a latency ticket only",
        requests(200, (MINUTES, RPM), fast=0.96),
        alerts_at("3h", latency=(TICKET,)),
    ),
    scenario(
        "no traffic at all: nothing to judge, nothing fires",
        requests(200, (MINUTES, 0)),
        alerts_at("1h"),
    ),
]


def run_unit_tests(tmp_path: Path, rule_file: Path, tests: list[dict[str, Any]]):
    test_file = tmp_path / "tests.yaml"
    test_file.write_text(
        yaml.safe_dump(
            {"rule_files": [rule_file.name], "evaluation_interval": "1m", "tests": tests},
            sort_keys=False,
        )
    )
    return promtool("test", "rules", test_file.name, cwd=tmp_path)


# --- the tests --------------------------------------------------------------------------------


@pytest.mark.integration
def test_rule_file_passes_promtool_check(tmp_path: Path) -> None:
    rule_file = write_rule_file(rendered_rule(), tmp_path / "rules.yaml")
    result = promtool("check", "rules", rule_file.name, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    # 7 windows x 2 SLOs recorded, 2 severities x 2 SLOs alerting
    assert "SUCCESS: 18 rules found" in result.stdout


@pytest.mark.integration
@pytest.mark.parametrize("case", SCENARIOS, ids=[s["name"].split(":")[0] for s in SCENARIOS])
def test_alerts_fire_when_they_should_and_only_then(tmp_path: Path, case) -> None:
    rule_file = write_rule_file(rendered_rule(), tmp_path / "rules.yaml", annotations=False)
    result = run_unit_tests(tmp_path, rule_file, [case])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.integration
def test_a_wrong_expectation_fails(tmp_path: Path) -> None:
    """The control: promtool does report an alert that fires where none was expected."""
    rule_file = write_rule_file(rendered_rule(), tmp_path / "rules.yaml", annotations=False)
    outage = copy.deepcopy(SCENARIOS[2])
    outage["alert_rule_test"] = alerts_at("15m")
    result = run_unit_tests(tmp_path, rule_file, [outage])
    assert result.returncode == 1
    assert "AvailabilityErrorBudgetBurn" in result.stdout + result.stderr


@pytest.mark.integration
def test_alerts_say_what_burns_and_where_to_look(tmp_path: Path) -> None:
    runbook = f"https://runbooks.example.com/{SERVICE_NAME}"
    rule_file = write_rule_file(rendered_rule({"runbookUrl": runbook}), tmp_path / "rules.yaml")
    page = {
        "exp_labels": {**OURS, "slo": "availability", "severity": PAGE},
        "exp_annotations": {
            "summary": f"{SERVICE_NAME} is burning its availability error budget fast",
            "description": "2% of requests answered with a 5xx (objective: 99.9% good over 30 "
            "days). Burn rate above 14.4x over 1h and 5m (2% of the 30-day budget in an hour) "
            "or above 6x over 6h and 30m (5% in 6 hours).",
            "runbook_url": runbook,
        },
    }
    ticket = copy.deepcopy(page)
    ticket["exp_labels"]["severity"] = TICKET
    ticket["exp_annotations"]["summary"] = page["exp_annotations"]["summary"].replace(
        "fast", "slowly"
    )
    ticket["exp_annotations"]["description"] = (
        "2% of requests answered with a 5xx (objective: 99.9% good over 30 days). Burn rate "
        "above 3x over 1d and 2h (10% of the 30-day budget in a day) or above 1x over 3d and 6h "
        "(10% in 3 days)."
    )
    case = copy.deepcopy(SCENARIOS[2])
    case["alert_rule_test"] = [
        {"eval_time": "15m", "alertname": ALERTS["availability"], "exp_alerts": [page, ticket]}
    ]
    result = run_unit_tests(tmp_path, rule_file, [case])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.integration
def test_objectives_and_threshold_come_from_the_values(tmp_path: Path) -> None:
    """A stricter availability objective (99.99%) turns 0.5% errors (50x) into a page, a
    threshold of 0.25 s reads that bucket, and the routes counted are the ones given."""
    rule = rendered_rule(
        {
            "availability": {"objective": 99.99},
            "latency": {"thresholdSeconds": "0.25"},
            "routes": "/api/.*|/v2/.*",
        }
    )
    records = [item["expr"] for item in rule["spec"]["groups"][0]["rules"]]
    assert all('http_route=~"/api/.*|/v2/.*"' in expr for expr in records)
    assert any('le="0.25"' in expr for expr in records)
    assert not any('le="0.1"' in expr for expr in records)
    rule_file = write_rule_file(rule, tmp_path / "rules.yaml", annotations=False)
    errors = copy.deepcopy(SCENARIOS[3])
    for item in errors["input_series"]:
        item["series"] = item["series"].replace('le="0.1"', 'le="0.25"')
    errors["alert_rule_test"] = alerts_at("3h", availability=(PAGE, TICKET))
    result = run_unit_tests(tmp_path, rule_file, [errors])
    assert result.returncode == 0, result.stdout + result.stderr


def test_severity_labels_come_from_the_values() -> None:
    rule = rendered_rule({"severity": {"page": "pager", "ticket": "jira"}})
    alerts = rule["spec"]["groups"][1]["rules"]
    assert [a["labels"]["severity"] for a in alerts] == ["pager", "jira", "pager", "jira"]


def test_off_by_default_and_only_where_the_operator_is() -> None:
    assert "PrometheusRule" not in kinds(render_with({}, api_versions=PROMETHEUS_OPERATOR))
    assert "PrometheusRule" not in kinds(render_with({"prometheusRule": {"enabled": True}}))
    labelled = rendered_rule({"labels": {"release": "kube-prometheus-stack"}})
    assert labelled["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert labelled["metadata"]["labels"]["app.kubernetes.io/name"] == SERVICE_NAME


# --- the rules on the real service's metrics --------------------------------------------------


def scrape(server: RunningServer) -> list[Sample]:
    """The request-duration histogram's samples from the real /-/metrics."""
    with urllib.request.urlopen(server.url("/-/metrics"), timeout=5) as response:
        text = response.read().decode()
    return [
        sample
        for family in text_string_to_metric_families(text)
        if family.name == METRIC
        for sample in family.samples
    ]


@pytest.mark.integration
def test_rules_read_the_series_the_service_exports(tmp_path: Path) -> None:
    """The real service, scraped twice around some traffic; promtool evaluates the rendered rules
    on those two scrapes (as the ServiceMonitor's job and namespace would label them). Both SLO
    ratios must come out: metric, label names and values, and the le of the threshold match."""
    paths = ["/api/echo?text=x", "/-/readiness", "/no/such/path", "/docs"]

    def traffic(rounds: int) -> None:
        for _ in range(rounds):
            for path in paths:
                get(server.port, path)

    with running_server(PRODUCTION_FLAGS) as server:
        traffic(1)  # every series exists at the first scrape, as after a pod's first minute
        first = scrape(server)
        traffic(20)
        second = scrape(server)

    routes = {s.labels["http_route"] for s in second if s.name == f"{METRIC}_count"}
    assert {"/api/echo", "/-/readiness", "/docs", "_OTHER"} <= routes
    allowed = SCHEMA["properties"]["prometheusRule"]["properties"]["latency"]["properties"]
    thresholds = set(allowed["thresholdSeconds"]["enum"])
    assert thresholds <= {s.labels["le"] for s in second if s.name == f"{METRIC}_bucket"}

    before = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in first}
    inputs = [
        series(s.name, {**OURS, "pod": "pod-1", **s.labels}, f"{before[key]!r} {s.value!r}")
        for s in second
        if s.name in (f"{METRIC}_count", f"{METRIC}_bucket")
        and s.labels.get("le", THRESHOLD) == THRESHOLD
        and (key := (s.name, tuple(sorted(s.labels.items())))) in before
    ]
    rule_file = write_rule_file(rendered_rule(), tmp_path / "rules.yaml", annotations=False)
    labels = ", ".join(f'{key}="{value}"' for key, value in OURS.items())
    case = scenario(
        "the real service's metrics",
        inputs,
        alerts_at("1m"),
        recorded=[
            ratio("5m", "availability", "1m", 0),
            {  # well under half the requests slower than the threshold, whatever the machine
                "expr": 'slo:sli_error:ratio_rate5m{slo="latency"} < bool 0.5',
                "eval_time": "1m",
                "exp_samples": [{"labels": f'{{{labels}, slo="latency"}}', "value": 1}],
            },
        ],
    )
    result = run_unit_tests(tmp_path, rule_file, [case])
    assert result.returncode == 0, result.stdout + result.stderr
