"""The ApplicationSet as a first rollout meets it: what Argo CD leaves alone, what a deletion
takes with it, and which folders become environments.

- Ignored fields (issue 22, item 10): with `RespectIgnoreDifferences`, a field an Application
  ignores is never applied to an existing object. No environment may ignore a field its render
  sets (dev's `replicaCount` would never reach its Deployment).
- Deletion (item 11): deleting the ApplicationSet deletes the Applications it owns whatever
  `applicationsSync` says; what they deployed survives only without the resources finalizer
  (`preserveResourcesOnDeletion`, Argo CD's "Application Pruning & Resource Deletion").
- Folders (item 9): Argo CD's git files generator matches `gitops/*/values.yaml` greedily by
  default (`*` crosses folders), and ci/chart/argocd.py models it so: a nested folder is seen,
  and one that repeats an environment's name is refused rather than guessed.
"""

import copy
import shutil
from pathlib import Path

import pytest
import yaml

from app import SERVICE_NAME
from ci import chart
from ci.errors import CiError
from tests.chart.conftest import ENVIRONMENTS, REPO_ROOT, kinds, render_with
from tests.support.crds import crd_errors, crd_schemas

FINALIZER = "resources-finalizer.argocd.argoproj.io"


def applicationset() -> dict:
    (appset,) = [d for d in chart.argocd_documents() if d["kind"] == "ApplicationSet"]
    return appset


def resolves(obj: dict, pointer: str) -> bool:
    """Whether an RFC 6901 JSON pointer names a field that is set in ``obj``."""
    node = obj
    for token in pointer.lstrip("/").split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        elif isinstance(node, dict) and token in node:
            node = node[token]
        else:
            return False
    return True


def ignored_fields_rendered(app: dict, docs: list[dict]) -> list[str]:
    found = []
    for rule in app["spec"].get("ignoreDifferences", []):
        for doc in docs:
            group = doc["apiVersion"].rpartition("/")[0]
            if (rule.get("group", ""), rule["kind"]) != (group, doc["kind"]):
                continue
            found += [f"{doc['kind']}{p}" for p in rule.get("jsonPointers", []) if resolves(doc, p)]
    return found


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_no_environment_ignores_a_field_its_render_sets(env, rendered_envs):
    app = chart.application_for(env).manifest
    assert ignored_fields_rendered(app, rendered_envs[env]) == []


def test_the_check_sees_an_ignored_replica_count(rendered_envs):
    """The control: the rule this repository had (/spec/replicas everywhere) is caught in an
    environment without the HPA."""
    env = next(e for e in ENVIRONMENTS if "HorizontalPodAutoscaler" not in kinds(rendered_envs[e]))
    app = copy.deepcopy(chart.application_for(env).manifest)
    rule = {"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}
    app["spec"]["ignoreDifferences"] = [rule]
    assert ignored_fields_rendered(app, rendered_envs[env]) == ["Deployment/spec/replicas"]
    with_hpa = render_with({"autoscaling": {"enabled": True}})
    assert ignored_fields_rendered(app, with_hpa) == []


def test_deleting_the_applicationset_leaves_the_environments_running():
    policy = applicationset()["spec"]["syncPolicy"]
    assert policy["preserveResourcesOnDeletion"] is True
    assert policy["applicationsSync"] == "create-update"
    for app in chart.applications():
        assert FINALIZER not in app.manifest["metadata"].get("finalizers", []), app.name


def test_the_deletion_settings_are_valid_for_the_v3_5_crds():
    schemas = crd_schemas()
    assert crd_errors(schemas, applicationset()) == []
    broken = copy.deepcopy(applicationset())
    broken["spec"]["preserveResourcesOnDeletion"] = True  # the wrong level: a common mistake
    assert any("preserveResourcesOnDeletion" in e for e in crd_errors(schemas, broken))


def repo_copy(tmp_path: Path) -> Path:
    for name in ("helm-chart", "gitops"):
        shutil.copytree(REPO_ROOT / name, tmp_path / name)
    for values in REPO_ROOT.glob("values.*.yaml"):
        shutil.copy(values, tmp_path / values.name)
    return tmp_path


def nested(root: Path, *parts: str) -> None:
    folder = root.joinpath("gitops", *parts)
    folder.mkdir(parents=True)
    image = {"image": {"repository": f"registry.example.com/{SERVICE_NAME}", "tag": "abc12345"}}
    (folder / "values.yaml").write_text(yaml.safe_dump(image))


def test_a_nested_folder_is_matched_as_argo_cd_matches_it(tmp_path: Path):
    root = repo_copy(tmp_path)
    nested(root, "team", "staging")
    names = {app["metadata"]["name"] for app in chart.expand_applicationset(applicationset(), root)}
    assert f"{SERVICE_NAME}-staging" in names


def test_a_nested_folder_that_repeats_an_environment_is_refused(tmp_path: Path):
    root = repo_copy(tmp_path)
    nested(root, "team", ENVIRONMENTS[-1])
    with pytest.raises(CiError):
        chart.environments(root)
