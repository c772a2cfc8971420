"""The stand-in's controller against a real gitops remote: what it renders, when it syncs, and how a
render or a sync fails, in Argo CD's words. No image is pulled here (the registry port is closed:
every rollout is Degraded at once); running images is tests/argocd/test_node.py's job."""

import time

import pytest
import yaml

from app import SERVICE_NAME
from tests.argocd.conftest import DEV, GitopsRepo
from tests.support.argocd import running_argocd
from tests.support.crds import crd_errors, crd_schemas
from tests.support.git_remotes import git

pytestmark = pytest.mark.integration


def head(gitops: GitopsRepo) -> str:
    return git("rev-parse", "main", cwd=gitops.remote).strip()


def at(revision: str):
    def check(app: dict) -> bool:
        return app["status"]["sync"].get("revision") == revision

    return check


def test_a_commit_for_another_environment_moves_the_revision_without_a_sync(argo, gitops):
    first = head(gitops)
    argo.wait_for(DEV, at(first), what="at the first commit")
    argo.wait_for(DEV, lambda a: a["status"]["health"]["status"] == "Degraded", what="Degraded")

    def prod_tag(values: dict) -> None:
        values["image"]["tag"] = "prod-only"

    second = gitops.commit("deploy(prod): prod-only", {"gitops/prod/values.yaml": prod_tag})
    argo.wait_for(DEV, at(second), what="at the prod commit")
    app = argo.application(DEV)
    assert app["status"]["sync"]["status"] == "Synced"
    assert app["status"]["operationState"]["syncResult"]["revision"] == first
    assert app["status"]["operationState"]["operation"]["sync"]["revision"] == first


def test_a_changed_image_is_synced_at_its_commit(argo, gitops):
    argo.wait_for(DEV, at(head(gitops)), what="at the first commit")

    def dev_tag(values: dict) -> None:
        values["image"]["tag"] = "second"

    second = gitops.commit("deploy(dev): second", {"gitops/dev/values.yaml": dev_tag})
    argo.wait_for(
        DEV,
        lambda a: (
            a["status"].get("operationState", {}).get("syncResult", {}).get("revision") == second
        ),
        what="synced to the second commit",
    )
    app = argo.application(DEV)
    assert app["status"]["operationState"]["phase"] == "Succeeded"
    assert app["status"]["operationState"]["message"] == "successfully synced (all tasks run)"
    assert app["status"]["summary"]["images"][0].endswith(f"/{SERVICE_NAME}:second")


def test_a_render_error_is_a_comparison_error_until_fixed(argo, gitops):
    argo.wait_for(DEV, at(head(gitops)), what="at the first commit")

    def bad_replicas(values: dict) -> None:
        values["replicaCount"] = "many"

    broken = gitops.commit("dev: bad replicas", {"values.dev.yaml": bad_replicas})
    argo.wait_for(DEV, at(broken), what="at the broken commit")
    app = argo.application(DEV)
    assert app["status"]["sync"]["status"] == "Unknown"
    (condition,) = app["status"]["conditions"]
    assert condition["type"] == "ComparisonError"
    assert condition["message"].startswith("Failed to load target state: ")
    assert "replicaCount" in condition["message"]
    assert crd_errors(crd_schemas(), app) == []

    def good_replicas(values: dict) -> None:
        values["replicaCount"] = 1

    fixed = gitops.commit("dev: fix replicas", {"values.dev.yaml": good_replicas})
    argo.wait_for(DEV, at(fixed), what="at the fixed commit")
    app = argo.application(DEV)
    assert app["status"]["sync"]["status"] == "Synced"
    assert "conditions" not in app["status"]


def test_an_object_the_project_does_not_permit_fails_the_sync_operation(argo, gitops):
    argo.wait_for(DEV, at(head(gitops)), what="at the first commit")
    project = gitops.work / "gitops" / "argocd" / "project.yaml"
    doc = yaml.safe_load(project.read_text())
    doc["spec"]["namespaceResourceWhitelist"] = [
        rule for rule in doc["spec"]["namespaceResourceWhitelist"] if rule["kind"] != "Service"
    ]
    project.write_text(yaml.safe_dump(doc, sort_keys=False))

    def dev_tag(values: dict) -> None:
        values["image"]["tag"] = "needs-a-sync"

    revision = gitops.commit("forbid Services", {"gitops/dev/values.yaml": dev_tag})
    argo.wait_for(
        DEV,
        lambda a: a["status"]["operationState"]["syncResult"]["revision"] == revision,
        what="a sync attempt at the new commit",
    )
    app = argo.application(DEV)
    operation = app["status"]["operationState"]
    assert operation["phase"] == "Failed"
    assert operation["message"].startswith("one or more synchronization tasks are not valid")
    (failed,) = [r for r in operation["syncResult"]["resources"] if r["status"] == "SyncFailed"]
    assert failed["kind"] == "Service"
    assert failed["message"] == (f"resource :Service is not permitted in project {SERVICE_NAME}")
    assert app["status"]["sync"]["status"] == "OutOfSync"
    assert crd_errors(crd_schemas(), app) == []


def test_refresh_polls_the_remote_at_once(gitops, tmp_path):
    with running_argocd(gitops.url, tmp_path / "argo", interval=3600, apps=[DEV]) as argo:
        argo.wait_for(DEV, at(head(gitops)), what="at the first commit")
        revision = gitops.commit("an empty commit")
        time.sleep(1)
        assert argo.application(DEV)["status"]["sync"]["revision"] != revision
        argo.controller.refresh()
        argo.wait_for(DEV, at(revision), timeout=10, what="refreshed")
    assert argo.controller.errors == []
