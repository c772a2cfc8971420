"""The stand-in's application controller: polls the gitops remote, syncs, rolls out, judges health.

One loop (a thread) does what Argo CD's controller and the node's kubelet do for each
Application, at every poll: fetch the branch the Application tracks (``targetRevision``), render
the head commit (``source.desired_state``), compare with what was applied (OutOfSync when the
objects differ), auto-sync (an operation that ends ``Failed`` when the AppProject forbids an
object, else ``Succeeded`` once the objects are applied), and roll out a changed pod template:
pull, start, startup probe, readiness probe; the Service switches to the new container only when it
is ready, then the old one gets SIGTERM. A container that exits or stays unready past its probes'
budget (failureThreshold x periodSeconds, when Kubernetes would restart it) is ``Degraded`` with a
message; the old container keeps serving.
"""

import contextlib
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.support.argocd.node import (
    Container,
    StartError,
    pull,
    remove_images,
    start_container,
)
from tests.support.argocd.podspec import PodSpec, PodSpecError, Probe, pod_spec
from tests.support.argocd.source import Desired, GitopsRemote, SourceError, desired_state

SYNCED_MESSAGE = "successfully synced (all tasks run)"
INVALID_TASKS = "one or more synchronization tasks are not valid"


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def template_hash(spec: PodSpec) -> str:
    """A ReplicaSet's pod-template-hash: changes whenever the pod template does."""
    text = json.dumps(spec.template, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


@dataclass
class Rollout:
    """A new pod template being brought up (a new ReplicaSet with one pod)."""

    revision: str
    spec: PodSpec
    hash: str
    created_at: str = field(default_factory=now_rfc3339)
    container: Container | None = None
    started: bool = False  # the startup probe passed
    failures: int = 0
    next_probe: float = 0.0


@dataclass
class Pod:
    """What the node runs for one pod template, for the resource tree."""

    hash: str
    image: str
    created_at: str
    container: Container | None
    health: str
    message: str = ""


@dataclass
class AppState:
    """One Application, as the controller knows it."""

    name: str
    branch: str
    manifest: Mapping[str, Any]
    created_at: str = field(default_factory=now_rfc3339)
    compared_revision: str | None = None
    sync_status: str = "Unknown"
    conditions: list[dict[str, str]] = field(default_factory=list)
    operation: dict[str, Any] | None = None
    applied: Desired | None = None
    target_hash: str | None = None
    serving: Container | None = None
    serving_pod: Pod | None = None
    rollout: Rollout | None = None
    failed: Pod | None = None  # the last pod template that could not become ready
    reconciled_at: str | None = None
    next_poll: float = 0.0
    health_since: dict[str, str] = field(default_factory=dict)

    def health(self) -> tuple[str, str]:
        """The Deployment's health as Argo CD's health check would put it (status, message)."""
        if self.applied is None:
            return "Missing", ""
        if self.rollout is not None:
            return "Progressing", (
                "Waiting for rollout to finish: 0 of 1 updated replicas are available..."
            )
        if self.failed is not None and self.failed.hash == self.target_hash:
            return "Degraded", self.failed.message
        if self.serving is not None:
            code = self.serving.exit_code()
            if code is not None:
                return "Degraded", (
                    f"container {self.serving.spec.container} exited with code {code}: "
                    f"{self.serving.output_tail()}"
                )
            if self.serving_pod and self.serving_pod.hash == self.target_hash:
                return "Healthy", ""
        return (
            "Progressing",
            "Waiting for rollout to finish: 0 of 1 updated replicas are available...",
        )

    def note_health(self) -> None:
        """Record when the health status last changed (status.health.lastTransitionTime)."""
        status, _ = self.health()
        if self.health_since.get("status") != status:
            self.health_since = {"status": status, "since": now_rfc3339()}

    def pods(self) -> list[Pod]:
        pods = []
        if self.serving_pod is not None:
            status, message = ("Healthy", "")
            if self.serving is not None and self.serving.exit_code() is not None:
                status, message = self.health()
            self.serving_pod.health, self.serving_pod.message = status, message
            pods.append(self.serving_pod)
        if self.rollout is not None:
            pods.append(
                Pod(
                    self.rollout.hash,
                    self.rollout.spec.image,
                    self.rollout.created_at,
                    self.rollout.container,
                    "Progressing",
                    "",
                )
            )
        elif self.failed is not None and self.failed.hash == self.target_hash:
            pods.append(self.failed)
        return pods


class Controller:
    """Reconciles the given Applications from the gitops remote, in a thread of its own."""

    def __init__(
        self,
        remote: GitopsRemote,
        apps: Mapping[str, str],
        *,
        workdir: Path,
        registry_creds: Mapping[str, str],
        insecure_registries: Collection[str] = (),
        interval: float = 1.0,
        api_versions: Collection[str] = (),
    ) -> None:
        """``apps``: Application name -> the branch it tracks (from its targetRevision);
        ``api_versions``: the cluster's extra API groups (e.g. ``monitoring.coreos.com/v1``)."""
        self.remote = remote
        self.workdir = workdir
        self.registry_creds = dict(registry_creds)
        self.insecure_registries = set(insecure_registries)
        self.interval = interval
        self.api_versions = tuple(api_versions)
        self.lock = threading.RLock()
        self.apps = {name: AppState(name, branch, {}) for name, branch in apps.items()}
        self._refresh = threading.Event()
        self._stop = threading.Event()
        self._held = threading.Event()
        self._terminating: list[Container] = []
        self._removers: list[threading.Thread] = []
        self._thread = threading.Thread(target=self._loop, name="argocd-standin", daemon=True)
        self._count = 0
        self.instance = secrets.token_hex(3)  # in container names: whose they are
        self.errors: list[str] = []  # exceptions the loop survived (tests assert none)
        self.requests: list[str] = []  # API requests served, for the tests
        self.pulled: set[str] = set()  # image ids the node pulled that were not there before

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._refresh.set()
        self._thread.join(timeout=120)
        with self.lock:
            containers = list(self._terminating)
            for app in self.apps.values():
                containers += [app.serving] if app.serving else []
                if app.rollout and app.rollout.container:
                    containers.append(app.rollout.container)
            for container in containers:
                container.terminate()
            deadline = time.monotonic() + 30
            for container in containers:
                while not container.stopped(force=time.monotonic() > deadline):
                    time.sleep(0.1)
                container.remove()
            for remover in self._removers:
                remover.join(timeout=120)
            remove_images(self.pulled)

    def refresh(self) -> None:
        """Poll now (``?refresh=normal`` on the API, or a webhook, in Argo CD)."""
        self._refresh.set()

    @contextlib.contextmanager
    def rollouts_held(self) -> Iterator[None]:
        """New containers wait (a slow image pull, say) until the block ends; syncs go on."""
        self._held.set()
        try:
            yield
        finally:
            self._held.clear()
            self._refresh.set()

    def wait_until(self, predicate, timeout: float, what: str) -> None:
        """Block until ``predicate(controller)`` holds (checked under the lock)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(self):
                    return
            time.sleep(0.2)
        raise TimeoutError(f"argocd stand-in: not {what} after {timeout:.0f}s")

    # --- the loop -----------------------------------------------------------------------------

    def _loop(self) -> None:
        refresh = True
        while not self._stop.is_set():
            for app in self.apps.values():
                try:
                    self._reconcile(app, refresh)
                except Exception as error:  # keep reconciling; the tests read self.errors
                    self.errors.append(f"{app.name}: {type(error).__name__}: {error}")
            self._reap()
            refresh = self._refresh.wait(timeout=min(self.interval, 0.5))
            self._refresh.clear()

    def _reconcile(self, app: AppState, refresh: bool) -> None:
        now = time.monotonic()
        if now >= app.next_poll or refresh:
            app.next_poll = now + self.interval
            self._compare(app)
        self._progress(app)
        with self.lock:
            app.note_health()

    def _compare(self, app: AppState) -> None:
        try:
            head = self.remote.fetch(app.branch)
        except SourceError as error:
            with self.lock:
                self._comparison_error(app, app.compared_revision, str(error))
            return
        if head == app.compared_revision:
            with self.lock:
                app.reconciled_at = now_rfc3339()
            return
        try:
            desired = desired_state(self.remote.export(head), head, app.name, self.api_versions)
        except SourceError as error:
            with self.lock:
                self._comparison_error(app, head, f"Failed to load target state: {error}")
            return
        finally:
            self.remote.forget(keep=set())
        with self.lock:
            app.compared_revision = head
            app.manifest = desired.manifest
            app.conditions = []
            app.reconciled_at = now_rfc3339()
            if app.applied is not None and app.applied.objects == desired.objects:
                app.sync_status = "Synced"
                return
            app.sync_status = "OutOfSync"
            self._sync(app, desired)

    def _comparison_error(self, app: AppState, revision: str | None, message: str) -> None:
        app.compared_revision = revision
        app.sync_status = "Unknown"
        app.conditions = [
            {"type": "ComparisonError", "message": message, "lastTransitionTime": now_rfc3339()}
        ]
        app.reconciled_at = now_rfc3339()

    def _sync(self, app: AppState, desired: Desired) -> None:
        """Automated sync of ``desired``: apply the objects (instantly), start the rollout."""
        started = now_rfc3339()
        operation = {
            "operation": {
                "sync": {"revision": desired.revision},
                "initiatedBy": {"automated": True},
                "retry": {"limit": 5},
            },
            "phase": "Running",
            "message": "",
            "startedAt": started,
        }
        results = []
        for obj in desired.objects:
            group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
            results.append(
                {
                    "group": group,
                    "version": version,
                    "kind": obj.get("kind", ""),
                    "namespace": obj.get("metadata", {}).get("namespace") or desired.app.namespace,
                    "name": obj.get("metadata", {}).get("name", ""),
                    "status": "Synced",
                    "message": f"{obj.get('kind', '').lower()}/{obj['metadata']['name']} "
                    + ("configured" if app.applied else "created"),
                    "hookPhase": "Running",
                    "syncPhase": "Sync",
                }
            )
        source = desired.manifest.get("spec", {}).get("source", {})
        if desired.forbidden:
            for result, obj in zip(results, desired.objects, strict=True):
                for problem in desired.forbidden:
                    if f":{obj.get('kind')} " in problem:
                        result.update(status="SyncFailed", message=problem, hookPhase="Failed")
            operation.update(phase="Failed", message=f"{INVALID_TASKS} (retried 0 times).")
        else:
            operation.update(phase="Succeeded", message=SYNCED_MESSAGE)
            app.applied = desired
            app.sync_status = "Synced"
            self._roll_out(app, desired)
            app.note_health()
        operation["finishedAt"] = now_rfc3339()
        operation["syncResult"] = {
            "revision": desired.revision,
            "source": dict(source),
            "resources": results,
        }
        app.operation = operation

    def _roll_out(self, app: AppState, desired: Desired) -> None:
        try:
            spec = pod_spec(desired.objects, desired.app.namespace)
        except PodSpecError as error:
            app.target_hash = f"unrunnable-{desired.revision[:10]}"
            app.failed = Pod(app.target_hash, "", now_rfc3339(), None, "Degraded", str(error))
            self._abandon_rollout(app)
            return
        new_hash = template_hash(spec)
        app.target_hash = new_hash
        if app.rollout is not None and app.rollout.hash == new_hash:
            return
        if app.serving_pod is not None and app.serving_pod.hash == new_hash:
            self._abandon_rollout(app)  # back to what already runs
            return
        if app.failed is not None and app.failed.hash == new_hash:
            self._abandon_rollout(app)  # the same broken template: it stays Degraded
            return
        self._abandon_rollout(app)
        app.rollout = Rollout(desired.revision, spec, new_hash)

    def _abandon_rollout(self, app: AppState) -> None:
        if app.rollout is not None and app.rollout.container is not None:
            app.rollout.container.terminate()
            self._terminating.append(app.rollout.container)
        app.rollout = None

    def _progress(self, app: AppState) -> None:
        """One kubelet step for the rollout in flight: start, probe, promote or fail."""
        rollout = app.rollout
        if rollout is None or self._held.is_set():
            return
        if rollout.container is None:
            self._start(app, rollout)
            return
        container = rollout.container
        alive = container.exit_code() is None
        if alive and time.monotonic() < rollout.next_probe:
            return
        probe = rollout.spec.readiness if rollout.started else rollout.spec.startup
        passed = alive and (probe is None or container.probe(probe))
        with self.lock:
            if app.rollout is rollout:
                self._judge(app, rollout, probe, passed)

    def _judge(self, app: AppState, rollout: Rollout, probe: Probe | None, passed: bool) -> None:
        container = rollout.container
        assert container is not None
        code = container.exit_code()
        if code is not None:
            self._fail(
                app,
                rollout,
                f"container {rollout.spec.container} exited with code {code}: "
                f"{container.output_tail()}",
            )
            return
        now = time.monotonic()
        if passed:
            if rollout.started or rollout.spec.readiness is None:
                self._promote(app, rollout)
            else:
                rollout.started, rollout.failures = True, 0
                ready = rollout.spec.readiness
                rollout.next_probe = now + ready.initial_delay
            return
        assert probe is not None
        rollout.failures += 1
        rollout.next_probe = now + probe.period
        if rollout.failures >= probe.failure_threshold:
            kind = "Readiness" if rollout.started else "Startup"
            self._fail(
                app,
                rollout,
                f"{kind} probe failed: GET {probe.path} did not answer 2xx/3xx "
                f"{rollout.failures} times (every {probe.period:g}s); container output: "
                f"{container.output_tail()}",
            )

    def _start(self, app: AppState, rollout: Rollout) -> None:
        self._count += 1
        name = f"argocd-standin-{self.instance}-{app.name}-{rollout.hash}-{self._count}"
        try:
            pulled = pull(rollout.spec.image, self.registry_creds, self.insecure_registries)
            if pulled.fresh:
                self.pulled.add(pulled.image_id)
            container = start_container(rollout.spec, pulled, name, self.workdir)
        except (StartError, PodSpecError) as error:
            with self.lock:
                if app.rollout is rollout:
                    self._fail(app, rollout, str(error))
            return
        with self.lock:
            if app.rollout is not rollout:  # superseded while pulling
                container.terminate()
                self._terminating.append(container)
                return
            rollout.container = container
            startup = rollout.spec.startup
            first = startup or rollout.spec.readiness
            rollout.next_probe = time.monotonic() + (first.initial_delay if first else 0)

    def _promote(self, app: AppState, rollout: Rollout) -> None:
        with self.lock:
            old = app.serving
            app.serving = rollout.container
            app.serving_pod = Pod(
                rollout.hash, rollout.spec.image, rollout.created_at, rollout.container, "Healthy"
            )
            app.rollout = None
            app.failed = None
            app.note_health()
            if old is not None:
                old.terminate()
                self._terminating.append(old)

    def _fail(self, app: AppState, rollout: Rollout, message: str) -> None:
        with self.lock:
            app.failed = Pod(
                rollout.hash, rollout.spec.image, rollout.created_at, None, "Degraded", message
            )
            if rollout.container is not None:
                rollout.container.terminate()
                self._terminating.append(rollout.container)
            app.rollout = None
            app.note_health()

    def _reap(self) -> None:
        """Containers past SIGTERM: SIGKILL after the grace period, then removed (in a thread:
        deleting a vfs root filesystem takes seconds)."""
        with self.lock:
            waiting = []
            for container in self._terminating:
                elapsed = time.monotonic() - (container.stopping_since or 0)
                if container.stopped(force=elapsed > container.spec.grace_seconds):
                    remover = threading.Thread(target=container.remove, daemon=True)
                    remover.start()
                    self._removers.append(remover)
                else:
                    waiting.append(container)
            self._terminating = waiting
