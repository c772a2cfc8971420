"""The write-back and the chart agree on the key: `python -m ci deploy` then a render shows the tag.

Real git: a repository shaped like this one (the chart, the values files, gitops/), a bare remote
over file://, the real `python -m ci deploy` pushing to it, and a fresh clone rendered as Argo CD
would render it after fetching.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

from app import SERVICE_NAME
from ci import chart
from tests.chart.conftest import (
    ENVIRONMENTS,
    REPO_ROOT,
    gitops_values,
    kinds,
    only_deployment_container,
)
from tests.support.cli import run_ci
from tests.support.git_remotes import git

pytestmark = pytest.mark.integration

TRACKED = ["helm-chart", "gitops", *(f"values.{env}.yaml" for env in ENVIRONMENTS)]


def make_remote(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    for name in TRACKED:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, work / name)
        else:
            shutil.copy(source, work / name)
    git("init", "-q", "-b", "main", cwd=work)
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "project", cwd=work)
    remote = tmp_path / "remote.git"
    git("clone", "-q", "--bare", str(work), str(remote), cwd=tmp_path)
    return remote


def deploy(
    remote: Path, env: str, tag: str, pipeline_url: str | None = None
) -> subprocess.CompletedProcess:
    variables = {"CI": "", "GITOPS_REPO": remote.as_uri(), "GITOPS_BRANCH": "main"}
    if pipeline_url:
        # The pipeline that built the tag (its commit), so the write-back credits it.
        variables["CI_PIPELINE_URL"] = pipeline_url
        variables["CI_COMMIT_SHA"] = tag + "0" * 32
    return run_ci("deploy", "--env", env, "--tag", tag, env=variables)


def test_deploy_then_render_shows_the_new_tag(tmp_path: Path):
    remote = make_remote(tmp_path)
    env, tag = ENVIRONMENTS[0], "1a2b3c4d"
    result = deploy(remote, env, tag)
    assert result.returncode == 0, result.stderr

    checkout = tmp_path / "argocd-view"
    git("clone", "-q", "--branch", "main", remote.as_uri(), str(checkout), cwd=tmp_path)
    repository = gitops_values(env)["image"]["repository"]
    docs = chart.render_env(env, checkout)
    assert only_deployment_container(docs)["image"] == f"{repository}:{tag}"
    annotations = kinds(docs)["Deployment"]["metadata"]["annotations"]
    assert annotations[f"{SERVICE_NAME}/source-commit"] == tag
    for other in ENVIRONMENTS[1:]:
        image = gitops_values(other)["image"]
        rendered = only_deployment_container(chart.render_env(other, checkout))["image"]
        assert rendered == f"{image['repository']}:{image['tag']}"


def test_deploy_from_a_pipeline_renders_its_link_and_a_laptop_deploy_drops_it(tmp_path: Path):
    """image.pipelineUrl as the write-back writes it passes values.schema.json and becomes the
    Argo CD pipeline link; a later deploy without a pipeline leaves no link to a foreign build."""
    remote = make_remote(tmp_path)
    env, url = (
        ENVIRONMENTS[0],
        f"https://gitlab.example.com/group/{SERVICE_NAME}/-/pipelines/4711",
    )
    result = deploy(remote, env, "1a2b3c4d", pipeline_url=url)
    assert result.returncode == 0, result.stderr

    checkout = tmp_path / "argocd-view"
    git("clone", "-q", "--branch", "main", remote.as_uri(), str(checkout), cwd=tmp_path)
    annotations = kinds(chart.render_env(env, checkout))["Deployment"]["metadata"]["annotations"]
    assert annotations["link.argocd.argoproj.io/pipeline"] == f"Build pipeline|{url}"
    assert annotations[f"{SERVICE_NAME}/pipeline"] == url

    result = deploy(remote, env, "5e6f7a8b")
    assert result.returncode == 0, result.stderr
    git("pull", "-q", "--ff-only", cwd=checkout)
    annotations = kinds(chart.render_env(env, checkout))["Deployment"]["metadata"]["annotations"]
    assert annotations[f"{SERVICE_NAME}/image-tag"] == "5e6f7a8b"
    assert not [key for key in annotations if "pipeline" in key]
