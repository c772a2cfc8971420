"""Every rendered object validates against the Kubernetes API schemas (kubernetes-validate)."""

import copy

import kubernetes_validate
import pytest

from tests.chart.conftest import ENVIRONMENTS, kinds
from tests.support.node_models import validate_with_models

# The Kubernetes version the schemas are checked against: the newest kubernetes-validate ships.
KUBE_VERSION = kubernetes_validate.latest_version()
# Custom resources have no schema in kubernetes-validate: the Prometheus Operator's are checked
# with the schemas of @kubernetes-models/prometheus-operator (generated from its CRDs).
CUSTOM_KINDS = {"ServiceMonitor", "PrometheusRule"}


def validate_all(docs):
    for doc in docs:
        if doc["kind"] in CUSTOM_KINDS:
            continue
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_object_validates(env, rendered_envs):
    validate_all(rendered_envs[env])


def test_every_object_validates_with_every_feature_on(all_features):
    assert set(kinds(all_features)) >= {"Ingress", "HorizontalPodAutoscaler", "NetworkPolicy"}
    validate_all(all_features)


def test_validation_rejects_an_unknown_field(rendered_envs):
    """strict=True: a misspelt field is an error, as with kubectl's strict field validation."""
    deployment = copy.deepcopy(kinds(rendered_envs[ENVIRONMENTS[0]])["Deployment"])
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match="readinesProbe"):
        kubernetes_validate.validate(deployment, KUBE_VERSION, strict=True)


def operator_errors(docs) -> list[dict]:
    custom = [doc for doc in docs if doc["kind"] in CUSTOM_KINDS]
    results = validate_with_models(custom)
    assert len(results) == len(custom)
    return [result for result in results if result["error"]]


@pytest.mark.integration
def test_prometheus_operator_objects_validate_against_its_crds(all_features):
    """(The PrometheusRule's rules themselves are checked by promtool: test_prometheus_rules.py.)"""
    assert set(kinds(all_features)) >= CUSTOM_KINDS
    assert operator_errors(all_features) == []


@pytest.mark.integration
def test_operator_schema_check_rejects_a_broken_object(all_features):
    broken = copy.deepcopy([kinds(all_features)[kind] for kind in sorted(CUSTOM_KINDS)])
    del broken[0]["spec"]["groups"][0]["rules"][0]["expr"]  # PrometheusRule
    broken[1]["spec"]["endpoints"][0]["interval"] = "soon"  # ServiceMonitor
    errors = {error["kind"]: error["error"] for error in operator_errors(broken)}
    assert "rules/0 must have required property expr" in errors["PrometheusRule"]
    assert "/endpoints/0/interval must match pattern" in errors["ServiceMonitor"]


def test_service_monitor_shape(all_features):
    """The ServiceMonitor selects the chart's Service and scrapes a port it has."""
    monitor = kinds(all_features)["ServiceMonitor"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    service = kinds(all_features)["Service"]
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    ports = {p["name"] for p in service["spec"]["ports"]}
    assert all(endpoint["port"] in ports for endpoint in monitor["spec"]["endpoints"])
