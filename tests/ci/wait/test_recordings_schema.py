"""The recorded Applications, and the variants the verdict tests make of them, are objects Argo CD
v3.5 could serve: they validate against its Application CRD (skipped where no copy is at hand)."""

import itertools

import pytest

from tests.ci.wait.recorded import OLDER, at, names, recorded, with_state
from tests.ci.wait.test_verdict import HEALTH, PHASES, SYNC
from tests.support.crds import crd_errors, crd_schemas


@pytest.mark.parametrize("name", names())
def test_recordings_validate_against_the_application_crd(name):
    application = recorded(name)
    assert application["kind"] == "Application"
    assert crd_errors(crd_schemas(), application) == []


def test_every_varied_state_validates_against_the_application_crd():
    schemas = crd_schemas()
    base = recorded("synced-healthy")
    # status.sync.status is required by the CRD: only the robustness tests leave it out.
    for sync, health, phase in itertools.product([s for s in SYNC if s], HEALTH, PHASES):
        variant = at(with_state(base, sync, health, phase), OLDER)
        assert crd_errors(schemas, variant) == [], (sync, health, phase)


def test_the_crd_check_would_catch_a_wrong_shape():
    broken = recorded("sync-failed")
    broken["status"]["operationState"]["syncResult"]["revison"] = "typo"
    del broken["status"]["operationState"]["startedAt"]
    errors = crd_errors(crd_schemas(), broken)
    assert any("revison" in error for error in errors)
    assert any("startedAt" in error for error in errors)
