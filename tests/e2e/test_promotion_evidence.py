"""Promotion on evidence, end to end: real images of the service (a good build, and a bad one
built from a copy of the repository whose echo fails), run by the Argo CD stand-in on a cluster
with the Prometheus Operator's API, scraped by a real Prometheus through the stand-in's service
discovery (one target per pod, as the chart's ServiceMonitor asks), judged by ``python -m ci
verify`` against the gitops branch's policy, with soak time before promotion; the bad build is
rolled back, held and rejected, and ``deploy``, ``promote`` and a merge request's ``check``
refuse it. Prints the time from deploy to "verified in dev" and from the bad build's first
failing request to the rollback commit.
"""

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from app import SERVICE_NAME
from harness.image import host_build_volumes, images_removed_afterwards, local_base_image, tool_env
from tests.support.argocd import ArgoCdStandIn, running_argocd
from tests.support.cli import ci_env, run_ci
from tests.support.git_remotes import git
from tests.support.gitops_project import make_project
from tests.support.moto import running_moto
from tests.support.prometheus import RunningPrometheus, running_prometheus
from tests.support.registry import running_registry
from tests.support.tools import require_tools

pytestmark = [pytest.mark.e2e, pytest.mark.long, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parents[2]
NAME = SERVICE_NAME
DEV = f"{SERVICE_NAME}-dev"
GOOD, BAD = "600d0001", "bad00002"
OLD = "01d00000"  # what prod ran before: not run here (the stand-in runs dev only)
OPERATOR = "monitoring.coreos.com/v1"
SOAK_SECONDS = 20
# The test's policy: windows of seconds, where a team's are minutes.
POLICY = {
    "order": ["dev", "prod"],
    "verify": {
        "dev": {
            "window": "6s",
            "max_error_ratio": 0.05,
            "max_latency_p95": 1.0,
            "min_requests": 20,
            "traffic": {"paths": ["/api/echo?text=verify"], "rate": 10},
        }
    },
    "soak": {"dev": f"{SOAK_SECONDS}s"},
}
# The bad build's one change: every echo fails (a copy of the repository, never the product).
BROKEN_ECHO = '\n\ndef render_echo(text: str) -> bytes:\n    raise RuntimeError("a bad build")\n'


@dataclass
class Images:
    registry: str
    creds: str
    digests: dict[str, str]  # tag -> digest


def source_copy(target: Path) -> Path:
    """The repository's files as git sees them (tracked and new, not ignored), copied."""
    listed = git("ls-files", "--cached", "--others", "--exclude-standard", "-z", cwd=ROOT)
    for rel in filter(None, listed.split("\0")):
        source = ROOT / rel
        if source.is_file():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / rel)
    return target


def build(env: dict[str, str], context: Path, tag: str, work: Path) -> str:
    """``python -m ci build`` of ``context`` as commit ``tag``: the pushed digest."""
    dotenv = work / f"{tag}.env"
    extra = {
        "BUILD_CONTEXT": str(context),
        "CI_COMMIT_SHORT_SHA": tag,
        "CI_COMMIT_SHA": tag * 5,
        "BUILD_DOTENV": str(dotenv),
    }
    done = subprocess.run(
        [sys.executable, "-m", "ci", "build"],
        cwd=ROOT,
        env={**env, **extra},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    values = dict(line.split("=", 1) for line in dotenv.read_text().splitlines() if "=" in line)
    return values["IMAGE_DIGEST"]


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Images]:
    require_tools("buildah", "skopeo", "docker-registry", "debootstrap", "htpasswd", "prometheus")
    work = tmp_path_factory.mktemp("evidence")
    base = local_base_image()
    bad = source_copy(work / "bad-source")
    echo = bad / "app" / "echo.py"
    echo.write_text(echo.read_text() + BROKEN_ECHO)
    with images_removed_afterwards(), running_moto(work) as moto:
        username, password = moto.ecr_credentials()
        with running_registry(work / "registry", username, password) as registry:
            env = {
                **ci_env(tool_env()),
                **moto.env,
                "ECR_REPOSITORY_URL": registry.host,
                "PROJECT_NAME": NAME,
                "CI_PROJECT_URL": f"https://gitlab.example.com/acme/{NAME}",
                "REGISTRY_INSECURE": "true",
                "REGISTRY_AUTH_FILE": str(work / "auth.json"),
                "BASE_IMAGE": base,
                "BUILD_VOLUMES": " ".join(host_build_volumes()),
                "DOCKERFILE": "",
                "BUILD_CACHE": "false",
                "BUILD_LAYERS": "false",  # the pipeline's: one commit per stage
                "SOURCE_DATE_EPOCH": "1795564800",  # the copy is not in git: its commit time
            }
            digests = {GOOD: build(env, ROOT, GOOD, work), BAD: build(env, bad, BAD, work)}
            yield Images(registry.host, f"{username}:{password}", digests)


@dataclass
class Loop:
    """The gitops remote, the stand-in running dev from it, and Prometheus scraping its pods."""

    remote: Path
    work: Path
    argo: ArgoCdStandIn
    prometheus: RunningPrometheus
    images: Images

    def env(self) -> dict[str, str]:
        return {
            "ARGOCD_SERVER": self.argo.url,
            "ARGOCD_AUTH_TOKEN": self.argo.token,
            "PROMETHEUS_URL": self.prometheus.url,
            "VERIFY_URL": self.argo.service_url(DEV),
            "VERIFY_PROGRESS_INTERVAL": "2",
            "REGISTRY_INSECURE": "true",
        }

    def ci(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        target = ("--repo", str(self.remote), "--branch", "main")
        done = run_ci(*args, *target, env=self.env(), timeout=timeout)
        print(f"$ python -m ci {' '.join(args)} -> {done.returncode}\n{done.stdout}{done.stderr}")
        return done

    def deploy_args(self, tag: str, env: str = "dev") -> tuple[str, ...]:
        repository = f"{self.images.registry}/{NAME}"
        digest = self.images.digests[tag]
        return (
            "deploy",
            "--env",
            env,
            "--tag",
            tag,
            "--repository",
            repository,
            "--digest",
            digest,
        )

    def deploy(self, tag: str) -> subprocess.CompletedProcess:
        return self.ci(*self.deploy_args(tag))

    def check_merge_request(self, env: str, tag: str, trailer: str) -> subprocess.CompletedProcess:
        """``check`` of a merge request that sets ``env`` to ``tag``, in a clone of the remote."""
        clone = self.work.parent / "mr"
        git("clone", "--quiet", str(self.remote), str(clone), cwd=self.work.parent)
        git("checkout", "--quiet", "-b", "mr", cwd=clone)
        rel = f"gitops/{env}/values.yaml"
        values = yaml.safe_load((clone / rel).read_text())
        values["image"].update(tag=tag, digest=self.images.digests[tag])
        (clone / rel).write_text(yaml.safe_dump(values, sort_keys=False))
        git("commit", "--quiet", "-am", f"Promote {tag} to {env}\n\n{trailer}", cwd=clone)
        done = run_ci("check", env=self.env(), cwd=clone, timeout=300)
        print(f"$ python -m ci check -> {done.returncode}\n{done.stdout}{done.stderr}")
        return done

    def read(self, rel: str) -> str | None:
        done = subprocess.run(
            ["git", "show", f"main:{rel}"], cwd=self.remote, capture_output=True, text=True
        )
        return done.stdout if done.returncode == 0 else None

    def dev_tag(self) -> str:
        return yaml.safe_load(self.read("gitops/dev/values.yaml") or "")["image"]["tag"]


def gitops_remote(work: Path, images: Images) -> tuple[Path, Path]:
    project = make_project(work / "gitops")
    project.write("gitops/promotion.yaml", yaml.safe_dump(POLICY, sort_keys=False))
    for env, tag in (("dev", GOOD), ("prod", OLD)):
        rel = f"gitops/{env}/values.yaml"
        values = yaml.safe_load(project.read(rel))
        values["image"] = {**values.get("image", {}), "repository": f"{images.registry}/{NAME}"}
        values["image"]["tag"] = tag
        values["image"].pop("digest", None)
        if tag in images.digests:
            values["image"]["digest"] = images.digests[tag]
        project.write(rel, yaml.safe_dump(values, sort_keys=False))
    project.commit("the test's registry, the good build in dev, a policy in seconds")
    remote = work / "remote.git"
    git("clone", "--quiet", "--bare", str(project.path), str(remote), cwd=work)
    return remote, project.path


def http_sd_config(discovery_url: str) -> dict:
    return {"job_name": NAME, "http_sd_configs": [{"url": discovery_url, "refresh_interval": "1s"}]}


@pytest.fixture
def loop(images: Images, tmp_path: Path) -> Iterator[Loop]:
    remote, work = gitops_remote(tmp_path, images)
    with (
        running_argocd(
            f"file://{remote}",
            tmp_path / "argocd",
            registry_creds={images.registry: images.creds},
            insecure_registries=[images.registry],
            interval=0.5,
            apps=[DEV],
            api_versions=[OPERATOR],
        ) as argo,
        running_prometheus(
            tmp_path / "prometheus", [], scrape=http_sd_config(argo.discovery_url)
        ) as prometheus,
    ):
        yield Loop(remote, work, argo, prometheus, images)
        assert argo.controller.errors == []


def test_a_good_build_verifies_soaks_and_promotes(loop: Loop, figures) -> None:
    loop.argo.wait_for(DEV, lambda app: app["status"]["health"]["status"] == "Healthy", 300)
    started = time.monotonic()
    verified = loop.ci("verify", "--env", "dev")
    to_verified = time.monotonic() - started
    assert verified.returncode == 0, verified.stderr
    assert "passed" in verified.stdout
    early = loop.ci("promote", "--from", "dev", "--to", "prod")
    assert early.returncode == 1
    assert "soak" in early.stderr
    assert "left" in early.stderr
    assert "nothing pushed" in early.stderr
    time.sleep(SOAK_SECONDS)
    promoted = loop.ci("promote", "--from", "dev", "--to", "prod")
    assert promoted.returncode == 0, promoted.stderr
    status = json.loads(loop.ci("status", "--json").stdout)
    assert {row["env"]: row["tag"] for row in status} == {"dev": GOOD, "prod": GOOD}
    figures(f"verify of a running good build: {to_verified:.1f}s")


def test_a_bad_build_is_rolled_back_held_and_rejected(loop: Loop, figures) -> None:
    loop.argo.wait_for(DEV, lambda app: app["status"]["health"]["status"] == "Healthy", 300)
    assert loop.ci("verify", "--env", "dev").returncode == 0
    deployed = loop.deploy(BAD)
    assert deployed.returncode == 0, deployed.stderr
    waited = loop.ci("wait", "--env", "dev", timeout=600)
    assert waited.returncode == 0, waited.stderr
    first_failing = time.time()  # verify's traffic starts at once: its first echo fails
    failed = loop.ci("verify", "--env", "dev")
    assert failed.returncode == 1
    assert "error ratio" in failed.stdout + failed.stderr
    rolled_back_at = int(
        git("log", "-1", "--format=%ct", "main", "--", "gitops/dev/values.yaml", cwd=loop.remote)
    )
    assert loop.dev_tag() == GOOD
    assert loop.read("gitops/dev/hold.yaml") is not None
    figures(f"first failing request to rollback commit: {rolled_back_at - first_failing:.1f}s")
    # Rejected everywhere, whatever --force or a trailer say.
    again = loop.ci(*loop.deploy_args(BAD, "dev"), "--force")
    assert again.returncode == 1
    assert "rejected" in again.stderr
    into_prod = loop.ci(*loop.deploy_args(BAD, "prod"))
    assert into_prod.returncode == 1
    assert "rejected" in into_prod.stderr
    checked = loop.check_merge_request("prod", BAD, "Promotion-Override: ship it anyway")
    assert checked.returncode == 1
    assert "rejected" in checked.stdout + checked.stderr
    status = json.loads(loop.ci("status", "--json").stdout)
    dev = next(row for row in status if row["env"] == "dev")
    assert dev["tag"] == GOOD
    assert dev["hold"] is not None


def test_a_merged_change_is_waited_for_then_verified(loop: Loop) -> None:
    """wait-gitops's command (``wait-changed`` with ``GITOPS_VERIFY=true``) for a merged merge
    request that puts the bad build in dev: Argo CD runs it healthy, so the wait passes; its SLO
    does not, so the verification fails, and dev is rolled back and held, the build rejected."""
    loop.argo.wait_for(DEV, lambda app: app["status"]["health"]["status"] == "Healthy", 300)
    clone = loop.work.parent / "merged"
    git("clone", "--quiet", str(loop.remote), str(clone), cwd=loop.work.parent)
    before = git("rev-parse", "HEAD", cwd=clone).strip()
    rel = "gitops/dev/values.yaml"
    values = yaml.safe_load((clone / rel).read_text())
    values["image"].update(tag=BAD, digest=loop.images.digests[BAD])
    (clone / rel).write_text(yaml.safe_dump(values, sort_keys=False))
    git("commit", "--quiet", "-am", f"Merge branch 'gitops/dev/{BAD}'", cwd=clone)
    git("push", "--quiet", "origin", "main", cwd=clone)
    env = {**loop.env(), "GITOPS_VERIFY": "true", "CI_COMMIT_BEFORE_SHA": before}
    done = run_ci("wait-changed", env=env, cwd=clone, timeout=600)
    print(f"$ python -m ci wait-changed -> {done.returncode}\n{done.stdout}{done.stderr}")
    lines = done.stdout.splitlines()
    assert lines[0] == "wait-changed: waiting for dev"
    assert "wait-changed: dev: done" in lines
    assert "wait-changed: verifying dev" in lines
    assert "wait-changed: dev: FAILED" in lines
    assert done.returncode == 1
    assert any(line.startswith(f"dev: dev {BAD} failed verification: ") for line in lines)
    assert loop.dev_tag() == GOOD
    assert loop.read("gitops/dev/hold.yaml") is not None
    assert BAD in (loop.read("gitops/rejected.yaml") or "")
