"""The verdict over recorded Argo CD v3 Applications: every sync status, health and operation
phase, later revisions running the same image, superseded, missing and malformed fields."""

import itertools

import pytest

from app import SERVICE_NAME
from ci.wait.verdict import (
    MAX_DETAILS,
    Expected,
    Outcome,
    Revision,
    describe,
    error_conditions,
    explain_failure,
    judge,
    revisions_in,
    unhealthy_resources,
)
from tests.ci.wait.recorded import (
    IMAGE,
    OLD_IMAGE,
    OLDER,
    OURS,
    at,
    names,
    recorded,
    with_state,
)

LATER = "2" * 40  # a later commit of the branch
EXPECTED = Expected(OURS, IMAGE)
SYNC = ("Synced", "OutOfSync", "Unknown", None)
HEALTH = ("Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown", None)
PHASES = ("Running", "Terminating", "Succeeded", "Failed", "Error", None)


def verdict(app, expected=EXPECTED, **kinds):
    revisions = {OURS: Revision.OURS, OLDER: Revision.OTHER}
    revisions.update(kinds)
    return judge(app, expected, revisions)


def test_the_recorded_healthy_sync_of_our_commit_is_deployed():
    result = verdict(recorded("synced-healthy"))
    assert result.outcome is Outcome.DEPLOYED
    assert result.line == (
        "sync Synced at 111111111111, health Healthy, operation Succeeded at 111111111111"
    )


def test_the_recorded_running_sync_is_pending_and_says_what_argo_cd_waits_for():
    result = verdict(recorded("sync-running"))
    assert result.outcome is Outcome.PENDING
    assert result.line == (
        "sync OutOfSync at 111111111111, health Progressing, operation Running at 111111111111"
        f" (waiting for healthy state of apps/Deployment/{SERVICE_NAME})"
    )


def test_the_recorded_failed_sync_fails_promptly_in_argo_cds_words():
    result = verdict(recorded("sync-failed"))
    assert result.outcome is Outcome.FAILED
    assert result.line == "the sync of 111111111111 ended Failed"
    operation, resource, condition = result.details
    assert operation.startswith(
        f'operation: one or more objects failed to apply, reason: Deployment.apps "{SERVICE_NAME}"'
    )
    assert resource.startswith(f'Deployment/{SERVICE_NAME}: Deployment.apps "{SERVICE_NAME}"')
    assert condition.startswith("SyncError: Failed sync attempt to 1111111111111111")


def test_a_failed_sync_of_an_older_commit_is_not_ours():
    assert verdict(at(recorded("sync-failed"), OLDER)).outcome is Outcome.PENDING


def test_the_recorded_degraded_application_fails_with_the_resource_trees_messages():
    app = recorded("degraded")
    result = verdict(app)
    assert (result.outcome, result.line) == (Outcome.FAILED, "Degraded at 111111111111")
    assert explain_failure(app, recorded("degraded-tree")) == (
        f'Deployment/{SERVICE_NAME}: Degraded: Deployment "{SERVICE_NAME}" exceeded its'
        " progress deadline",
        f"Pod/{SERVICE_NAME}-7d9f8c6b5d-x2k9p: Degraded: back-off 5m0s restarting failed"
        f" container=app pod={SERVICE_NAME}-7d9f8c6b5d-x2k9p_{SERVICE_NAME}-dev(a4)",
    )


def test_degraded_before_our_sync_finished_is_the_old_state_not_ours():
    app = recorded("degraded")
    app["status"]["health"]["lastTransitionTime"] = "2026-11-27T07:59:00Z"  # before finishedAt
    assert verdict(app).outcome is Outcome.PENDING


def test_degraded_while_our_commit_is_not_applied_yet_is_pending():
    """The previous build is broken; ours is compared (OutOfSync) but not synced yet."""
    app = with_state(recorded("degraded"), "OutOfSync", "Degraded", "Succeeded")
    app = at(app, OURS)
    app["status"]["operationState"] = at(recorded("synced-healthy"), OLDER)["status"][
        "operationState"
    ]
    assert verdict(app).outcome is Outcome.PENDING


def expected_outcome(sync, health, phase) -> Outcome:
    """The issue's rules for an application whose sync and operation are at our commit."""
    if phase in ("Failed", "Error"):
        return Outcome.FAILED
    settled = sync == "Synced" and phase not in ("Running", "Terminating")
    if settled and health == "Healthy":
        return Outcome.DEPLOYED
    if settled and health == "Degraded":
        return Outcome.FAILED
    return Outcome.PENDING


@pytest.mark.parametrize(("sync", "health", "phase"), list(itertools.product(SYNC, HEALTH, PHASES)))
def test_every_sync_status_health_and_phase_at_our_commit(sync, health, phase):
    app = with_state(recorded("synced-healthy"), sync, health, phase)
    assert verdict(app).outcome is expected_outcome(sync, health, phase)


@pytest.mark.parametrize(("sync", "health", "phase"), list(itertools.product(SYNC, HEALTH, PHASES)))
def test_nothing_at_an_older_commit_decides_anything(sync, health, phase):
    app = at(with_state(recorded("synced-healthy"), sync, health, phase), OLDER)
    assert verdict(app).outcome is Outcome.PENDING


@pytest.mark.parametrize(("sync", "health"), list(itertools.product(SYNC, HEALTH)))
def test_argo_cd_at_a_later_commit_with_another_image_is_superseded(sync, health):
    app = at(with_state(recorded("synced-healthy"), sync, health, "Succeeded"), LATER)
    result = verdict(app, **{LATER: Revision.NEWER_IMAGE})
    assert result.outcome is Outcome.SUPERSEDED
    assert result.line.startswith("Argo CD is at 222222222222, a later commit that changed the")


def test_a_later_commit_still_running_our_image_counts_as_ours():
    """Argo CD moves sync.revision forward on commits that change other environments."""
    app = at(recorded("synced-healthy"), LATER)
    assert verdict(app, **{LATER: Revision.OURS}).outcome is Outcome.DEPLOYED
    degraded = at(recorded("degraded"), LATER)
    assert verdict(degraded, **{LATER: Revision.OURS}).outcome is Outcome.FAILED


def test_a_sync_still_running_a_later_same_image_commit_is_pending():
    app = at(with_state(recorded("synced-healthy"), "Synced", "Healthy", "Running"), LATER)
    assert verdict(app, **{LATER: Revision.OURS}).outcome is Outcome.PENDING


def test_healthy_without_our_image_is_pending_and_names_the_images():
    app = at(recorded("synced-healthy"), OURS, images=[OLD_IMAGE])
    result = verdict(app)
    assert result.outcome is Outcome.PENDING
    assert result.line.endswith(f"; images {OLD_IMAGE} do not include {IMAGE}")
    # The tag alone is not the build: the digest must match too.
    tag_only = at(recorded("synced-healthy"), OURS, images=[IMAGE.split("@")[0]])
    assert verdict(tag_only).outcome is Outcome.PENDING
    # No expected image (a values file without one): health and sync decide.
    assert verdict(app, Expected(OURS, None)).outcome is Outcome.DEPLOYED


def test_a_newer_commit_on_the_branch_supersedes_a_build_not_yet_healthy():
    newer = Expected(OURS, IMAGE, superseded_by=LATER)
    pending = verdict(recorded("sync-running"), newer)
    assert pending.outcome is Outcome.SUPERSEDED
    assert pending.line.startswith(
        "222222222222, a later commit, changed the image before ours became healthy (sync "
    )
    # Already healthy, or already failed: that is our build's own verdict.
    assert verdict(recorded("synced-healthy"), newer).outcome is Outcome.DEPLOYED
    assert verdict(recorded("sync-failed"), newer).outcome is Outcome.FAILED


def test_a_render_error_is_pending_with_the_condition_for_the_timeout_message():
    app = recorded("comparison-error")
    result = verdict(app)
    assert result.outcome is Outcome.PENDING
    assert (
        result.line == "sync Unknown at (none), health Healthy, operation Succeeded at 111111111111"
    )
    (condition,) = error_conditions(app)
    assert condition.startswith("ComparisonError: Failed to load target state: failed to generate")


@pytest.mark.parametrize(
    "status",
    [
        None,
        {},
        [],
        "text",
        {"sync": None, "health": None, "operationState": None, "summary": None},
        {"sync": {"revision": 5}, "health": {"status": ["Healthy"]}, "summary": {"images": "x"}},
        {"sync": {"status": "Synced", "revision": OURS}, "health": {"status": "Healthy"}},
        {"operationState": {"phase": "Failed"}, "conditions": "boom"},
        {"operationState": {"syncResult": {"resources": "x"}}, "conditions": [None, 3]},
    ],
)
def test_missing_or_malformed_fields_never_crash(status):
    app = recorded("new")
    if status is None:
        del app["status"]
    else:
        app["status"] = status
    result = verdict(app)
    assert result.outcome in (Outcome.PENDING, Outcome.DEPLOYED)
    assert describe(app)
    assert isinstance(explain_failure(app, {"nodes": "x"}), tuple)


def test_synced_and_healthy_without_images_is_not_deployed():
    app = {
        "status": {"sync": {"status": "Synced", "revision": OURS}, "health": {"status": "Healthy"}}
    }
    assert verdict(app).outcome is Outcome.PENDING
    assert verdict(recorded("new")).line == "sync unknown at (none), health unknown"


def test_multi_source_revisions_are_read_when_revision_is_absent():
    app = recorded("synced-healthy")
    app["status"]["sync"]["revisions"] = [app["status"]["sync"].pop("revision")]
    assert revisions_in(app) == {OURS}
    assert verdict(app).outcome is Outcome.DEPLOYED


def test_failure_details_are_unique_and_bounded():
    app = recorded("sync-failed")
    nodes = [
        {"kind": "Pod", "name": f"p{n}", "health": {"status": "Degraded", "message": "crash"}}
        for n in range(30)
    ]
    details = explain_failure(app, {"nodes": nodes + nodes})
    assert len(details) == MAX_DETAILS + 1
    assert details[-1] == f"... and {3 + 30 - MAX_DETAILS} more"
    assert unhealthy_resources({"nodes": [{"kind": "Pod", "name": "a", "health": {}}]}) == []


@pytest.mark.parametrize("name", names())
def test_every_recording_names_our_commit(name):
    assert revisions_in(recorded(name)) <= {OURS}
