"""The stand-in's answers in Argo CD v3's shapes: the Application object and its resource tree.

``application(state)`` is what ``GET /api/v1/applications/{name}`` returns (the Application
custom resource: metadata and spec as the ApplicationSet generated them, status as the controller
sees it); ``resource_tree(state)`` is ``GET .../resource-tree``. As in Argo CD v3 the resources'
health lives in the tree only (``status.resourceHealthSource: appTree``, no
``status.resources[].health``), and ``status.health`` carries no message (deprecated).
"""

import hashlib
from collections.abc import Mapping
from typing import Any

from tests.support.argocd.controller import AppState, Pod

NAMESPACE = "argocd"


def _uid(*parts: str) -> str:
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def _group_version(obj: Mapping[str, Any]) -> tuple[str, str]:
    group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
    return group, version


def _objects(state: AppState) -> list[Mapping[str, Any]]:
    return list(state.applied.objects) if state.applied else []


def application(state: AppState) -> dict[str, Any]:
    """The Application object (a JSON-able dict)."""
    manifest = state.manifest
    metadata = dict(manifest.get("metadata", {}))
    metadata.update(
        name=state.name,
        namespace=metadata.get("namespace") or NAMESPACE,
        uid=_uid("application", state.name),
        creationTimestamp=state.created_at,
    )
    health, _ = state.health()
    status: dict[str, Any] = {
        "sync": {
            "status": state.sync_status,
            "comparedTo": {
                "source": dict(manifest.get("spec", {}).get("source", {})),
                "destination": dict(manifest.get("spec", {}).get("destination", {})),
            },
        },
        "health": {"status": health},
        "sourceType": "Helm",
        "resourceHealthSource": "appTree",
        "controllerNamespace": NAMESPACE,
        "summary": {},
        "resources": [],
    }
    if state.compared_revision:
        status["sync"]["revision"] = state.compared_revision
    if state.health_since.get("since"):
        status["health"]["lastTransitionTime"] = state.health_since["since"]
    if state.reconciled_at:
        status["reconciledAt"] = status["observedAt"] = state.reconciled_at
    if state.conditions:
        status["conditions"] = [dict(c) for c in state.conditions]
    if state.operation:
        status["operationState"] = state.operation
    images = sorted({pod.image for pod in state.pods() if pod.image})
    if images:
        status["summary"]["images"] = images
    for obj in _objects(state):
        group, version = _group_version(obj)
        entry = {
            "version": version,
            "kind": obj.get("kind", ""),
            "namespace": obj.get("metadata", {}).get("namespace") or _namespace(state),
            "name": obj.get("metadata", {}).get("name", ""),
            "status": "Synced" if state.sync_status == "Synced" else "OutOfSync",
        }
        if group:
            entry["group"] = group
        status["resources"].append(entry)
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": metadata,
        "spec": dict(manifest.get("spec", {})),
        "status": status,
    }


def _namespace(state: AppState) -> str:
    return str(state.manifest.get("spec", {}).get("destination", {}).get("namespace", ""))


def resource_tree(state: AppState) -> dict[str, Any]:
    """The ApplicationTree: managed objects, and the Deployment's ReplicaSets and Pods."""
    namespace = _namespace(state)
    nodes: list[dict[str, Any]] = []
    deployment_ref = None
    for obj in _objects(state):
        group, version = _group_version(obj)
        name = obj.get("metadata", {}).get("name", "")
        node: dict[str, Any] = {
            "group": group,
            "version": version,
            "kind": obj.get("kind", ""),
            "namespace": obj.get("metadata", {}).get("namespace") or namespace,
            "name": name,
            "uid": _uid(state.name, obj.get("kind", ""), name),
            "resourceVersion": "1",
        }
        health = _object_health(state, obj)
        if health:
            node["health"] = health
        if obj.get("kind") == "Deployment":
            deployment_ref = {k: node[k] for k in ("group", "kind", "namespace", "name", "uid")}
            images = [c["image"] for c in obj["spec"]["template"]["spec"]["containers"]]
            node["images"] = images
        nodes.append(node)
    if deployment_ref is not None:
        for pod in state.pods():
            nodes += _pod_nodes(deployment_ref, pod)
    return {"nodes": nodes, "orphanedNodes": [], "hosts": []}


def _object_health(state: AppState, obj: Mapping[str, Any]) -> dict[str, str] | None:
    kind = obj.get("kind")
    if kind == "Deployment":
        status, message = state.health()
        return {"status": status, "message": message} if message else {"status": status}
    if kind in ("Service", "Ingress", "PodDisruptionBudget", "HorizontalPodAutoscaler"):
        return {"status": "Healthy"}
    return None


def pod_name_of(deployment: str, pod_hash: str) -> str:
    """A pod's name: its ReplicaSet's (the Deployment's and the template hash) and a suffix."""
    return f"{deployment}-{pod_hash}-{pod_hash[:5]}"


def _pod_nodes(deployment: Mapping[str, str], pod: Pod) -> list[dict[str, Any]]:
    replicaset_name = f"{deployment['name']}-{pod.hash}"
    replicaset = {
        "group": "apps",
        "version": "v1",
        "kind": "ReplicaSet",
        "namespace": deployment["namespace"],
        "name": replicaset_name,
        "uid": _uid(replicaset_name),
        "parentRefs": [dict(deployment)],
        "info": [{"name": "Revision", "value": pod.hash}],
        "health": {"status": pod.health},
        "createdAt": pod.created_at,
    }
    pod_name = pod_name_of(deployment["name"], pod.hash)
    ready = "1/1" if pod.health == "Healthy" else "0/1"
    node = {
        "group": "",
        "version": "v1",
        "kind": "Pod",
        "namespace": deployment["namespace"],
        "name": pod_name,
        "uid": _uid(pod_name),
        "parentRefs": [{k: replicaset[k] for k in ("group", "kind", "namespace", "name", "uid")}],
        "info": [
            {"name": "Status Reason", "value": "Running" if pod.health != "Degraded" else "Error"},
            {"name": "Node", "value": "standin-node"},
            {"name": "Containers", "value": ready},
        ],
        "images": [pod.image] if pod.image else [],
        "health": {"status": pod.health, **({"message": pod.message} if pod.message else {})},
        "createdAt": pod.created_at,
    }
    return [replicaset, node]
