"""A stand-in for "Argo CD + one node", for tests: no Kubernetes or Argo CD can run here.

    with running_argocd(f"file://{remote}", tmp / "argocd", registry_creds={host: creds}) as argo:
        argo.url, argo.token                          # ARGOCD_SERVER, ARGOCD_AUTH_TOKEN
        argo.service_url(f"{SERVICE_NAME}-dev")       # where the running build serves
        argo.application(f"{SERVICE_NAME}-dev")       # the Application, as the API returns it
        argo.discovery_url                            # the pods as Prometheus HTTP SD targets

It decides what runs only from the gitops remote: the Applications that ``gitops/argocd/``
generates (``ci.chart``), rendered with Helm's engine at the head of the branch each one tracks,
polled every ``interval`` seconds (Argo CD: 3 minutes, or a webhook). Modules: ``source`` (fetch,
render, AppProject check), ``podspec`` (the rendered pod spec), ``node`` (pull and run with
buildah), ``controller`` (sync, rollout, health), ``model`` (Argo CD's JSON shapes), ``api`` (the
HTTP API), ``service`` (the stable port in front of the ready container), ``discovery`` (the pods
a ServiceMonitor selects, as Prometheus's HTTP service discovery). docs/development.md
("The Argo CD stand-in") says what it does not cover.
"""

import contextlib
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.argocd import model
from tests.support.argocd.api import ApiServer
from tests.support.argocd.controller import AppState, Controller
from tests.support.argocd.discovery import DiscoveryServer
from tests.support.argocd.service import ServiceProxy
from tests.support.argocd.source import GitopsRemote, SourceError, application_manifests

# The branch holding gitops/argocd/ (the ApplicationSet's own generator revision).
MANIFEST_BRANCH = "main"


@dataclass
class ArgoCdStandIn:
    url: str
    token: str
    controller: Controller
    services: Mapping[str, ServiceProxy]
    discovery_url: str = ""

    def service_url(self, app: str) -> str:
        return self.services[app].url

    def state(self, app: str) -> AppState:
        return self.controller.apps[app]

    def application(self, app: str) -> dict[str, Any]:
        with self.controller.lock:
            return model.application(self.controller.apps[app])

    def resource_tree(self, app: str) -> dict[str, Any]:
        with self.controller.lock:
            return model.resource_tree(self.controller.apps[app])

    def wait_for(self, app: str, predicate, timeout: float = 120.0, what: str = "there") -> None:
        """Until ``predicate(application_object)`` holds; the timeout names the last state."""
        try:
            self.controller.wait_until(
                lambda c: predicate(model.application(c.apps[app])), timeout, what
            )
        except TimeoutError as error:
            raise TimeoutError(f"{error}; last seen: {self.describe(app)}") from None

    def describe(self, app: str) -> str:
        """One line: sync status and revision, health, operation, the Deployment's health."""
        status = self.application(app)["status"]
        nodes = self.resource_tree(app)["nodes"]
        deployment = next((n.get("health") for n in nodes if n["kind"] == "Deployment"), None)
        operation = status.get("operationState", {})
        return (
            f"sync {status['sync']['status']} at {status['sync'].get('revision', '?')[:8]}, "
            f"health {status['health']['status']}, operation {operation.get('phase')} "
            f"{operation.get('message', '')!r}, conditions {status.get('conditions', [])}, "
            f"Deployment {deployment}, errors {self.controller.errors}"
        )


@contextlib.contextmanager
def running_argocd(
    remote_url: str,
    workdir: Path,
    *,
    registry_creds: Mapping[str, str] | None = None,
    insecure_registries: Sequence[str] = (),
    token: str | None = None,
    interval: float = 1.0,
    apps: Sequence[str] | None = None,
    api_versions: Sequence[str] = (),
) -> Iterator[ArgoCdStandIn]:
    """Start the controller, the API server (127.0.0.1) and one Service per Application.

    ``registry_creds``: registry host -> "user:password" (the node's pull secret);
    ``insecure_registries``: hosts pulled over plain http; ``apps``: the Applications to run
    (default: every one ``gitops/argocd/`` generates); ``api_versions``: the cluster's extra API
    groups, e.g. ``monitoring.coreos.com/v1`` for a cluster with the Prometheus Operator (the
    chart then renders its ServiceMonitor, and ``discovery_url`` lists the pods it selects).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    remote = GitopsRemote(remote_url, workdir / "repo")
    head = remote.fetch(MANIFEST_BRANCH)
    generated = application_manifests(remote.export(head))
    remote.forget(keep=set())
    wanted = list(apps) if apps is not None else sorted(generated)
    unknown = sorted(set(wanted) - set(generated))
    if unknown:
        raise SourceError(f"gitops/argocd/ generates no Application {', '.join(unknown)}")
    branches = {
        name: generated[name].manifest["spec"]["source"].get("targetRevision", "HEAD")
        for name in wanted
    }
    controller = Controller(
        remote,
        branches,
        workdir=workdir,
        registry_creds=registry_creds or {},
        insecure_registries=insecure_registries,
        interval=interval,
        api_versions=api_versions,
    )

    def backend(name: str):
        def port() -> int | None:
            with controller.lock:
                serving = controller.apps[name].serving
                if serving is None or serving.exit_code() is not None:
                    return None
                return serving.port

        return port

    services = {name: ServiceProxy(backend(name)) for name in wanted}
    token = token or secrets.token_urlsafe(24)
    api = ApiServer(controller, token)
    discovery = DiscoveryServer(controller)
    started: list = []
    try:
        for part in (*services.values(), api, discovery, controller):
            part.start()
            started.append(part)
        yield ArgoCdStandIn(api.url, token, controller, services, discovery.url)
    finally:
        for part in reversed(started):
            part.stop()
