"""The stand-in running real images: pulled from a real registry, run with buildah, health from the
rendered probes, the Service switching only to a ready container.

The images are the local Debian base plus a stdlib stub service (``stub_service.py``): seconds to
make, where the real Dockerfile takes minutes on vfs; the e2e (tests/e2e) runs the real image.
"""

import json
import urllib.request

import pytest

from app import SERVICE_NAME
from tests.argocd.conftest import (
    DEV,
    NAME,
    GitopsRepo,
    set_image,
)
from tests.support.argocd import ArgoCdStandIn

pytestmark = [pytest.mark.image, pytest.mark.timeout(900)]


@pytest.fixture
def repo(stub_gitops: GitopsRepo) -> GitopsRepo:
    return stub_gitops


@pytest.fixture
def argo(stub_argo: ArgoCdStandIn) -> ArgoCdStandIn:
    return stub_argo


def health(argo: ArgoCdStandIn) -> dict:
    with urllib.request.urlopen(argo.service_url(DEV) + "/-/health", timeout=10) as response:
        return json.load(response)


def status(app: dict) -> tuple[str, str]:
    return app["status"]["sync"]["status"], app["status"]["health"]["status"]


def healthy_at(revision: str):
    return lambda app: (
        app["status"]["sync"].get("revision") == revision and status(app) == ("Synced", "Healthy")
    )


def degraded_at(revision: str):
    return lambda app: (
        app["status"]["sync"].get("revision") == revision
        and app["status"]["health"]["status"] == "Degraded"
    )


def deployment_health(argo: ArgoCdStandIn) -> dict:
    tree = argo.resource_tree(DEV)
    return next(n["health"] for n in tree["nodes"] if n["kind"] == "Deployment")


def test_runs_the_rendered_pod_spec(argo, repo, stack):
    head = repo.commit("nothing", {})
    argo.wait_for(DEV, healthy_at(head), timeout=180, what="Healthy")
    served = health(argo)
    assert served["version"] == "v1"
    assert (served["uid"], served["gid"]) == (10001, 10001)  # runAsUser / runAsGroup
    assert served["env"]["APP_LOG_FORMAT"] == "json"  # values.dev.yaml
    assert served["env"]["APP_SHUTDOWN_DELAY_SECONDS"] == "5"  # the chart's env
    # readOnlyRootFilesystem, with the /tmp emptyDir writable
    assert served["writable"] == {
        "/": False, "/etc": False, "/srv": False, "/usr": False, "/var": False, "/tmp": True,
    }  # fmt: skip
    app = argo.application(DEV)
    assert app["status"]["summary"]["images"] == [f"{stack.registry}/{NAME}:v1"]


def test_a_new_image_replaces_the_old_only_when_ready(argo, repo, stack):
    argo.wait_for(DEV, lambda a: status(a)[1] == "Healthy", timeout=180, what="Healthy")
    old = argo.state(DEV).serving
    revision = repo.commit("deploy v2", {"gitops/dev/values.yaml": set_image(
        f"{stack.registry}/{NAME}", "v2")})  # fmt: skip
    argo.wait_for(DEV, healthy_at(revision), timeout=180, what="Healthy on v2")
    assert health(argo)["version"] == "v2"
    assert argo.state(DEV).serving is not old
    argo.controller.wait_until(lambda c: old.exit_code() is not None, 60, "old one stopped")


def test_a_container_that_exits_is_degraded_and_the_old_one_keeps_serving(argo, repo):
    argo.wait_for(DEV, lambda a: status(a)[1] == "Healthy", timeout=180, what="Healthy")

    def bad_level(values: dict) -> None:
        values["env"]["APP_LOG_LEVEL"] = "verbose"

    revision = repo.commit("dev: log level", {"values.dev.yaml": bad_level})
    argo.wait_for(DEV, degraded_at(revision), timeout=180, what="Degraded")
    message = deployment_health(argo)["message"]
    assert message.startswith(f"container {SERVICE_NAME} exited with code 1: ")
    assert "invalid setting APP_LOG_LEVEL='verbose'" in message
    assert health(argo)["version"] == "v1"  # the old container still serves
    assert argo.application(DEV)["status"]["operationState"]["phase"] == "Succeeded"


def test_a_container_that_never_gets_ready_is_degraded(argo, repo):
    def wrong_probe(values: dict) -> None:
        values["probes"] = {
            "startup": {"path": "/nowhere", "periodSeconds": 1, "failureThreshold": 3,
                        "timeoutSeconds": 1},
        }  # fmt: skip

    revision = repo.commit(
        "dev: a probe path that does not exist", {"values.dev.yaml": wrong_probe}
    )
    argo.wait_for(DEV, degraded_at(revision), timeout=180, what="Degraded")
    message = deployment_health(argo)["message"]
    assert message.startswith("Startup probe failed: GET /nowhere did not answer 2xx/3xx 3 times")


def test_a_rollout_overtaken_by_a_newer_commit_never_runs(argo, repo, stack):
    argo.wait_for(DEV, lambda a: status(a)[1] == "Healthy", timeout=180, what="Healthy")
    first = argo.state(DEV).serving
    with argo.controller.rollouts_held():
        older = repo.commit("deploy v2", {"gitops/dev/values.yaml": set_image(
            f"{stack.registry}/{NAME}", "v2")})  # fmt: skip
        argo.wait_for(DEV, lambda a: a["status"]["sync"].get("revision") == older, what="older")
        assert status(argo.application(DEV)) == ("Synced", "Progressing")

        def tweak(values: dict) -> None:
            values["env"]["APP_ECHO_MAX_LENGTH"] = "100"

        newer = repo.commit("dev: echo limit", {"values.dev.yaml": tweak})
        argo.wait_for(DEV, lambda a: a["status"]["sync"].get("revision") == newer, what="newer")
    argo.wait_for(DEV, healthy_at(newer), timeout=180, what="Healthy at the newer commit")
    served = health(argo)
    assert served["env"]["APP_ECHO_MAX_LENGTH"] == "100"
    assert argo.state(DEV).serving is not first


def test_runs_the_pinned_digest(argo, repo, stack):
    """The chart renders repository:tag@digest; the node pulls by the digest."""
    argo.wait_for(DEV, lambda a: status(a)[1] == "Healthy", timeout=180, what="Healthy")

    def pin_v2(values: dict) -> None:
        values["image"].update(tag="v2", digest=stack.digests["v2"])

    revision = repo.commit("deploy v2 by digest", {"gitops/dev/values.yaml": pin_v2})
    argo.wait_for(DEV, healthy_at(revision), timeout=180, what="Healthy at v2 by digest")
    assert health(argo)["version"] == "v2"
    reference = f"{stack.registry}/{NAME}:v2@{stack.digests['v2']}"
    assert argo.application(DEV)["status"]["summary"]["images"] == [reference]


def test_a_digest_the_registry_does_not_have_is_degraded(argo, repo, stack):
    argo.wait_for(DEV, lambda a: status(a)[1] == "Healthy", timeout=180, what="Healthy")

    def pin_unknown(values: dict) -> None:
        values["image"].update(tag="v2", digest="sha256:" + "0" * 64)

    revision = repo.commit("deploy a digest never pushed", {"gitops/dev/values.yaml": pin_unknown})
    argo.wait_for(DEV, degraded_at(revision), timeout=180, what="Degraded")
    message = deployment_health(argo)["message"]
    assert message.startswith(f'failed to pull image "{stack.registry}/{NAME}:v2@sha256:000')
    assert health(argo)["version"] == "v1"
