"""Shared fixtures: every environment rendered as Argo CD renders it, from gitops/argocd/."""

from typing import Any

import pytest
import yaml

from ci import chart

REPO_ROOT = chart.REPO_ROOT
CHART_DIR = REPO_ROOT / chart.CHART_DIR

# Every optional object switched on, on a cluster with the Prometheus operator: the widest render.
ALL_FEATURES = {
    "ingress": {"enabled": True, "host": "all.example.com", "tls": {"enabled": True}},
    "autoscaling": {"enabled": True},
    "networkPolicy": {"enabled": True, "allowFrom": ["monitoring"]},
    "serviceMonitor": {"enabled": True},
    "prometheusRule": {"enabled": True},
    "shutdown": {"preStopSleepSeconds": 3},
}
PROMETHEUS_OPERATOR = ("monitoring.coreos.com/v1",)


def environment_folders() -> list[str]:
    """The environments by the project's definition: folders gitops/*/ holding values.yaml."""
    return sorted(path.parent.name for path in (REPO_ROOT / "gitops").glob("*/values.yaml"))


ENVIRONMENTS = environment_folders()


def gitops_values(env: str) -> dict[str, Any]:
    return yaml.safe_load((REPO_ROOT / "gitops" / env / "values.yaml").read_text())


def kinds(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Kind -> object (the chart renders at most one object of each kind)."""
    by_kind: dict[str, dict[str, Any]] = {}
    for doc in docs:
        assert doc["kind"] not in by_kind, f"two {doc['kind']} objects"
        by_kind[doc["kind"]] = doc
    return by_kind


def render_with(values: dict[str, Any], **capabilities: Any) -> list[dict[str, Any]]:
    """The chart rendered with explicit values (the first environment's release settings)."""
    app = chart.application_for(ENVIRONMENTS[0])
    merged = chart.merge_values(chart.user_values(app), values)
    rendered = chart.render_chart(
        CHART_DIR, merged, release_name=app.release_name, namespace=app.namespace, **capabilities
    )
    return chart.objects(rendered)


@pytest.fixture(scope="session")
def rendered_envs() -> dict[str, list[dict[str, Any]]]:
    return {env: chart.render_env(env) for env in ENVIRONMENTS}


@pytest.fixture(scope="session")
def all_features() -> list[dict[str, Any]]:
    return render_with(ALL_FEATURES, api_versions=PROMETHEUS_OPERATOR)


def pod_specs(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(kind/name, pod spec) of every object that carries a pod template."""
    found = []
    for doc in docs:
        spec = doc.get("spec", {})
        template = spec.get("template") or spec.get("jobTemplate", {}).get("spec", {}).get(
            "template"
        )
        if doc["kind"] == "Pod":
            found.append((f"Pod/{doc['metadata']['name']}", spec))
        elif template and "spec" in template:
            found.append((f"{doc['kind']}/{doc['metadata']['name']}", template["spec"]))
    return found


def only_deployment_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = kinds(docs)["Deployment"]["spec"]["template"]["spec"]["containers"]
    return container
