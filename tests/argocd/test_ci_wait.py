"""``python -m ci wait`` against the stand-in over HTTP: every verdict and its exit code, with the
write-back (``python -m ci deploy``) pushing to a real gitops remote the stand-in follows.

The fast tests pull nothing (the registry port is closed: a rollout is Degraded at once, or held
to stay Progressing); the image-marked ones run the stub image (see conftest), so "deployed" means
a container answered its readiness probe.
"""

import time

import pytest
import yaml

from app import SERVICE_NAME
from harness.network import free_port
from tests.argocd.conftest import DEV, NAME, GitopsRepo, Stack
from tests.support.argocd import ArgoCdStandIn
from tests.support.cli import run_ci
from tests.support.git_remotes import git

EXIT_DEPLOYED, EXIT_FAILED, EXIT_USAGE, EXIT_SUPERSEDED = 0, 1, 2, 3


def deploy(gitops: GitopsRepo, tag: str, env: str = "dev", repository: str | None = None) -> str:
    """``python -m ci deploy`` as the pipeline runs it (no wait); the commit it pushed."""
    args = ["deploy", "--repo", gitops.url, "--env", env, "--tag", tag]
    if repository:
        args += ["--repository", repository]
    result = run_ci(*args)
    assert result.returncode == 0, result.stderr
    return git("rev-parse", "main", cwd=gitops.remote).strip()


def wait(argo: ArgoCdStandIn, gitops: GitopsRepo, *args: str, **env: str):
    settings = {
        "ARGOCD_SERVER": argo.url,
        "ARGOCD_AUTH_TOKEN": argo.token,
        "WAIT_INTERVAL": "0.5",
        "WAIT_TIMEOUT": "90",
        **env,
    }
    started = time.monotonic()
    result = run_ci("wait", "--repo", gitops.url, "--env", "dev", *args, env=settings)
    result.seconds = time.monotonic() - started
    assert argo.token not in result.stdout + result.stderr
    return result


# --- fast: nothing is pulled ---------------------------------------------------------------------


@pytest.mark.integration
def test_degraded_fails_promptly_with_argo_cds_message(argo, gitops):
    deploy(gitops, "1a2b3c4d")
    result = wait(argo, gitops)
    assert result.returncode == EXIT_FAILED, result.stdout + result.stderr
    assert result.seconds < 60  # not at the timeout
    assert "Degraded" in result.stdout + result.stderr
    assert 'failed to pull image "127.0.0.1:' in result.stderr


@pytest.mark.integration
def test_a_failed_sync_operation_fails_with_its_message(argo, gitops):
    project = gitops.work / "gitops" / "argocd" / "project.yaml"
    doc = yaml.safe_load(project.read_text())
    rules = doc["spec"]["namespaceResourceWhitelist"]
    doc["spec"]["namespaceResourceWhitelist"] = [r for r in rules if r["kind"] != "Deployment"]
    project.write_text(yaml.safe_dump(doc, sort_keys=False))
    gitops.commit("project: no Deployments")
    deploy(gitops, "1a2b3c4d")
    result = wait(argo, gitops)
    assert result.returncode == EXIT_FAILED, result.stdout + result.stderr
    assert "one or more synchronization tasks are not valid" in result.stderr
    assert f"resource apps:Deployment is not permitted in project {SERVICE_NAME}" in (result.stderr)


@pytest.mark.integration
def test_a_newer_deploy_supersedes_ours(argo, gitops):
    with argo.controller.rollouts_held():  # the node is slow to pull: ours is not ready yet
        ours = deploy(gitops, "1a2b3c4d")
        newer = deploy(gitops, "5e6f7a8b")
        argo.wait_for(DEV, lambda a: a["status"]["sync"].get("revision") == newer, what="newer")
        result = wait(argo, gitops, "--revision", ours)
    assert result.returncode == EXIT_SUPERSEDED, result.stdout + result.stderr
    assert "superseded" in result.stdout


@pytest.mark.integration
def test_timeout_names_the_last_state(argo, gitops):
    with argo.controller.rollouts_held():
        ours = deploy(gitops, "1a2b3c4d")
        result = wait(argo, gitops, WAIT_TIMEOUT="4")
    assert result.returncode == EXIT_FAILED, result.stdout + result.stderr
    assert 4 <= result.seconds < 40
    assert "Progressing" in result.stderr
    assert ours[:12] in result.stdout + result.stderr


@pytest.mark.integration
@pytest.mark.parametrize(
    ("env", "args"),
    [
        ({"ARGOCD_AUTH_TOKEN": "not-the-token"}, ()),
        ({"ARGOCD_AUTH_TOKEN": ""}, ()),
        ({"ARGOCD_APP": f"{SERVICE_NAME}-staging"}, ()),
        ({"ARGOCD_SERVER": ""}, ()),
        ({}, ("--env", "staging")),
    ],
    ids=["wrong-token", "no-token", "unknown-application", "no-server", "unknown-environment"],
)
def test_bad_input_is_exit_2(argo, gitops, env, args):
    deploy(gitops, "1a2b3c4d")
    result = wait(argo, gitops, *args, **env)
    assert result.returncode == EXIT_USAGE, result.stdout + result.stderr
    assert result.seconds < 30


@pytest.mark.integration
def test_an_unreachable_server_is_retried_until_the_timeout(argo, gitops):
    deploy(gitops, "1a2b3c4d")
    result = wait(argo, gitops, ARGOCD_SERVER=f"http://127.0.0.1:{free_port()}", WAIT_TIMEOUT="3")
    assert result.returncode == EXIT_FAILED, result.stdout + result.stderr
    assert result.seconds >= 3


# --- real containers (the stub image) -------------------------------------------------------------


@pytest.mark.image
def test_deployed_when_the_build_runs_healthy(stub_argo, stub_gitops, stack: Stack):
    ours = deploy(stub_gitops, "v2", repository=f"{stack.registry}/{NAME}")
    result = wait(stub_argo, stub_gitops)
    assert result.returncode == EXIT_DEPLOYED, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith(f"deployed: {SERVICE_NAME}-dev")
    app = stub_argo.application(DEV)
    assert app["status"]["sync"]["revision"] == ours
    assert app["status"]["summary"]["images"] == [f"{stack.registry}/{NAME}:v2"]


@pytest.mark.image
def test_deployed_at_a_later_commit_that_runs_the_same_image(stub_argo, stub_gitops, stack):
    ours = deploy(stub_gitops, "v2", repository=f"{stack.registry}/{NAME}")
    later = deploy(stub_gitops, "v2", env="prod", repository=f"{stack.registry}/{NAME}")
    stub_argo.wait_for(
        DEV,
        lambda a: (
            a["status"]["sync"].get("revision") == later
            and a["status"]["health"]["status"] == "Healthy"
        ),
        timeout=180,
        what="healthy at the later commit",
    )
    result = wait(stub_argo, stub_gitops, "--revision", ours)
    assert result.returncode == EXIT_DEPLOYED, result.stdout + result.stderr


@pytest.mark.image
def test_a_build_that_exits_fails_with_its_output(stub_argo, stub_gitops, stack):
    stub_argo.wait_for(
        DEV, lambda a: a["status"]["health"]["status"] == "Healthy", timeout=180, what="healthy"
    )

    def bad_level(values: dict) -> None:
        values["env"]["APP_LOG_LEVEL"] = "verbose"

    stub_gitops.commit("dev: log level", {"values.dev.yaml": bad_level})
    deploy(stub_gitops, "v2", repository=f"{stack.registry}/{NAME}")
    result = wait(stub_argo, stub_gitops)
    assert result.returncode == EXIT_FAILED, result.stdout + result.stderr
    assert f"container {SERVICE_NAME} exited with code 1" in result.stderr
    assert "invalid setting APP_LOG_LEVEL='verbose'" in result.stderr
