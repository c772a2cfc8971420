"""The stand-in's service discovery: the pods the chart's ServiceMonitor selects, as Prometheus's
HTTP SD lists them, one target per running pod (a rollout's new pod beside the old one)."""

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.argocd.conftest import DEV, NAME, GitopsRepo, Stack, set_image
from tests.argocd.test_node import healthy_at, status
from tests.support.argocd import ArgoCdStandIn, running_argocd

pytestmark = [pytest.mark.image, pytest.mark.timeout(900)]
OPERATOR = "monitoring.coreos.com/v1"


@pytest.fixture
def monitored(stack: Stack, stub_gitops: GitopsRepo, tmp_path: Path) -> Iterator[ArgoCdStandIn]:
    """The stand-in on a cluster with the Prometheus Operator's API."""
    with running_argocd(
        stub_gitops.url,
        tmp_path / "argocd",
        registry_creds={stack.registry: stack.creds},
        insecure_registries=[stack.registry],
        interval=0.5,
        apps=[DEV],
        api_versions=[OPERATOR],
    ) as standin:
        yield standin
    assert standin.controller.errors == []


def discovered(argo: ArgoCdStandIn) -> list[dict]:
    with urllib.request.urlopen(argo.discovery_url, timeout=10) as response:
        return json.load(response)


def pod_names(argo: ArgoCdStandIn) -> list[str]:
    return [node["name"] for node in argo.resource_tree(DEV)["nodes"] if node["kind"] == "Pod"]


def test_each_running_pod_is_a_target_with_the_operators_labels(monitored, stub_gitops, stack):
    head = stub_gitops.commit("nothing", {})
    monitored.wait_for(DEV, healthy_at(head), timeout=180, what="Healthy")
    kinds = {node["kind"] for node in monitored.resource_tree(DEV)["nodes"]}
    assert "ServiceMonitor" in kinds
    [group] = discovered(monitored)
    serving = monitored.state(DEV).serving
    assert serving is not None
    assert group["targets"] == [f"127.0.0.1:{serving.port}"]
    labels = group["labels"]
    assert labels["__metrics_path__"] == "/-/metrics"  # the ServiceMonitor's endpoint path
    assert labels["pod"] in pod_names(monitored)
    assert labels["namespace"] == DEV  # <service>-dev: the Application's destination
    assert labels["service"] == labels["job"] == NAME  # the chart's Service
    assert labels["endpoint"] == "http"
    revision = stub_gitops.commit(
        "deploy v2", {"gitops/dev/values.yaml": set_image(f"{stack.registry}/{NAME}", "v2")}
    )
    monitored.wait_for(DEV, healthy_at(revision), timeout=180, what="Healthy on v2")
    monitored.controller.wait_until(lambda c: serving.exit_code() is not None, 60, "old gone")
    [after] = discovered(monitored)
    assert after["labels"]["pod"] != labels["pod"]
    assert after["labels"]["pod"] in pod_names(monitored)


def test_without_the_operator_nothing_is_scraped(stub_argo, stub_gitops):
    head = stub_gitops.commit("nothing", {})
    stub_argo.wait_for(DEV, healthy_at(head), timeout=180, what="Healthy")
    assert status(stub_argo.application(DEV)) == ("Synced", "Healthy")
    kinds = {node["kind"] for node in stub_argo.resource_tree(DEV)["nodes"]}
    assert "ServiceMonitor" not in kinds
    assert discovered(stub_argo) == []
