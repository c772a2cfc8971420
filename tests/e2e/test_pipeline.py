"""The whole GitLab pipeline, run on this machine by gitlab-ci-local against real servers.

A snapshot of this checkout becomes a repository whose ``origin`` is a bare git remote (the
GitOps repository too); a real OCI registry (htpasswd, with the credentials moto's ECR hands out)
and a moto server (the AWS API) listen on free loopback ports. The default-branch pipeline runs
every automatic job; then a feature-branch pipeline shows ``deploy-dev`` as a manual job and runs
it (with the build it needs). The jobs reuse this checkout's ``.venv`` (symlinked) instead of
installing it again, and the Dockerfile builds on a locally made Debian base image (no registry
can be pulled from here).
"""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import pytest
import yaml

from app import SERVICE_NAME
from ci import chart
from harness.image import host_build_volumes, images_removed_afterwards, local_base_image
from tests.e2e import gitlab_ci_local
from tests.e2e.gitlab_ci_local import PipelineRun
from tests.support.moto import running_moto
from tests.support.registry import running_registry
from tests.support.server import running_server
from tests.support.tools import require_tools

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2700)]

ROOT = Path(__file__).resolve().parents[2]
NAME = SERVICE_NAME
DEFAULT_BRANCH = "main"
FEATURE_BRANCH = "feature/e2e"
AUTOMATIC_JOBS = {
    *("lint", "chart-lint", "ci-config"),
    *("unit", "integration"),
    *("build", "deploy-dev", "verify-dev"),
}
PIPELINE_TIMEOUT = 1800.0
GIT_ID = {
    "GIT_AUTHOR_NAME": "e2e",
    "GIT_AUTHOR_EMAIL": "e2e@example.invalid",
    "GIT_COMMITTER_NAME": "e2e",
    "GIT_COMMITTER_EMAIL": "e2e@example.invalid",
}


def git(*args: str, cwd: Path) -> str:
    env = {**os.environ, **GIT_ID}
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def snapshot_checkout(dest: Path) -> None:
    """The tracked files of this checkout, as they are in the working tree, in a new repository.

    The jobs share this checkout's virtualenv and npm tools: the copy's ``.venv`` and
    ``node_modules`` are symlinks (``make install`` in a job is then a no-op).
    """
    dest.mkdir()
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    for rel in filter(None, listed.decode().split("\0")):
        src = ROOT / rel
        if not (src.is_file() or src.is_symlink()):
            continue  # deleted in the working tree
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            target.symlink_to(os.readlink(src))
        else:
            target.write_bytes(src.read_bytes())
            os.utime(target, ns=(src.stat().st_atime_ns, src.stat().st_mtime_ns))
            target.chmod(src.stat().st_mode)
    git("init", "--quiet", "--initial-branch", DEFAULT_BRANCH, cwd=dest)
    git("add", "--all", cwd=dest)
    git("commit", "--quiet", "--message", "e2e: snapshot of the checkout", cwd=dest)
    (dest / ".venv").symlink_to(Path(sys.prefix))
    (dest / "node_modules").symlink_to(ROOT / "node_modules")


@dataclass
class E2E:
    registry_host: str
    registry_creds: str
    remote: Path
    home: Path
    workdir: Path
    main_sha: str
    main_list: dict[str, dict]
    main_run: PipelineRun
    main_gitops_commit: str
    feature_sha: str
    feature_list: dict[str, dict]
    feature_run: PipelineRun
    feature_gitops_commit: str
    stage_of: dict[str, str]


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2E]:
    require_tools("buildah", "skopeo", "docker-registry", "htpasswd", "rsync", "git", "debootstrap")
    if not gitlab_ci_local.GITLAB_CI_LOCAL.exists():
        require_tools("gitlab-ci-local")  # skips on a laptop, fails in CI: run `make tools`
    tmp = tmp_path_factory.mktemp("e2e")
    base_image = local_base_image()
    work, remote, home = tmp / "work", tmp / "remote.git", tmp / "home"
    home.mkdir()
    snapshot_checkout(work)
    git("clone", "--quiet", "--bare", str(work), str(remote), cwd=tmp)
    git("remote", "add", "origin", f"file://{remote}", cwd=work)
    git("fetch", "--quiet", "origin", cwd=work)
    git("remote", "set-head", "origin", DEFAULT_BRANCH, cwd=work)
    # The pushed change this pipeline runs for: a code change (rules:changes compare with
    # origin/main here, with the push's before-SHA on GitLab); gitops-only ones build nothing.
    readme = work / "README.md"
    readme.write_text(readme.read_text() + "\nThe change the default-branch pipeline ships.\n")
    git("commit", "--quiet", "--all", "--message", "docs: the change under test", cwd=work)
    log = tmp / "pipeline.log"
    print(f"\ne2e: pipeline output in {log}")

    main_sha = git("rev-parse", "--short=8", "HEAD", cwd=work)
    # Stands in for dev after Argo CD synced: verify-dev polls it for the pipeline's tag.
    dev_env = {"APP_VERSION": main_sha, "APP_SHUTDOWN_DELAY_SECONDS": "0"}

    # Every image the pipelines build is removed afterwards (vfs copies a rootfs per layer).
    with (
        images_removed_afterwards(),
        running_moto(tmp) as moto,
        running_server(env=dev_env) as dev,
    ):
        username, password = moto.ecr_credentials()
        with running_registry(tmp / "registry", username, password) as registry:
            variables = {
                **moto.env,
                "ECR_REPOSITORY_URL": registry.host,
                "REGISTRY_INSECURE": "true",
                # deploy --verify-image: ECR login for *.dkr.ecr.* hosts, these otherwise.
                "REGISTRY_USER": username,
                "REGISTRY_PASSWORD": password,
                "GITOPS_REPO": f"file://{remote}",
                "BASE_IMAGE": base_image,
                "BUILD_VOLUMES": " ".join(host_build_volumes()),
                "DEV_URL": f"http://127.0.0.1:{dev.port}",
                "VERIFY_INTERVAL": "1",
                "VERIFY_TIMEOUT": "60",
            }
            shell = ["--force-shell-executor"]
            main_list = gitlab_ci_local.list_jobs(work, home, variables)
            main_run = gitlab_ci_local.run(
                work, shell, variables, home, log, timeout=PIPELINE_TIMEOUT
            )
            main_gitops = git("rev-parse", DEFAULT_BRANCH, cwd=remote)

            git("checkout", "--quiet", "-b", FEATURE_BRANCH, cwd=work)
            readme = work / "README.md"
            readme.write_text(readme.read_text() + "\nA change on a feature branch.\n")
            git("commit", "--quiet", "--all", "--message", "docs: feature change", cwd=work)
            feature_sha = git("rev-parse", "--short=8", "HEAD", cwd=work)
            feature_list = gitlab_ci_local.list_jobs(work, home, variables)
            feature_run = gitlab_ci_local.run(
                work,
                [*shell, "--manual", "deploy-dev", "build", "deploy-dev"],
                variables,
                home,
                log,
                timeout=PIPELINE_TIMEOUT,
            )
            feature_gitops = git("rev-parse", DEFAULT_BRANCH, cwd=remote)
            yield E2E(
                registry_host=registry.host,
                registry_creds=f"{username}:{password}",
                remote=remote,
                home=home,
                workdir=work,
                main_sha=main_sha,
                main_list=main_list,
                main_run=main_run,
                main_gitops_commit=main_gitops,
                feature_sha=feature_sha,
                feature_list=feature_list,
                feature_run=feature_run,
                feature_gitops_commit=feature_gitops,
                stage_of={name: job["stage"] for name, job in main_list.items()},
            )


def gitops_values(remote: Path, commit: str, env: str) -> dict:
    return yaml.safe_load(git("show", f"{commit}:gitops/{env}/values.yaml", cwd=remote))


def rendered_images(remote: Path, commit: str, env: str, dest: Path) -> list[str]:
    """The container images of the Deployment Argo CD would apply at that commit of the remote."""
    git("clone", "--quiet", str(remote), str(dest), cwd=remote)
    git("checkout", "--quiet", commit, cwd=dest)
    deployments = [
        doc for doc in chart.render_env(env, repo_root=dest) if doc["kind"] == "Deployment"
    ]
    assert len(deployments) == 1
    return [c["image"] for c in deployments[0]["spec"]["template"]["spec"]["containers"]]


def test_default_branch_lists_deploy_automatic_and_the_rest_manual(e2e: E2E) -> None:
    when = {name: job["when"] for name, job in e2e.main_list.items()}
    assert when == {
        **dict.fromkeys(AUTOMATIC_JOBS, "on_success"),
        **dict.fromkeys(
            ["promote-prod", "rollback-dev", "rollback-prod", "unhold-dev", "unhold-prod"],
            "manual",
        ),
    }


def test_default_branch_pipeline_passes_every_job(e2e: E2E) -> None:
    run = e2e.main_run
    assert run.returncode == 0, run.tail()
    assert run.jobs_with("PASS") == AUTOMATIC_JOBS, run.tail()
    assert run.jobs_with("FAIL") == set()


def test_reports_for_merge_requests(e2e: E2E) -> None:
    """The files the artifacts:reports of lint and unit point at: code quality, JUnit, Cobertura."""
    quality = json.loads((e2e.workdir / "gl-code-quality-report.json").read_text())
    assert quality == []  # the lint job passed: no findings
    junit = ElementTree.parse(e2e.workdir / "junit.xml").getroot()
    suite = junit if junit.tag == "testsuite" else junit.find("testsuite")
    assert int(suite.get("tests")) > 0
    assert (suite.get("failures"), suite.get("errors")) == ("0", "0")
    coverage = ElementTree.parse(e2e.workdir / "coverage.xml").getroot()
    assert coverage.tag == "coverage"
    assert 0 < float(coverage.get("line-rate")) <= 1


def skopeo_inspect(e2e: E2E, tag: str, *flags: str) -> dict:
    reference = f"docker://{e2e.registry_host}/{NAME}:{tag}"
    skopeo = ["skopeo", "inspect", *flags, "--tls-verify=false", "--creds", e2e.registry_creds]
    inspected = subprocess.run(
        [*skopeo, reference],
        capture_output=True,
        text=True,
        check=False,
    )
    assert inspected.returncode == 0, inspected.stderr
    return json.loads(inspected.stdout)


def image_config(e2e: E2E, tag: str) -> dict:
    """The OCI config of NAME:tag in the registry (``skopeo inspect --config``)."""
    return skopeo_inspect(e2e, tag, "--config")["config"]


def pinned(e2e: E2E, tag: str) -> str:
    """NAME:tag@digest as the registry holds it: what the chart must render."""
    return f"{e2e.registry_host}/{NAME}:{tag}@{skopeo_inspect(e2e, tag)['Digest']}"


@pytest.mark.parametrize("branch", ["main", "feature"])
def test_registry_holds_each_commit_tag_reporting_its_version(e2e: E2E, branch: str) -> None:
    """The image says its own tag: in /-/health (APP_VERSION) and the OCI labels.

    The feature commit changes only README.md, so its build is all cache hits: a cache that
    ignored the version would hand it the default branch's image.
    """
    tag = e2e.main_sha if branch == "main" else e2e.feature_sha
    config = image_config(e2e, tag)
    assert f"APP_VERSION={tag}" in config["Env"]
    assert config["Labels"]["org.opencontainers.image.version"] == tag


def test_gitops_dev_names_the_tag_in_a_skip_ci_commit(e2e: E2E) -> None:
    values = gitops_values(e2e.remote, e2e.main_gitops_commit, "dev")
    # The pipeline's CI_PIPELINE_URL travels with the tag (the Argo CD "Build pipeline" link).
    pipeline_url = values["image"].pop("pipelineUrl")
    assert pipeline_url.startswith("https://")
    assert "/pipelines/" in pipeline_url
    # The build's digest travels from its dotenv into the values file: the exact build is pinned.
    assert values["image"] == {
        "repository": f"{e2e.registry_host}/{NAME}",
        "tag": e2e.main_sha,
        "digest": pinned(e2e, e2e.main_sha).rsplit("@", 1)[1],
    }
    message = git("log", "-1", "--format=%an%n%B", e2e.main_gitops_commit, cwd=e2e.remote)
    author, subject = message.splitlines()[:2]
    assert author == "gitops-bot"
    assert subject == f"deploy(dev): {NAME} {e2e.main_sha} [skip ci]"
    changed = git("show", "--name-only", "--format=", e2e.main_gitops_commit, cwd=e2e.remote)
    assert changed.splitlines() == ["gitops/dev/values.yaml"]


def test_argo_cd_renders_dev_with_the_new_image(e2e: E2E, tmp_path: Path) -> None:
    images = rendered_images(e2e.remote, e2e.main_gitops_commit, "dev", tmp_path / "checkout")
    assert images == [pinned(e2e, e2e.main_sha)]


def test_prod_is_untouched_until_promoted(e2e: E2E) -> None:
    assert gitops_values(e2e.remote, e2e.main_gitops_commit, "prod")["image"]["tag"] == (
        "0.0.0-bootstrap"
    )


def test_feature_branch_lists_deploy_dev_as_manual(e2e: E2E) -> None:
    jobs = e2e.feature_list
    assert jobs["deploy-dev"]["when"] == "manual"
    assert {name for name, job in jobs.items() if job["when"] == "on_success"} == (
        AUTOMATIC_JOBS - {"deploy-dev"}
    )
    assert "promote-prod" not in jobs


def test_feature_branch_manual_deploy_lands_its_tag_in_dev(e2e: E2E, tmp_path: Path) -> None:
    run = e2e.feature_run
    assert run.returncode == 0, run.tail()
    assert run.jobs_with("PASS") == {"build", "deploy-dev"}, run.tail()
    assert "verify-dev" not in run.started
    values = gitops_values(e2e.remote, e2e.feature_gitops_commit, "dev")
    assert values["image"]["tag"] == e2e.feature_sha != e2e.main_sha
    subject = git("log", "-1", "--format=%s", e2e.feature_gitops_commit, cwd=e2e.remote)
    assert subject.startswith(f"deploy(dev): {NAME} {e2e.feature_sha}")
    assert subject.endswith("[skip ci]")
    images = rendered_images(e2e.remote, e2e.feature_gitops_commit, "dev", tmp_path / "co")
    assert images == [pinned(e2e, e2e.feature_sha)]


def test_report_wall_times(e2e: E2E, capsys: pytest.CaptureFixture[str]) -> None:
    """Not an assertion of speed (shared, noisy machines): the figures, printed for the log."""
    lines = ["", "e2e wall times (gitlab-ci-local, shell executor):"]
    for label, run in (("default branch", e2e.main_run), ("feature branch", e2e.feature_run)):
        lines.append(f"  {label} pipeline: {run.wall:.1f}s")
        for stage, seconds in run.stage_windows(e2e.stage_of).items():
            lines.append(f"    stage {stage:<7} {seconds:7.1f}s")
        for job in run.started:
            if job in run.finished:
                lines.append(f"      job {job:<12} {run.job_seconds(job):7.1f}s")
    with capsys.disabled():
        print("\n".join(lines))
    assert e2e.main_run.wall > 0
