"""ci/chart/argocd.py reads Argo CD objects as Argo CD does: generators, templates, values."""

import shutil
from pathlib import Path

import pytest
import yaml

from ci import chart
from ci.chart.applicationset import glob_regex
from ci.errors import CiError
from tests.chart.conftest import REPO_ROOT

APPLICATION = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Application",
    "metadata": {"name": "svc-qa", "namespace": "argocd"},
    "spec": {
        "project": "p",
        "source": {
            "repoURL": "https://example.com/r.git",
            "path": "helm-chart",
            "helm": {
                "valueFiles": ["../gitops/qa/values.yaml"],
                "valuesObject": {"replicaCount": 4},
            },
        },
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "qa-ns"},
    },
}


def repo_with(tmp_path: Path, *documents: dict) -> Path:
    shutil.copytree(REPO_ROOT / "helm-chart", tmp_path / "helm-chart")
    (tmp_path / "gitops" / "argocd").mkdir(parents=True)
    (tmp_path / "gitops" / "argocd" / "apps.yaml").write_text(yaml.safe_dump_all(documents))
    for env in ("qa", "dev", "skipped"):
        (tmp_path / "gitops" / env).mkdir()
        (tmp_path / "gitops" / env / "values.yaml").write_text(
            f"image:\n  repository: registry.example.com/svc\n  tag: {env}-1\n"
        )
    return tmp_path


def appset(generators: list, **spec) -> dict:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": "set", "namespace": "argocd"},
        "spec": {
            "goTemplate": True,
            "generators": generators,
            "template": {
                "metadata": {"name": "svc-{{ .path.basename }}"},
                "spec": {
                    "project": "p",
                    "source": {
                        "repoURL": "https://example.com/r.git",
                        "path": "helm-chart",
                        "helm": {"valueFiles": ["../{{ .path.path }}/{{ .path.filename }}"]},
                    },
                    "destination": {"namespace": "ns-{{ .path.basenameNormalized | upper }}"},
                },
            },
            **spec,
        },
    }


def test_plain_application_with_values_object(tmp_path: Path):
    repo = repo_with(tmp_path, APPLICATION)
    (app,) = chart.applications(repo)
    assert (app.env, app.release_name, app.namespace) == ("qa", "svc-qa", "qa-ns")
    deployment = chart.render_env("qa", repo)[0]
    assert deployment["spec"]["replicas"] == 4  # valuesObject comes after the value files
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":qa-1")


def test_git_files_generator_with_exclude_and_sprig(tmp_path: Path):
    files = [{"path": "gitops/*/values.yaml"}, {"path": "gitops/skipped/*", "exclude": True}]
    repo = repo_with(tmp_path, appset([{"git": {"repoURL": "u", "files": files}}]))
    apps = chart.applications(repo)
    assert [(a.name, a.env, a.namespace) for a in apps] == [
        ("svc-dev", "dev", "ns-DEV"),
        ("svc-qa", "qa", "ns-QA"),
    ]
    assert apps[0].value_files == ("../gitops/dev/values.yaml",)


def test_list_generator_and_template_patch(tmp_path: Path):
    elements = [{"path": {"path": "gitops/qa", "basename": "qa", "filename": "values.yaml",
                          "basenameNormalized": "qa"}}]  # fmt: skip
    patch = (
        "spec:\n  project: null\n  syncPolicy:\n    automated:\n"
        '      prune: {{ eq .path.basename "qa" }}\n'
    )
    repo = repo_with(tmp_path, appset([{"list": {"elements": elements}}], templatePatch=patch))
    (app,) = chart.applications(repo)
    assert app.manifest["spec"]["syncPolicy"] == {"automated": {"prune": True}}
    assert "project" not in app.manifest["spec"]
    assert app.manifest["metadata"]["namespace"] == "argocd"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda s: s["spec"].update(goTemplate=False),
            "ApplicationSet set: only goTemplate: true is supported",
        ),
        (
            lambda s: s["spec"].update(generators=[{"clusters": {}}]),
            "ApplicationSet set: generator clusters is not supported by ci/chart/argocd.py",
        ),
        (
            lambda s: s["spec"]["template"]["metadata"].update(name="{{ .path.basename | nope }}"),
            'function "nope" not defined',
        ),
    ],
)
def test_unsupported_or_broken_applicationsets_fail_clearly(tmp_path: Path, change, message):
    document = appset([{"git": {"repoURL": "u", "files": [{"path": "gitops/*/values.yaml"}]}}])
    change(document)
    repo = repo_with(tmp_path, document)
    with pytest.raises(CiError, match=message):
        chart.applications(repo)


def test_helm_parameters_are_refused_rather_than_ignored(tmp_path: Path):
    application = yaml.safe_load(yaml.safe_dump(APPLICATION))
    application["spec"]["source"]["helm"]["parameters"] = [{"name": "a", "value": "b"}]
    with pytest.raises(CiError, match=r"svc-qa: spec.source.helm.parameters is not supported"):
        chart.applications(repo_with(tmp_path, application))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s["source"].update(chart="x"), r"spec.source.chart is not supported"),
        (lambda s: s["source"].update(kustomize={}), r"spec.source.kustomize is not supported"),
        (lambda s: s["source"].update(plugin={}), r"spec.source.plugin is not supported"),
        (lambda s: s["source"]["helm"].update(values="a: b"), r"spec.source.helm.values is not"),
        (lambda s: s["source"]["helm"].update(kubeVersion="1.1"), r"helm.kubeVersion is not"),
        (lambda s: s.update(sources=[s["source"]]), r"only a single spec.source is supported"),
        (lambda s: s["source"]["helm"].update(valuesObject=[1]), r"valuesObject: expected a map"),
        (lambda s: s["source"].pop("helm"), r"spec.source.helm is required"),
    ],
)
def test_what_the_render_does_not_model_is_refused(tmp_path: Path, change, message):
    application = yaml.safe_load(yaml.safe_dump(APPLICATION))
    change(application["spec"])
    with pytest.raises(CiError, match=message):
        chart.applications(repo_with(tmp_path, application))


@pytest.mark.parametrize(
    "name", [".argocd-source.yaml", ".argocd-source-svc-qa.yaml", ".argocd-source-x.yml"]
)
def test_a_parameter_override_file_in_the_source_folder_is_refused(tmp_path: Path, name):
    repo = repo_with(tmp_path, APPLICATION)
    (repo / "helm-chart" / name).write_text("helm:\n  parameters: []\n")
    with pytest.raises(CiError, match=rf"^helm-chart/{name}: Argo CD would merge this parameter"):
        chart.applications(repo)


def test_the_location_says_where_argo_cd_reads_and_deploys(tmp_path: Path):
    (app,) = chart.applications(repo_with(tmp_path, APPLICATION))
    assert app.location == (
        "https://example.com/r.git@HEAD -> https://kubernetes.default.svc/qa-ns (project p)"
    )
    files = [{"path": "gitops/qa/values.yaml"}]
    generated = appset([{"git": {"repoURL": "u", "revision": "main", "files": files}}])
    (app,) = chart.applications(repo_with(tmp_path / "set", generated))
    assert app.location.endswith("(project p), generated from u@main")


def test_the_git_files_generator_matches_across_folders_as_argo_cd_does(tmp_path: Path):
    files = [{"path": "gitops/*/values.yaml"}, {"path": "gitops/skipped/*", "exclude": True}]
    repo = repo_with(tmp_path, appset([{"git": {"repoURL": "u", "files": files}}]))
    (repo / "gitops" / "team" / "qa").mkdir(parents=True)
    (repo / "gitops" / "team" / "qa" / "values.yaml").write_text("image: {tag: x}\n")
    # Two Applications named svc-qa; the nested one's valueFiles name no gitops/<env>/values.yaml.
    with pytest.raises(CiError, match=r"Application svc-qa: no gitops/<env>/values\.yaml"):
        chart.environments(repo)


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("gitops/*/values.yaml", "gitops/dev/values.yaml", True),
        ("gitops/*/values.yaml", "gitops/a/b/values.yaml", True),
        ("gitops/*/values.yaml", "gitops/values.yaml", False),
        ("gitops/**/values.yaml", "gitops/a/b/values.yaml", True),
        ("gitops/?ev/values.yaml", "gitops/dev/values.yaml", True),
        ("gitops/[!d]ev/*", "gitops/dev/values.yaml", False),
        ("gitops/[a-e]ev/*", "gitops/dev/values.yaml", True),
        ("gitops/{dev,prod}/values.yaml", "gitops/prod/values.yaml", True),
        ("gitops/{dev,prod}/values.yaml", "gitops/qa/values.yaml", False),
        ("gitops/a.b/*", "gitops/aXb/c", False),
        ("gitops/\\*/v", "gitops/*/v", True),
        ("gitops/\\*/v", "gitops/x/v", False),
    ],
)
def test_glob_is_argo_cds_default_glob(pattern, path, matches):
    assert bool(glob_regex(pattern).fullmatch(path)) is matches


def test_value_file_outside_the_repository_is_refused(tmp_path: Path):
    application = yaml.safe_load(yaml.safe_dump(APPLICATION))
    application["spec"]["source"]["helm"]["valueFiles"] = [
        "../../x.yaml",
        "../gitops/qa/values.yaml",
    ]
    repo = repo_with(tmp_path, application)
    with pytest.raises(CiError, match=r"value file \.\./\.\./x\.yaml is outside the repo"):
        chart.render_env("qa", repo)


def test_no_argocd_manifests(tmp_path: Path):
    with pytest.raises(CiError, match="no Argo CD manifests in"):
        chart.applications(tmp_path)


def test_merge_values_is_helms_merge_maps():
    base = {"a": {"b": 1, "c": [1, 2]}, "d": "x", "e": {"f": 1}}
    over = {"a": {"c": [3], "g": 2}, "d": {"now": "a map"}, "e": None}
    assert chart.merge_values(base, over) == {
        "a": {"b": 1, "c": [3], "g": 2},
        "d": {"now": "a map"},
        "e": None,
    }
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": "x", "e": {"f": 1}}  # inputs untouched
