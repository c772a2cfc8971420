"""``ci.chart.argocd`` reads Argo CD objects as Argo CD does: Applications, their sources and
values, where they deploy; what it does not model is refused."""

from pathlib import Path

import pytest
import yaml

from ci import chart
from ci.errors import CiError
from tests.ci.chart.manifests import APPLICATION, appset, repo_with


def test_plain_application_with_values_object(tmp_path: Path):
    repo = repo_with(tmp_path, APPLICATION)
    (app,) = chart.applications(repo)
    assert (app.env, app.release_name, app.namespace) == ("qa", "svc-qa", "qa-ns")
    deployment = chart.render_env("qa", repo)[0]
    assert deployment["spec"]["replicas"] == 4  # valuesObject comes after the value files
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":qa-1")


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
