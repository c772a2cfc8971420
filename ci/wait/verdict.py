"""The verdict on one look at an Argo CD v3 Application: pure, data in, verdict out.

Deployed: synced at our revision (or a later commit still running our image), healthy, no failed
or running sync of it, and our image among ``status.summary.images``. Failed: the sync of our
revision ended Failed or Error, or the application is Degraded after our sync. Superseded: Argo CD
is at a later commit that changed the environment's image, or the branch has one while our build is
not yet healthy. Anything else is pending. Missing fields read as "not known yet", never as a crash.
"""

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FAILED_PHASES = frozenset({"Failed", "Error"})
BUSY_PHASES = frozenset({"Running", "Terminating"})
UNHEALTHY = ("Degraded", "Missing", "Unknown", "Suspended")
MAX_DETAILS = 12
SHORT = 12


class Revision(enum.Enum):
    """What a commit Argo CD reports means for our build."""

    OURS = "ours"  # our commit, or a later one whose image for the environment is ours
    NEWER_IMAGE = "newer image"  # a later commit that changed the environment's image
    OTHER = "other"  # older, unrelated or unknown


class Outcome(enum.Enum):
    DEPLOYED = "deployed"
    FAILED = "failed"
    SUPERSEDED = "superseded"
    PENDING = "pending"


@dataclass(frozen=True)
class Expected:
    revision: str  # the gitops commit we wait for (full id)
    image: str | None  # the image reference the chart renders at it (repository:tag[@digest])
    superseded_by: str | None = None  # a later branch commit that changed the image, if any


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    line: str
    details: tuple[str, ...] = ()
    commit: str | None = None  # superseded: the later commit that changed the image


def _get(data: Any, *path: str) -> Any:
    """``data[path[0]][path[1]]...``, None where anything on the way is missing or not a map."""
    for key in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _text(value: Any) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def short(revision: str | None) -> str:
    return (revision or "")[:SHORT] or "(none)"


def sync_revision(app: Mapping[str, Any]) -> str | None:
    """The commit Argo CD compared the live state with (``status.sync.revision``)."""
    revision = _get(app, "status", "sync", "revision")
    revisions = _get(app, "status", "sync", "revisions")
    if not revision and isinstance(revisions, list) and revisions:
        revision = revisions[0]
    return str(revision) if revision else None


def operation_revision(app: Mapping[str, Any]) -> str | None:
    """The commit of the current or last sync operation."""
    state = _get(app, "status", "operationState")
    for path in (("syncResult", "revision"), ("operation", "sync", "revision")):
        revision = _get(state, *path)
        if revision:
            return str(revision)
    return None


def revisions_in(app: Mapping[str, Any]) -> set[str]:
    """Every commit the Application mentions (what the caller classifies for ``judge``)."""
    return {rev for rev in (sync_revision(app), operation_revision(app)) if rev}


def images(app: Mapping[str, Any]) -> list[str]:
    found = _get(app, "status", "summary", "images")
    return [str(image) for image in found] if isinstance(found, list) else []


def describe(app: Mapping[str, Any]) -> str:
    """One line of what Argo CD reports: sync status and revision, health, operation."""
    sync = _text(_get(app, "status", "sync", "status")) or "unknown"
    health = _text(_get(app, "status", "health", "status")) or "unknown"
    line = f"sync {sync} at {short(sync_revision(app))}, health {health}"
    phase = _text(_get(app, "status", "operationState", "phase"))
    if phase:
        line += f", operation {phase} at {short(operation_revision(app))}"
        message = _text(_get(app, "status", "operationState", "message"))
        if message and phase != "Succeeded":
            line += f" ({message})"
    return line


def error_conditions(app: Mapping[str, Any]) -> list[str]:
    """``status.conditions`` of an error type (ComparisonError, SyncError, ...), in Argo's words."""
    conditions = _get(app, "status", "conditions")
    found = []
    for condition in conditions if isinstance(conditions, list) else []:
        kind = _text(_get(condition, "type"))
        if kind.endswith("Error"):
            found.append(f"{kind}: {_text(_get(condition, 'message'))}")
    return found


def failed_sync_resources(app: Mapping[str, Any]) -> list[str]:
    """The resources the last sync could not apply, or whose hooks failed, with Argo's message."""
    resources = _get(app, "status", "operationState", "syncResult", "resources")
    found = []
    for resource in resources if isinstance(resources, list) else []:
        failed = _get(resource, "status") == "SyncFailed" or _get(resource, "hookPhase") in (
            "Failed",
            "Error",
        )
        if failed:
            name = f"{_text(_get(resource, 'kind'))}/{_text(_get(resource, 'name'))}"
            found.append(f"{name}: {_text(_get(resource, 'message')) or 'sync failed'}")
    return found


def unhealthy_resources(tree: Mapping[str, Any] | None) -> list[str]:
    """The resource tree's unhealthy nodes (Argo CD v3 keeps resource health there), worst first."""
    nodes = _get(tree, "nodes")
    found: list[tuple[int, str]] = []
    for node in nodes if isinstance(nodes, list) else []:
        status = _text(_get(node, "health", "status"))
        if status not in UNHEALTHY:
            continue
        name = f"{_text(_get(node, 'kind'))}/{_text(_get(node, 'name'))}"
        message = _text(_get(node, "health", "message"))
        found.append(
            (UNHEALTHY.index(status), f"{name}: {status}" + (f": {message}" if message else ""))
        )
    return [line for _, line in sorted(found, key=lambda item: item[0])]


def explain_failure(app: Mapping[str, Any], tree: Mapping[str, Any] | None) -> tuple[str, ...]:
    """Argo CD's own words about a failure: operation, conditions, unhealthy resources."""
    lines = []
    message = _text(_get(app, "status", "operationState", "message"))
    phase = _get(app, "status", "operationState", "phase")
    if message and phase in FAILED_PHASES:
        lines.append(f"operation: {message}")
    lines += failed_sync_resources(app)
    lines += error_conditions(app)
    health_message = _text(_get(app, "status", "health", "message"))  # deprecated, still shown
    if health_message:
        lines.append(f"health: {health_message}")
    lines += unhealthy_resources(tree)
    unique = list(dict.fromkeys(lines))
    if len(unique) > MAX_DETAILS:
        unique = [*unique[:MAX_DETAILS], f"... and {len(unique) - MAX_DETAILS} more"]
    return tuple(unique)


def _stale_health(app: Mapping[str, Any]) -> bool:
    """Health older than our finished sync: computed before the sync applied anything."""
    changed = _get(app, "status", "health", "lastTransitionTime")
    finished = _get(app, "status", "operationState", "finishedAt")
    return bool(changed and finished and str(changed) < str(finished))


def judge(app: Mapping[str, Any], expected: Expected, revisions: Mapping[str, Revision]) -> Verdict:
    """The verdict on ``app``; ``revisions`` classifies the commits of ``revisions_in(app)``."""
    sync_rev, op_rev = sync_revision(app), operation_revision(app)
    at_sync = revisions.get(sync_rev or "", Revision.OTHER)
    at_op = revisions.get(op_rev or "", Revision.OTHER)
    phase = _get(app, "status", "operationState", "phase")
    state = describe(app)

    if at_op is Revision.OURS and phase in FAILED_PHASES:
        return Verdict(
            Outcome.FAILED, f"the sync of {short(op_rev)} ended {phase}", explain_failure(app, None)
        )
    if Revision.NEWER_IMAGE in (at_sync, at_op):
        newer = sync_rev if at_sync is Revision.NEWER_IMAGE else op_rev
        return Verdict(
            Outcome.SUPERSEDED,
            f"Argo CD is at {short(newer)}, a later commit that changed the image ({state})",
            commit=newer,
        )
    if at_sync is Revision.OURS:
        busy = at_op is Revision.OURS and phase in BUSY_PHASES
        synced = _get(app, "status", "sync", "status") == "Synced" and not busy
        health = _get(app, "status", "health", "status")
        if synced and health == "Healthy":
            running = images(app)
            if expected.image is None or expected.image in running:
                return Verdict(Outcome.DEPLOYED, state)
            return _pending(
                expected,
                f"{state}; images {', '.join(running) or '(none)'} do not include {expected.image}",
            )
        if synced and health == "Degraded" and not _stale_health(app):
            return Verdict(
                Outcome.FAILED, f"Degraded at {short(sync_rev)}", explain_failure(app, None)
            )
    return _pending(expected, state)


def _pending(expected: Expected, state: str) -> Verdict:
    if expected.superseded_by:
        return Verdict(
            Outcome.SUPERSEDED,
            f"{short(expected.superseded_by)}, a later commit, changed the image before ours"
            f" became healthy ({state})",
            commit=expected.superseded_by,
        )
    return Verdict(Outcome.PENDING, state)
