"""The whole GitLab pipeline, run on this machine by gitlab-ci-local against real servers.

A snapshot of this checkout becomes a repository whose ``origin`` is a bare git remote (the
GitOps repository too); a real OCI registry (htpasswd, with the credentials moto's ECR hands out)
and a moto server (the AWS API) listen on free loopback ports, and the Argo CD stand-in
(``tests/support/argocd``) follows the remote's main branch: it renders dev as Argo CD would,
pulls the pinned image from the registry, runs it with buildah and serves it on DEV_URL, and
answers the deploy jobs' ``ci wait`` (ARGOCD_SERVER, ARGOCD_AUTH_TOKEN). Its cluster has the
Prometheus Operator's API, so the chart's ServiceMonitor selects dev's pods, and a real
Prometheus scrapes them through the stand-in's service discovery: verify-dev judges each build
by its SLO (PROMETHEUS_URL; the copy's ``gitops/promotion.yaml`` gives dev a rule of seconds with
synthetic traffic, where a team's is minutes) and records the verdict. Nothing serves dev until
a deploy puts a build there. Scenarios, in order: the default-branch pipeline (every automatic
job); a feature branch's manual deploy-dev; rollback-dev; a merged change that renders but cannot
start (deploy-dev fails with Argo CD's Degraded message, the previous build keeps serving); two
branches' deploys racing to dev (the older superseded, a warning; the newer green). The jobs
reuse this checkout's ``.venv`` (symlinked), the Dockerfile builds on a locally made Debian base
image (no registry can be pulled from here), and later pipelines reuse the builds of earlier ones
where their tag is already in the registry (``ci build`` skips those).

The test jobs run their real commands (``make unit``, ``make integration``) on a narrow selection
(``TEST_JOBS_SELECTION``, through pytest's own ``PYTEST_ADDOPTS``): the tiers themselves run in
full beside this test in ``make test``, so running them again inside the pipeline would prove the
wiring no better and double ``make test``. ``E2E_FULL_TEST_JOBS=1`` runs them in full, as the
pipeline's critical path is measured (docs/benchmarks.md).
"""

import base64
import itertools
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import pytest
import yaml

from app import SERVICE_NAME
from ci import chart
from ci.gitops.verdicts import Outcome, Verdict, parse_verdicts
from harness.image import host_build_volumes, images_removed_afterwards, local_base_image
from tests.e2e import gitlab_ci_local
from tests.e2e.gitlab_ci_local import PipelineRun
from tests.e2e.job_storage import JobStorage, registry_base_image
from tests.support.argocd import ArgoCdStandIn, running_argocd
from tests.support.git_remotes import show
from tests.support.moto import running_moto
from tests.support.prometheus import running_prometheus
from tests.support.registry import running_registry
from tests.support.tools import require_tools

pytestmark = [pytest.mark.e2e, pytest.mark.long, pytest.mark.timeout(2700)]

ROOT = Path(__file__).resolve().parents[2]
NAME = SERVICE_NAME
DEFAULT_BRANCH = "main"
FEATURE_BRANCH = "feature/e2e"
AUTOMATIC_JOBS = {
    *("lint", "chart-lint", "ci-config"),
    *("unit", "integration"),
    *("build", "sign", "sbom", "deploy-dev", "verify-dev"),
}
# The next pipeline's jobs: dev's critical path, and sbom (which runs beside deploy-dev).
NEXT_PIPELINE_JOBS = ("build", "sign", "sbom", "deploy-dev", "verify-dev")
PIPELINE_TIMEOUT = 1800.0
OPERATOR = "monitoring.coreos.com/v1"  # the cluster's Prometheus Operator: a ServiceMonitor
# dev's verify rule in the copy: seconds where a team's are minutes; traffic, as dev has none.
VERIFY_WINDOW = 5
DEV_RULE = {
    "window": f"{VERIFY_WINDOW}s",
    "max_error_ratio": 0.05,
    "max_latency_p95": 1.0,
    "min_requests": 20,
    "traffic": {"paths": ["/api/echo?text=verify"], "rate": 10},
}
DEV_APP = f"{SERVICE_NAME}-dev"
WAIT_TIMEOUT = 300
# One unit-tier file and the one integration test of tests/test_tiers.py: each test job runs,
# writes its reports and passes or fails as in full. Only those files are collected, in one
# process (the Makefile's worker counts, as variables), with no coverage floor on so few tests.
TEST_JOBS_SELECTION = {
    "PYTEST_ADDOPTS": "--cov-fail-under=0 tests/app/test_api.py tests/test_tiers.py",
    "UNIT_WORKERS": "0",
    "INTEGRATION_WORKERS": "0",
}
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


def narrowed_test_jobs() -> dict[str, str]:
    """The variables that narrow the pipeline's test jobs, unless E2E_FULL_TEST_JOBS=1."""
    if os.environ.get("E2E_FULL_TEST_JOBS") == "1":
        return {}
    return TEST_JOBS_SELECTION


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
class Scenario:
    """What one scenario left behind: its pipeline runs, wall time, and the stand-in's state."""

    runs: dict[str, PipelineRun]
    wall: float
    gitops_commit: str
    application: dict
    tree: dict
    served: dict | None  # DEV_URL's /-/health afterwards (None: nothing answers)

    def deployment_health(self) -> dict:
        return next(n["health"] for n in self.tree["nodes"] if n["kind"] == "Deployment")


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
    served_before: dict | None
    scenarios: dict[str, Scenario]
    broken_sha: str
    next_sha: str  # the next pipeline's: a change of app code only
    next_run: PipelineRun


def served(url: str) -> dict | None:
    """GET url/-/health: the JSON, or None when nothing answers 200."""
    try:
        with urllib.request.urlopen(url + "/-/health", timeout=5) as response:
            return json.load(response)
    except (urllib.error.URLError, OSError, ValueError):
        return None


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"e2e: not {what} after {timeout:.0f}s")
        time.sleep(0.5)


def dev_tag_is(remote: Path, tag: str) -> bool:
    return gitops_values(remote, DEFAULT_BRANCH, "dev")["image"]["tag"] == tag


class Stage:
    """Runs pipelines against the stand-in and records each scenario. A measured pipeline's jobs
    get an empty buildah storage, as a runner's new job container has (``JobStorage``), and pull
    the base image from the registry; the others share the test process's storage
    (``tests/conftest.py``) and its base."""

    def __init__(
        self,
        argo: ArgoCdStandIn,
        remote: Path,
        variables: dict,
        log: Path,
        storage: tuple[JobStorage, str],  # and the base image pinned in the registry
    ) -> None:
        self.argo, self.remote, self.variables, self.log = argo, remote, variables, log
        (self.storage, self.registry_base), self.measured = storage, itertools.count(1)
        self.dev_url = variables["DEV_URL"]

    def run(self, cwd: Path, home: Path, args: list[str], log: Path | None = None) -> PipelineRun:
        return gitlab_ci_local.run(
            cwd,
            ["--force-shell-executor", *args],
            self.variables,
            home,
            log or self.log,
            timeout=PIPELINE_TIMEOUT,
        )

    def measure(self, cwd: Path, home: Path, args: list[str]) -> PipelineRun:
        """A pipeline whose job times are the figures: its storage empty, no removal of an
        earlier one still writing to the disk meanwhile."""
        fresh = self.storage.fresh(f"measured-{next(self.measured)}")
        try:
            return gitlab_ci_local.run(
                cwd,
                ["--force-shell-executor", *args],
                {**self.variables, **fresh, "BASE_IMAGE": self.registry_base},
                home,
                self.log,
                timeout=PIPELINE_TIMEOUT,
            )
        finally:
            self.storage.discard(fresh)

    def observe(self, runs: dict[str, PipelineRun], started: float) -> Scenario:
        wall = time.monotonic() - started
        tip = git("rev-parse", DEFAULT_BRANCH, cwd=self.remote)
        # verify-dev's record is the pipeline's last push: Argo CD takes it a poll later.
        wait_until(lambda: self.seen(tip), 60, "Argo CD at the branch's tip")
        return Scenario(
            runs=runs,
            wall=wall,
            gitops_commit=tip,
            application=self.argo.application(DEV_APP),
            tree=self.argo.resource_tree(DEV_APP),
            served=served(self.dev_url),
        )

    def seen(self, commit: str) -> bool:
        return self.argo.application(DEV_APP)["status"]["sync"].get("revision") == commit


def compare_changes_with(clone: Path, before: str | None) -> None:
    """Make ``rules:changes`` compare with what GitLab compares a push pipeline with: the commit
    before the push (``None``: a new branch, or a pipeline run by hand, where every file counts
    as changed). gitlab-ci-local diffs the checkout against origin/<default branch>, so that ref
    is set in the runner's clone (the next fetch or push resets it)."""
    if before is None:
        empty_tree = git("hash-object", "-w", "-t", "tree", "/dev/null", cwd=clone)
        before = git("commit-tree", empty_tree, "-m", "before the first push", cwd=clone)
    git("update-ref", f"refs/remotes/origin/{DEFAULT_BRANCH}", before, cwd=clone)


def push_change(work: Path, edits: dict[str, str], message: str) -> tuple[str, str]:
    """A person's change merged into the default branch, on top of the deploys' commits; pushed.
    Returns (its short SHA, the commit the push moved the branch from)."""
    git("fetch", "--quiet", "origin", DEFAULT_BRANCH, cwd=work)
    # The branch as the remote has it (the deploys' commits on top); the jobs' leftovers go.
    git("checkout", "--quiet", "--force", "-B", DEFAULT_BRANCH, "FETCH_HEAD", cwd=work)
    before = git("rev-parse", "HEAD", cwd=work)
    for path, text in edits.items():
        (work / path).write_text(text)
    git("commit", "--quiet", "--all", "--message", message, cwd=work)
    git("push", "--quiet", "origin", DEFAULT_BRANCH, cwd=work)
    return git("rev-parse", "--short=8", "HEAD", cwd=work), before


def second_checkout(remote: Path, dest: Path, branch: str, commit: str) -> Path:
    """Another clone (a second runner) on ``branch`` at ``commit``, sharing the tools."""
    git("clone", "--quiet", str(remote), str(dest), cwd=remote.parent)
    git("checkout", "--quiet", "-b", branch, commit, cwd=dest)
    git("remote", "set-head", "origin", DEFAULT_BRANCH, cwd=dest)
    (dest / ".venv").symlink_to(Path(sys.prefix))
    (dest / "node_modules").symlink_to(ROOT / "node_modules")
    return dest


def signing_key(work: Path, tmp: Path) -> dict[str, str]:
    """A cosign key pair for this run: its public half committed as ``gitops/cosign.pub`` (so
    every deploy verifies), the sign job's variables (the key as a file variable's path)."""
    cosign = require_tools("cosign")["cosign"]
    keys = tmp / "cosign"
    keys.mkdir()
    password = "e2e-Cosign-Pass-7"
    env = {"COSIGN_PASSWORD": password, "PATH": "/usr/bin:/bin", "HOME": str(keys)}
    subprocess.run([cosign, "generate-key-pair"], cwd=keys, env=env, check=True, timeout=60)
    (work / "gitops" / "cosign.pub").write_text((keys / "cosign.pub").read_text())
    git("add", "gitops/cosign.pub", cwd=work)
    return {
        "SIGNING": "true",
        "COSIGN_PRIVATE_KEY": str(keys / "cosign.key"),
        "COSIGN_PASSWORD": password,
        # cosign and syft as `make tools` built them here (the copy has no .tools/).
        "TOOLS_DIR": str(Path(cosign).parent.parent),
    }


def with_dev_rule(work: Path) -> None:
    """The copy's policy gives dev ``DEV_RULE``: verify-dev judges every build there."""
    path = work / "gitops" / "promotion.yaml"
    policy = yaml.safe_load(path.read_text())
    policy["verify"] = {"dev": DEV_RULE}
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    git("add", "gitops/promotion.yaml", cwd=work)


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2E]:
    require_tools("buildah", "skopeo", "docker-registry", "htpasswd", "rsync", "git", "debootstrap")
    if not gitlab_ci_local.GITLAB_CI_LOCAL.exists():
        require_tools("gitlab-ci-local")  # skips on a laptop, fails in CI: run `make tools`
    tmp = tmp_path_factory.mktemp("e2e")
    local_base = local_base_image()
    work, remote, home = tmp / "work", tmp / "remote.git", tmp / "home"
    home.mkdir()
    snapshot_checkout(work)
    git("clone", "--quiet", "--bare", str(work), str(remote), cwd=tmp)
    git("remote", "add", "origin", f"file://{remote}", cwd=work)
    git("fetch", "--quiet", "origin", cwd=work)
    git("remote", "set-head", "origin", DEFAULT_BRANCH, cwd=work)
    signing = signing_key(work, tmp)  # gitops/cosign.pub, committed with the change below
    with_dev_rule(work)  # gitops/promotion.yaml, committed with it too
    # The pushed change this pipeline runs for: a code change (rules:changes compare with
    # origin/main here, with the push's before-SHA on GitLab); gitops-only ones build nothing.
    readme = work / "README.md"
    readme.write_text(readme.read_text() + "\nThe change the default-branch pipeline ships.\n")
    git("commit", "--quiet", "--all", "--message", "docs: the change under test", cwd=work)
    git("push", "--quiet", "origin", DEFAULT_BRANCH, cwd=work)  # merged: the remote has it
    log = tmp / "pipeline.log"
    print(f"\ne2e: pipeline output in {log}")
    main_sha = git("rev-parse", "--short=8", "HEAD", cwd=work)
    main_full_sha = git("rev-parse", "HEAD", cwd=work)

    # Every image the pipelines build is removed afterwards (vfs copies a rootfs per layer).
    with (
        images_removed_afterwards(),
        JobStorage(tmp / "job-storage").removed_afterwards() as storage,
        running_moto(tmp) as moto,
    ):
        username, password = moto.ecr_credentials()
        with (
            running_registry(tmp / "registry", username, password) as registry,
            # Argo CD + one node: follows the remote's main, pulls from the registry, serves
            # dev on a fixed loopback port (DEV_URL) once a build runs there healthy.
            running_argocd(
                f"file://{remote}",
                tmp / "argocd",
                registry_creds={registry.host: f"{username}:{password}"},
                insecure_registries=[registry.host],
                interval=1.0,
                apps=[DEV_APP],
                api_versions=[OPERATOR],
            ) as argo,
            running_prometheus(
                tmp / "prometheus",
                [],
                scrape={
                    "job_name": NAME,
                    "http_sd_configs": [{"url": argo.discovery_url, "refresh_interval": "1s"}],
                },
            ) as prometheus,
        ):
            variables = {
                **moto.env,
                "ECR_REPOSITORY_URL": registry.host,
                "REGISTRY_INSECURE": "true",
                # deploy --verify-image: ECR login for *.dkr.ecr.* hosts, these otherwise.
                "REGISTRY_USER": username,
                "REGISTRY_PASSWORD": password,
                "GITOPS_REPO": f"file://{remote}",
                "BASE_IMAGE": local_base,
                "BUILD_VOLUMES": " ".join(host_build_volumes()),
                "DEV_URL": argo.service_url(DEV_APP),
                "ARGOCD_SERVER": argo.url,
                "ARGOCD_AUTH_TOKEN": argo.token,
                "WAIT_TIMEOUT": str(WAIT_TIMEOUT),
                "WAIT_INTERVAL": "1",
                "PROMETHEUS_URL": prometheus.url,
                "VERIFY_PROGRESS_INTERVAL": "2",
                **narrowed_test_jobs(),
            }
            variables.update(signing)
            # Measured builds pull the base from the registry, pinned (a runner has no images).
            registry_base = registry_base_image(
                local_base, registry.host, f"{username}:{password}", tmp
            )
            stage = Stage(argo, remote, variables, log, (storage, registry_base))
            served_before = served(stage.dev_url)  # the bootstrap image cannot be pulled
            scenarios: dict[str, Scenario] = {}

            # 1. The default branch: every automatic job, deploy-dev waits for Argo CD.
            compare_changes_with(work, None)  # the first push of the default branch
            main_list = gitlab_ci_local.list_jobs(work, home, variables)
            started = time.monotonic()
            main_run = stage.measure(work, home, [])
            scenarios["default branch"] = stage.observe({"main": main_run}, started)
            main_gitops = scenarios["default branch"].gitops_commit

            # A feature branch's manual deploy-dev puts its build in dev.
            git("checkout", "--quiet", "-b", FEATURE_BRANCH, cwd=work)
            readme = work / "README.md"
            readme.write_text(readme.read_text() + "\nA change on a feature branch.\n")
            git("commit", "--quiet", "--all", "--message", "docs: feature change", cwd=work)
            feature_sha = git("rev-parse", "--short=8", "HEAD", cwd=work)
            compare_changes_with(work, None)  # a new branch
            feature_list = gitlab_ci_local.list_jobs(work, home, variables)
            started = time.monotonic()
            feature_run = stage.run(
                work, home, ["--manual", "deploy-dev", "build", "sign", "deploy-dev"]
            )
            scenarios["feature branch"] = stage.observe({"feature": feature_run}, started)
            feature_gitops = scenarios["feature branch"].gitops_commit

            # 3. rollback-dev on the default branch: the build before the feature's runs again.
            git("checkout", "--quiet", DEFAULT_BRANCH, cwd=work)
            started = time.monotonic()
            rollback = stage.run(work, home, ["--manual", "rollback-dev", "rollback-dev"])
            scenarios["rollback-dev"] = stage.observe({"rollback": rollback}, started)
            # The rollback holds dev; the operator releases it (the unhold-dev button) before
            # the next change ships.
            started = time.monotonic()
            unhold = stage.run(work, home, ["--manual", "unhold-dev", "unhold-dev"])
            released = git("rev-parse", DEFAULT_BRANCH, cwd=remote)
            argo.wait_for(
                DEV_APP,
                lambda app: app["status"]["sync"].get("revision") == released,
                timeout=WAIT_TIMEOUT,
                what="synced to the released hold",
            )
            scenarios["unhold-dev"] = stage.observe({"unhold": unhold}, started)

            # 2. A change that renders but cannot start (an invalid APP_* setting, with a code
            # change, so the pipeline builds and deploys), merged; Argo CD reports Degraded;
            # the previous build keeps serving.
            started = time.monotonic()
            dev_values = (work / "values.dev.yaml").read_text()
            broken_values = dev_values.replace(
                "  APP_ACCESS_LOG:", '  APP_LOG_LEVEL: "verbose"\n  APP_ACCESS_LOG:'
            )
            assert broken_values != dev_values
            notes = (work / "README.md").read_text()
            broken_sha, before = push_change(
                work,
                {"values.dev.yaml": broken_values, "README.md": notes + "\nMore logs in dev.\n"},
                "dev: more logs (an invalid level)",
            )
            compare_changes_with(work, before)
            broken = stage.run(work, home, ["build", "sign", "deploy-dev"])
            scenarios["cannot start"] = stage.observe({"broken": broken}, started)
            # The fix is merged: Argo CD runs the broken commit's build with valid settings.
            push_change(work, {"values.dev.yaml": dev_values}, "dev: a valid log level")
            head = git("rev-parse", DEFAULT_BRANCH, cwd=remote)
            argo.wait_for(
                DEV_APP,
                lambda app: (
                    app["status"]["sync"].get("revision") == head
                    and app["status"]["health"]["status"] == "Healthy"
                ),
                timeout=WAIT_TIMEOUT,
                what="healthy after the fix",
            )

            # 4. Two pipelines race to dev: the feature branch's deploy pushes first, another
            # branch's right after, while the node is still pulling (rollouts held until both
            # commits are in). The older ends superseded (a warning), the newer green.
            race = second_checkout(remote, tmp / "race", "feature/race", main_full_sha)
            race_home = tmp / "race-home"
            race_home.mkdir()
            manual_deploy = ["--manual", "deploy-dev", "build", "sign", "deploy-dev"]
            runs: dict[str, PipelineRun] = {}

            def pipeline(label: str, cwd: Path, home_dir: Path) -> None:
                runs[label] = stage.run(cwd, home_dir, manual_deploy, tmp / f"{label}.log")

            git("checkout", "--quiet", FEATURE_BRANCH, cwd=work)
            compare_changes_with(work, None)  # run again by hand
            compare_changes_with(race, None)  # a new branch
            started = time.monotonic()
            with argo.controller.rollouts_held():
                older = threading.Thread(target=pipeline, args=("older", work, home))
                older.start()
                wait_until(
                    lambda: (
                        dev_tag_is(remote, feature_sha)
                        and stage.seen(git("rev-parse", DEFAULT_BRANCH, cwd=remote))
                    ),
                    PIPELINE_TIMEOUT,
                    "the older deploy's commit in Argo CD",
                )
                newer = threading.Thread(target=pipeline, args=("newer", race, race_home))
                newer.start()
                wait_until(
                    lambda: (
                        dev_tag_is(remote, main_sha)
                        and stage.seen(git("rev-parse", DEFAULT_BRANCH, cwd=remote))
                    ),
                    PIPELINE_TIMEOUT,
                    "the newer deploy's commit in Argo CD",
                )
            older.join(timeout=PIPELINE_TIMEOUT)
            newer.join(timeout=PIPELINE_TIMEOUT)
            scenarios["race"] = stage.observe(runs, started)

            # 5. The team's next pipeline: a change of app code only, merged after the pipelines
            # above (the registry and dev as they left them, an empty storage for the build as
            # ever). Cheap: the jobs on dev's path, and sbom beside deploy-dev, as separate
            # runners run them (no test job on these cores); the first pipeline ran them all.
            code = (work / "app" / "__init__.py").read_text()
            next_sha, before = push_change(
                work,
                {"app/__init__.py": code + "# e2e: a change of app code only\n"},
                "app: a code change (the next pipeline)",
            )
            compare_changes_with(work, before)
            started = time.monotonic()
            next_run = stage.measure(work, home, [*NEXT_PIPELINE_JOBS])
            scenarios["next pipeline"] = stage.observe({"next": next_run}, started)

            assert argo.controller.errors == []
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
                served_before=served_before,
                scenarios=scenarios,
                broken_sha=broken_sha,
                next_sha=next_sha,
                next_run=next_run,
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


def cosign(e2e: E2E, tmp_path: Path, *args: str, tag: str | None = None) -> list[dict]:
    """The real cosign against the pushed image (the default branch's build unless ``tag``),
    with the repository's public key: what an admission controller runs. Its JSON lines."""
    key = tmp_path / "cosign.pub"
    key.write_text(git("show", f"{DEFAULT_BRANCH}:gitops/cosign.pub", cwd=e2e.remote) + "\n")
    user, _, password = e2e.registry_creds.partition(":")
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    (tmp_path / "config.json").write_text(
        json.dumps({"auths": {e2e.registry_host: {"auth": token}}})
    )
    argv = [require_tools("cosign")["cosign"], *args, "--key", str(key), "--insecure-ignore-tlog"]
    digest = skopeo_inspect(e2e, tag or e2e.main_sha)["Digest"]
    argv += ["--allow-http-registry", "--output", "json", f"{e2e.registry_host}/{NAME}@{digest}"]
    env = {"DOCKER_CONFIG": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith(("[", "{"))]


def test_the_pushed_digest_is_signed_with_its_provenance(e2e: E2E, tmp_path: Path) -> None:
    """The sign job signed the main build's digest and attested its SLSA provenance, the sbom
    job its SBOM: cosign verifies them with the committed gitops/cosign.pub, and the
    provenance names the commit."""
    digest = skopeo_inspect(e2e, e2e.main_sha)["Digest"]
    [[claims]] = cosign(e2e, tmp_path, "verify")
    assert claims["critical"]["image"]["docker-manifest-digest"] == digest
    [envelope] = cosign(e2e, tmp_path, "verify-attestation", "--type", "slsaprovenance1")
    statement = json.loads(base64.b64decode(envelope["payload"]))
    assert statement["subject"][0]["digest"] == {"sha256": digest.removeprefix("sha256:")}
    source = statement["predicate"]["buildDefinition"]["externalParameters"]["source"]
    assert source["commit"].startswith(e2e.main_sha)
    # The sbom job, beside deploy-dev: the SBOM attested too, and GitLab's report written (the
    # checkout's report is the last pipeline's, the next one's).
    [sbom] = cosign(e2e, tmp_path, "verify-attestation", "--type", "cyclonedx")
    assert json.loads(base64.b64decode(sbom["payload"]))["predicate"]["bomFormat"] == "CycloneDX"
    [sbom] = cosign(e2e, tmp_path, "verify-attestation", "--type", "cyclonedx", tag=e2e.next_sha)
    attested = json.loads(base64.b64decode(sbom["payload"]))["predicate"]
    assert attested == json.loads((e2e.workdir / "gl-sbom.cdx.json").read_text())


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
    # The deploy's commit: the last to change dev's values (verify-dev's record follows it).
    deployed = git(
        "log", "-1", "--format=%H", e2e.main_gitops_commit, "--", "gitops/dev/values.yaml",
        cwd=e2e.remote,
    )  # fmt: skip
    message = git("log", "-1", "--format=%an%n%B", deployed, cwd=e2e.remote)
    author, subject = message.splitlines()[:2]
    assert author == "gitops-bot"
    assert subject == f"deploy(dev): {NAME} {e2e.main_sha} [skip ci]"
    changed = git("show", "--name-only", "--format=", deployed, cwd=e2e.remote)
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
    assert run.jobs_with("PASS") == {"build", "sign", "deploy-dev"}, run.tail()
    assert "verify-dev" not in run.started
    values = gitops_values(e2e.remote, e2e.feature_gitops_commit, "dev")
    assert values["image"]["tag"] == e2e.feature_sha != e2e.main_sha
    subject = git("log", "-1", "--format=%s", e2e.feature_gitops_commit, cwd=e2e.remote)
    assert subject.startswith(f"deploy(dev): {NAME} {e2e.feature_sha}")
    assert subject.endswith("[skip ci]")
    images = rendered_images(e2e.remote, e2e.feature_gitops_commit, "dev", tmp_path / "co")
    assert images == [pinned(e2e, e2e.feature_sha)]


def synced_healthy_at(scenario: Scenario) -> tuple[str, str, str | None]:
    status = scenario.application["status"]
    return status["sync"]["status"], status["health"]["status"], status["sync"].get("revision")


def job_output(run: PipelineRun, job: str) -> str:
    """The lines gitlab-ci-local printed for ``job`` (prefixed ``job >``)."""
    return "\n".join(line for line in run.output.splitlines() if line.startswith(f"{job} "))


def test_dev_serves_nothing_before_a_deploy(e2e: E2E) -> None:
    """No pre-started server: verify-dev can only pass if the deploy put a build in dev."""
    assert e2e.served_before is None


def test_default_branch_build_runs_in_dev_and_deploy_is_green(e2e: E2E) -> None:
    scenario = e2e.scenarios["default branch"]
    assert e2e.main_run.verdicts["deploy-dev"] == "PASS", e2e.main_run.tail()
    assert f"deployed: {DEV_APP}" in job_output(e2e.main_run, "deploy-dev")
    assert synced_healthy_at(scenario) == ("Synced", "Healthy", e2e.main_gitops_commit)
    assert scenario.application["status"]["summary"]["images"] == [pinned(e2e, e2e.main_sha)]
    assert scenario.served is not None
    assert scenario.served["version"] == e2e.main_sha


def recorded_verdicts(e2e: E2E) -> dict[str, Verdict]:
    """dev's recorded verdicts at the remote's tip, by tag."""
    text = show(e2e.remote, "gitops/dev/verdicts.yaml", DEFAULT_BRANCH)
    return {verdict.tag: verdict for verdict in parse_verdicts(text, "verdicts.yaml")}


def test_verify_dev_judges_each_build_by_its_slo_and_records_the_verdict(e2e: E2E) -> None:
    """verify-dev, after deploy-dev's wait: the build's own requests in Prometheus, passed, and
    the verdict recorded for the exact build (tag and digest) in a [skip ci] commit."""
    verdicts = recorded_verdicts(e2e)
    for run, tag in ((e2e.main_run, e2e.main_sha), (e2e.next_run, e2e.next_sha)):
        assert run.verdicts["verify-dev"] == "PASS", run.tail()
        output = job_output(run, "verify-dev")
        assert f"verifying dev {tag} for {VERIFY_WINDOW}s through http://127.0.0.1:" in output
        assert f"dev {tag} passed" in output
        verdict = verdicts[tag]
        assert verdict.outcome == Outcome.PASSED
        assert verdict.digest == pinned(e2e, tag).rsplit("@", 1)[1]
        assert verdict.requests >= DEV_RULE["min_requests"]
    subjects = git("log", "--format=%s", DEFAULT_BRANCH, "--", "gitops/dev/verdicts.yaml",
                   cwd=e2e.remote).splitlines()  # fmt: skip
    assert f"record(dev): {NAME} {e2e.next_sha} passed [skip ci]" in subjects


def test_feature_branch_build_runs_in_dev(e2e: E2E) -> None:
    scenario = e2e.scenarios["feature branch"]
    assert synced_healthy_at(scenario) == ("Synced", "Healthy", e2e.feature_gitops_commit)
    assert scenario.served is not None
    assert scenario.served["version"] == e2e.feature_sha


def test_rollback_dev_runs_the_previous_build_again(e2e: E2E) -> None:
    scenario = e2e.scenarios["rollback-dev"]
    run = scenario.runs["rollback"]
    assert run.returncode == 0, run.tail()
    assert run.verdicts == {"rollback-dev": "PASS"}, run.tail()
    assert gitops_values(e2e.remote, scenario.gitops_commit, "dev")["image"]["tag"] == (
        e2e.main_sha
    )
    assert synced_healthy_at(scenario) == ("Synced", "Healthy", scenario.gitops_commit)
    assert scenario.application["status"]["summary"]["images"] == [pinned(e2e, e2e.main_sha)]
    assert scenario.served is not None
    assert scenario.served["version"] == e2e.main_sha


def holds_dev(remote: Path, commit: str) -> bool:
    found = subprocess.run(
        ["git", "cat-file", "-e", f"{commit}:gitops/dev/hold.yaml"],
        cwd=remote,
        capture_output=True,
        check=False,
    )
    return found.returncode == 0


def test_rollback_holds_dev_until_unhold_dev_releases_it(e2e: E2E) -> None:
    assert holds_dev(e2e.remote, e2e.scenarios["rollback-dev"].gitops_commit)
    scenario = e2e.scenarios["unhold-dev"]
    run = scenario.runs["unhold"]
    assert run.verdicts == {"unhold-dev": "PASS"}, run.tail()
    assert not holds_dev(e2e.remote, scenario.gitops_commit)
    assert synced_healthy_at(scenario) == ("Synced", "Healthy", scenario.gitops_commit)
    assert scenario.served is not None
    assert scenario.served["version"] == e2e.main_sha  # releasing the hold changes no build


def test_a_build_that_cannot_start_fails_deploy_and_the_previous_keeps_serving(e2e: E2E) -> None:
    scenario = e2e.scenarios["cannot start"]
    run = scenario.runs["broken"]
    # The job's verdict is what GitLab shows (gitlab-ci-local exits 0 for a job whose
    # allow_failure lists exit codes, even when its exit code is not among them).
    assert run.verdicts == {"build": "PASS", "sign": "PASS", "deploy-dev": "FAIL"}, run.tail()
    # The deploy pushed the new build, then Argo CD (the stand-in) reported it Degraded.
    assert gitops_values(e2e.remote, scenario.gitops_commit, "dev")["image"]["tag"] == (
        e2e.broken_sha
    )
    assert synced_healthy_at(scenario) == ("Synced", "Degraded", scenario.gitops_commit)
    message = scenario.deployment_health()["message"]
    assert message.startswith(f"container {NAME} exited with code 1: ")
    assert "invalid setting APP_LOG_LEVEL='verbose'" in message
    # The job says why, in the stand-in's words.
    assert "invalid setting APP_LOG_LEVEL='verbose'" in job_output(run, "deploy-dev")
    assert scenario.served is not None
    assert scenario.served["version"] == e2e.main_sha  # the build before keeps serving


def test_the_next_pipeline_ships_a_code_change_to_dev(e2e: E2E) -> None:
    """A second default-branch pipeline, for a change of app code only: dev's path passes and
    dev answers with the new build (the next pipeline's figure in docs/benchmarks.md)."""
    run = e2e.next_run
    assert run.returncode == 0, run.tail()
    assert run.jobs_with("PASS") == set(NEXT_PIPELINE_JOBS), run.tail()
    scenario = e2e.scenarios["next pipeline"]
    assert synced_healthy_at(scenario) == ("Synced", "Healthy", scenario.gitops_commit)
    assert scenario.served is not None
    assert scenario.served["version"] == e2e.next_sha


def test_racing_deploys_the_older_is_superseded_the_newer_green(e2e: E2E) -> None:
    scenario = e2e.scenarios["race"]
    older, newer = scenario.runs["older"], scenario.runs["newer"]
    assert newer.returncode == 0, newer.tail()
    assert newer.verdicts == {"build": "PASS", "sign": "PASS", "deploy-dev": "PASS"}, newer.tail()
    assert older.returncode == 0, older.tail()  # an allowed failure: the pipeline passes
    assert older.verdicts == {"build": "PASS", "sign": "PASS", "deploy-dev": "WARN"}, older.tail()
    assert "superseded" in job_output(older, "deploy-dev")
    assert gitops_values(e2e.remote, scenario.gitops_commit, "dev")["image"]["tag"] == (
        e2e.main_sha
    )
    assert synced_healthy_at(scenario) == ("Synced", "Healthy", scenario.gitops_commit)
    assert scenario.served is not None
    assert scenario.served["version"] == e2e.main_sha


def test_report_wall_times(e2e: E2E, figures: Callable[[str], None]) -> None:
    """Not an assertion of speed (shared, noisy machines): the figures, printed for the log."""
    lines = ["", "e2e wall times (gitlab-ci-local, shell executor):"]
    needs = gitlab_ci_local.needs_of(ROOT / ".gitlab-ci.yml")
    pipelines = (
        ("default branch (the first, every job)", e2e.main_run),
        ("next, app code only (dev's path and sbom alone)", e2e.next_run),
        ("feature branch", e2e.feature_run),
    )
    for label, run in pipelines:
        lines.append(f"  {label} pipeline: {run.wall:.1f}s")
        if "verify-dev" in run.finished:  # the critical path: the new build verified in dev
            by_needs = run.end_by_needs("verify-dev", needs)
            deployed = run.end_by_needs("deploy-dev", needs)
            narrowed = " (test jobs narrowed: E2E_FULL_TEST_JOBS=1 measures it)"
            lines.append(
                f"    critical path to verify-dev's end (verified in dev by its SLO, a"
                f" {VERIFY_WINDOW}s window), by needs: {by_needs:.1f}s; to deploy-dev's end"
                f" (Argo CD runs it healthy): {deployed:.1f}s"
                + (narrowed if narrowed_test_jobs() else "")
            )
            as_run = run.finished["verify-dev"]
            lines.append(f"      (as gitlab-ci-local ran it, batch by batch: {as_run:.1f}s)")
        for stage, seconds in run.stage_windows(e2e.stage_of).items():
            lines.append(f"    stage {stage:<7} {seconds:7.1f}s")
        for job in run.started:
            if job in run.finished:
                lines.append(f"      job {job:<12} {run.job_seconds(job):7.1f}s")
    lines.append("  scenarios (push to verdict, Argo CD stand-in polling every 1s):")
    for label, scenario in e2e.scenarios.items():
        jobs = ", ".join(
            f"{name}: {job} {run.job_seconds(job):.1f}s"
            for name, run in scenario.runs.items()
            for job in run.started
            if job in run.finished
        )
        lines.append(f"    {label:<15} {scenario.wall:7.1f}s  ({jobs})")
    figures("\n".join(lines))
    assert e2e.main_run.wall > 0
