"""``ci.gitops.runs``: what each environment runs in a tree, from what Argo CD would apply: every
container image of any pod spec at any depth, each environment rendered from the tree's own
``gitops/argocd/``, a render that fails named with the file at fault."""

import shutil
from pathlib import Path

import yaml

from ci.chart import REPO_ROOT
from ci.gitops.runs import image_references, what_runs


def pod(*containers: str, key: str = "containers") -> dict:
    return {key: [{"name": f"c{n}", "image": image} for n, image in enumerate(containers)]}


def test_every_image_of_any_pod_spec_at_any_depth_is_found() -> None:
    objects = [
        {"kind": "Deployment", "spec": {"template": {"spec": pod("app:1", "sidecar:2")}}},
        {"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": pod("j:3")}}}}},
        {"kind": "Pod", "spec": {**pod("p:4"), **pod("init:5", key="initContainers")}},
        {"kind": "Rollout", "spec": {"template": {"spec": pod("e:6", key="ephemeralContainers")}}},
        {"kind": "ConfigMap", "data": {"containers": "not a list of containers"}},
        {"kind": "Custom", "spec": {"containers": [{"name": "no image"}, "not a mapping"]}},
    ]
    assert image_references(objects) == {"app:1", "sidecar:2", "j:3", "p:4", "init:5", "e:6"}


def copy_of_the_repository(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    for name in ("helm-chart", "gitops"):
        shutil.copytree(REPO_ROOT / name, root / name)
    for values in REPO_ROOT.glob("values.*.yaml"):
        shutil.copy(values, root / values.name)
    return root


def test_each_environment_runs_the_image_of_its_gitops_file(tmp_path: Path) -> None:
    root = copy_of_the_repository(tmp_path)
    runs = what_runs(root)
    assert runs.error is None
    for env, run in runs.envs.items():
        image = yaml.safe_load((root / "gitops" / env / "values.yaml").read_text())["image"]
        assert run.error is None
        assert any(f"{image['repository']}:{image['tag']}" in ref for ref in run.images), env
    assert set(what_runs(root, only=["dev", "nowhere"]).envs) == {"dev"}
    assert runs.images("nowhere") == frozenset()


def test_a_render_that_fails_names_the_file_at_fault(tmp_path: Path) -> None:
    root = copy_of_the_repository(tmp_path)
    people = root / "values.dev.yaml"
    people.write_text(people.read_text().replace("replicaCount: 1", "replicaCount: many"))
    dev = what_runs(root, only=["dev"]).envs["dev"]
    assert dev.images is None
    assert dev.error is not None
    assert dev.error.endswith("[values.dev.yaml: replicaCount]")


def test_applications_argo_cd_cannot_generate_are_the_trees_error(tmp_path: Path) -> None:
    root = copy_of_the_repository(tmp_path)
    shutil.rmtree(root / "gitops" / "argocd")
    runs = what_runs(root)
    assert runs.envs == {}
    assert runs.error is not None
    assert runs.error.startswith("no Argo CD manifests in")
