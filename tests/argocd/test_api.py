"""The stand-in's HTTP API over real TCP: Argo CD's paths, auth and error shapes, and objects that
validate against Argo CD's Application CRD (cross-check, where a copy of the CRDs is at hand)."""

import json
import urllib.error
import urllib.request

import pytest

from tests.argocd.conftest import DEV, PROD
from tests.support.crds import crd_errors, crd_schemas
from tests.support.git_remotes import git


def get(
    url: str, token: str | None, method: str = "GET", scheme: str = "Bearer"
) -> tuple[int, dict]:
    headers = {"Authorization": f"{scheme} {token}"} if token is not None else {}
    request = urllib.request.Request(url, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error)


def degraded(app: dict) -> bool:
    return app["status"]["health"]["status"] == "Degraded"


@pytest.mark.integration
@pytest.mark.parametrize("token", [None, "wrong", ""])
@pytest.mark.parametrize("path", [f"/api/v1/applications/{DEV}", "/api/v1/applications/nope"])
def test_a_missing_or_wrong_token_is_401(argo, token, path):
    status, body = get(argo.url + path, token)
    assert status == 401
    assert body["code"] == 16  # gRPC Unauthenticated, as Argo CD's gateway answers
    assert "token" in body["message"]


@pytest.mark.integration
def test_basic_auth_is_not_a_bearer_token(argo):
    assert get(f"{argo.url}/api/v1/applications/{DEV}", argo.token, scheme="Basic")[0] == 401


@pytest.mark.integration
@pytest.mark.parametrize("suffix", ["", "/resource-tree"])
def test_an_unknown_application_is_404(argo, suffix):
    status, body = get(f"{argo.url}/api/v1/applications/{PROD}{suffix}", argo.token)
    assert status == 404  # prod exists in gitops/argocd/ but this stand-in runs dev only
    assert body["message"] == f'applications.argoproj.io "{PROD}" not found'
    assert body["code"] == 5


@pytest.mark.integration
def test_other_paths_and_writes_are_refused(argo):
    assert get(f"{argo.url}/api/v1/applications/{DEV}/sync", argo.token)[0] == 404
    assert get(f"{argo.url}/api/v1/session", argo.token)[0] == 404
    assert get(f"{argo.url}/api/v1/applications/{DEV}", argo.token, "DELETE")[0] == 405


@pytest.mark.integration
def test_application_and_tree_answer_in_argo_cd_v3_shapes(argo, gitops):
    argo.wait_for(DEV, degraded, what="Degraded (nothing to pull)")
    status, app = get(f"{argo.url}/api/v1/applications/{DEV}?refresh=normal", argo.token)
    assert status == 200
    assert app["kind"] == "Application"
    assert app["metadata"]["name"] == DEV
    assert app["spec"]["source"]["helm"]["valueFiles"] == [
        "../values.dev.yaml",
        "../gitops/dev/values.yaml",
    ]
    head = git("rev-parse", "main", cwd=gitops.remote).strip()
    assert app["status"]["sync"] == {**app["status"]["sync"], "status": "Synced", "revision": head}
    assert app["status"]["operationState"]["syncResult"]["revision"] == head
    assert app["status"]["operationState"]["phase"] == "Succeeded"
    # v3: resource health is in the tree only, the application's health has no message.
    assert app["status"]["resourceHealthSource"] == "appTree"
    assert all("health" not in r for r in app["status"]["resources"])
    assert set(app["status"]["health"]) == {"status", "lastTransitionTime"}
    status, tree = get(f"{argo.url}/api/v1/applications/{DEV}/resource-tree", argo.token)
    assert status == 200
    (deployment,) = [n for n in tree["nodes"] if n["kind"] == "Deployment"]
    assert deployment["health"]["status"] == "Degraded"
    assert deployment["health"]["message"].startswith('failed to pull image "127.0.0.1:')
    (pod,) = [n for n in tree["nodes"] if n["kind"] == "Pod"]
    assert pod["health"] == deployment["health"]
    assert pod["parentRefs"][0]["kind"] == "ReplicaSet"
    assert crd_errors(crd_schemas(), app) == []


@pytest.mark.integration
def test_crd_cross_check_catches_a_misshapen_status(argo):
    argo.wait_for(DEV, degraded, what="Degraded")
    app = argo.application(DEV)
    app["status"]["operationState"]["syncResult"].pop("revision")
    app["status"]["health"]["healthy"] = True
    errors = crd_errors(crd_schemas(), app)
    assert any("'revision' is a required property" in e for e in errors)
    assert any("healthy" in e for e in errors)
