"""The cluster's service discovery as Prometheus sees it: the stand-in's pods as scrape targets.

With the Prometheus Operator, a ServiceMonitor makes Prometheus scrape every ready endpoint of
the Services it selects, each pod a target of its own, at the endpoint's ``path``; the operator's
relabelling gives each series ``namespace``, ``service``, ``pod``, ``container``, ``endpoint``
and ``job`` (the Service's name). This serves the same targets in Prometheus's HTTP service
discovery format (``http_sd_configs``), from what the controller applied: only Applications whose
render has a ServiceMonitor (the cluster must offer ``monitoring.coreos.com/v1``), every pod
running (the serving one and a rollout's), so a rollout's old and new pods are scraped apart.
The test's scrape interval stands in for the ServiceMonitor's ``interval``.
"""

import json
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from harness.network import serving_thread
from tests.support.argocd.controller import AppState, Controller
from tests.support.argocd.model import pod_name_of
from tests.support.argocd.node import Container


def targets(controller: Controller) -> list[dict[str, Any]]:
    """The target groups of every Application, as ``GET`` on an HTTP SD URL returns them."""
    with controller.lock:
        return [group for app in controller.apps.values() for group in _groups(app)]


def _groups(app: AppState) -> Iterator[dict[str, Any]]:
    if app.applied is None:
        return
    objects = app.applied.objects
    for monitor in _of_kind(objects, "ServiceMonitor"):
        selector = monitor.get("spec", {}).get("selector", {}).get("matchLabels", {})
        for service in _of_kind(objects, "Service"):
            if not _selects(selector, service.get("metadata", {}).get("labels", {})):
                continue
            for endpoint in monitor["spec"].get("endpoints", []):
                yield from _endpoint_groups(app, service, endpoint)


def _endpoint_groups(
    app: AppState, service: Mapping[str, Any], endpoint: Mapping[str, Any]
) -> Iterator[dict[str, Any]]:
    deployment = next(_of_kind(app.applied.objects if app.applied else (), "Deployment"), None)
    if deployment is None:
        return
    name = service["metadata"]["name"]
    namespace = service["metadata"].get("namespace") or _namespace(app)
    for pod_hash, container in _running(app):
        yield {
            "targets": [f"127.0.0.1:{container.port}"],
            "labels": {
                "__metrics_path__": endpoint.get("path", "/metrics"),
                "namespace": namespace,
                "service": name,
                "job": name,
                "endpoint": endpoint.get("port", ""),
                "pod": pod_name_of(deployment["metadata"]["name"], pod_hash),
                "container": container.spec.container,
            },
        }


def _running(app: AppState) -> Iterator[tuple[str, Container]]:
    """(template hash, container) of each pod whose container runs."""
    pods = [(app.serving_pod.hash if app.serving_pod else None, app.serving)]
    if app.rollout is not None:
        pods.append((app.rollout.hash, app.rollout.container))
    for pod_hash, container in pods:
        if pod_hash is not None and container is not None and container.exit_code() is None:
            yield pod_hash, container


def _of_kind(objects, kind: str) -> Iterator[Mapping[str, Any]]:
    return (obj for obj in objects if obj.get("kind") == kind)


def _selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


def _namespace(app: AppState) -> str:
    return str(app.manifest.get("spec", {}).get("destination", {}).get("namespace", ""))


class DiscoveryServer:
    """``GET /targets`` on 127.0.0.1: the HTTP SD document of ``targets(controller)``."""

    def __init__(self, controller: Controller) -> None:
        self.controller = controller
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(controller))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/targets"
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = serving_thread(self.server)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self.thread is not None:
            self.thread.join(timeout=10)


def _handler(controller: Controller) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            if self.path != "/targets":
                self.send_error(404)
                return
            body = json.dumps(targets(controller)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler
