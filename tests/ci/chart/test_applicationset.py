"""``ci.chart.applicationset``: ApplicationSets expanded as Argo CD's controller does (the git
files generator with exclusions, the list generator, Go templates with Sprig, templatePatch),
its default glob, and what is not modelled refused in one line."""

from pathlib import Path

import pytest

from ci import chart
from ci.chart.applicationset import glob_regex
from ci.errors import CiError
from tests.ci.chart.manifests import appset, repo_with


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
