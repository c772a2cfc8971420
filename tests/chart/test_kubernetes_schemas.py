"""Every rendered object validates against the Kubernetes API schemas (kubernetes-validate)."""

import copy

import kubernetes_validate
import pytest

from tests.chart.conftest import ENVIRONMENTS, kinds

# The Kubernetes version the schemas are checked against: the newest kubernetes-validate ships.
KUBE_VERSION = kubernetes_validate.latest_version()
# Custom resources have no schema in kubernetes-validate; each one listed here is checked elsewhere.
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


def test_service_monitor_shape(all_features):
    """The fields the Prometheus operator's v1 CRD requires (the PrometheusRule's spec is checked
    by promtool: tests/chart/test_prometheus_rules.py)."""
    monitor = kinds(all_features)["ServiceMonitor"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    service = kinds(all_features)["Service"]
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    ports = {p["name"] for p in service["spec"]["ports"]}
    assert all(endpoint["port"] in ports for endpoint in monitor["spec"]["endpoints"])
