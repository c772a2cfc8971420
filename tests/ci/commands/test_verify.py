"""``python -m ci verify``: bad input in-process; then a real Prometheus (Debian's) scraping
real servers of the service, each run as a build's pod (``APP_VERSION`` = the image tag), judged
through the HTTP API (integration).

The pods: ``good1`` (the service), ``bad1`` (``tests/support/failing_echo.py``: its echo answers
500, counted in its own metrics) and ``quiet1`` (the service, no traffic). All three are
scraped side by side in the environment's namespace, as a rollout's old and new pods are.
"""

import contextlib
import os
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import SERVICE_NAME
from ci.gitops.values import read_image
from tests.support.git_remotes import git, make_bare_remote, show
from tests.support.gitlab_api import PROJECT_ID, running_gitlab
from tests.support.gitops_project import make_project
from tests.support.prometheus import Fleet, Pod, scraped_pods

PODS = (
    Pod("good1", f"{SERVICE_NAME}-good1-a"),
    Pod("bad1", f"{SERVICE_NAME}-bad1-a", app="tests.support.failing_echo:app"),
    Pod("quiet1", f"{SERVICE_NAME}-quiet1-a"),
)
ECHO = "/api/echo?text=verify"
RULE = "{window: %ss, max_error_ratio: 0.05, max_latency_p95: 0.5, min_requests: %s%s}"


@pytest.fixture(autouse=True)
def no_settings_from_the_shell(monkeypatch):
    """What the shell that runs the tests has set for verify does not count here."""
    for name in list(os.environ):
        if name.startswith(("PROMETHEUS_", "VERIFY_")):
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Iterator[Fleet]:
    with scraped_pods(tmp_path_factory.mktemp("prometheus"), PODS) as fleet:
        print(f"Prometheus had every pod's series {fleet.seconds_to_series:.1f}s after its start")
        yield fleet


def gitops_remote(tmp_path: Path, tag: str, rule: str) -> str:
    """A gitops remote whose dev runs ``tag`` and whose policy has ``rule`` for dev."""
    project = make_project(tmp_path / "project")
    project.write("gitops/promotion.yaml", f"order: [dev, prod]\nverify:\n  dev: {rule}\n")
    project.commit("policy")
    project.set_tag("dev", tag)
    return make_bare_remote(project.path, tmp_path / "remote.git").as_uri()


def dev_tag(repo: str) -> str | None:
    bare = Path(repo.removeprefix("file://"))
    return read_image(show(bare, "gitops/dev/values.yaml")).tag


PROMETHEUS = {"PROMETHEUS_URL": "http://127.0.0.1:9"}


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ((), PROMETHEUS, "--env is required"),
        (("--env", "dev"), {},
         "PROMETHEUS_URL is not set: the base URL of the Prometheus HTTP API"),
        (("--env", "dev", "--revision", "abc", "--tag", "1a2b3c4d"), PROMETHEUS,
         "--revision and --tag name the build each: give one"),
        (("--env", "dev", "--selector", "namespace=dev"), PROMETHEUS,
         f"--selector: expected label matchers like namespace=\"{SERVICE_NAME}-dev\","
         " not 'namespace=dev'"),
        (("--env", "dev", "--progress-interval", "0"), PROMETHEUS,
         "--progress-interval must be a positive number of seconds, got '0'"
         " (finite, at most 604800: a week)"),
        (("--env", "dev", "--url", "dev.example.com"), PROMETHEUS,
         "--url must be the http(s) base URL of the service, got 'dev.example.com'"),
        (("--env", "qa"), PROMETHEUS, "unknown environment 'qa' (known: dev, prod)"),
    ],
)  # fmt: skip
def test_bad_input_is_exit_2_before_anything_is_cloned(ci, args, env, message):
    result = ci("verify", "--repo", "/nonexistent", *args, env=env)
    assert (result.returncode, result.stderr) == (2, f"error: {message}\n")
    assert result.stdout == ""


def test_if_configured_without_prometheus_judges_nothing_and_passes(ci):
    """The pipeline's verify-dev on a project without Prometheus: one line, exit 0, nothing read."""
    result = ci("verify", "--env", "dev", "--if-configured", "--repo", "/nonexistent", env={})
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "verify: PROMETHEUS_URL is not set: dev's build not judged by its SLO\n"


def test_if_configured_without_a_rule_for_the_environment_judges_nothing(ci, tmp_path):
    project = make_project(tmp_path / "project")
    project.set_tag("dev", "good1")
    repo = make_bare_remote(project.path, tmp_path / "remote.git").as_uri()
    result = ci("verify", "--env", "dev", "--if-configured", "--repo", repo, env=PROMETHEUS)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("verify: gitops/promotion.yaml has no verify rule for dev (")
    assert result.stdout.endswith("): dev's build not judged by its SLO\n")
    strict = ci("verify", "--env", "dev", "--repo", repo, env=PROMETHEUS)
    assert strict.returncode == 2
    assert "gitops/promotion.yaml has no verify rule for dev" in strict.stderr


def test_a_rule_with_traffic_needs_the_url(ci, tmp_path):
    repo = gitops_remote(tmp_path, "good1", rule(4, 20, "{paths: [/api/echo], rate: 1}"))
    result = ci("verify", "--env", "dev", "--repo", repo, env=PROMETHEUS)
    assert (result.returncode, result.stderr) == (
        2,
        "error: the verify rule of dev sends traffic: pass --url or set $VERIFY_URL\n",
    )


def test_a_policy_file_that_cannot_be_read(ci, tmp_path):
    result = ci("verify", "--env", "dev", "--policy", str(tmp_path / "none.yaml"), env=PROMETHEUS)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: --policy {tmp_path / 'none.yaml'}: cannot read it (")


def rule(window: int, min_requests: int, traffic: str = "") -> str:
    return RULE % (window, min_requests, f", traffic: {traffic}" if traffic else "")


def verify(ci, fleet: Fleet, repo: str, *args: str, url: str | None = None, **extra: str):
    env = {"PROMETHEUS_URL": fleet.prometheus.url, "VERIFY_PROGRESS_INTERVAL": "1", **extra}
    if url:
        env["VERIFY_URL"] = url
    started = time.monotonic()
    result = ci("verify", "--env", "dev", "--repo", repo, *args, env=env)
    print(f"verify took {time.monotonic() - started:.1f}s", result.stdout, result.stderr)
    return result


def verdict_line(stdout: str, build: str) -> str:
    """The line with the verdict (the write-back's line about recording it follows)."""
    return next(line for line in stdout.splitlines() if line.startswith(f"dev {build} "))


def numbers(line: str) -> dict[str, str]:
    """``40 requests, error ratio 0.0000, p95 0.00123s over 4s`` -> its parts."""
    counted = line.rsplit("(", 1)[-1] if "(" in line else line.split(": ", 1)[1]
    requests, ratio, p95 = counted.split(", ")[:3]
    return {
        "requests": requests.split()[0],
        "error ratio": ratio.split()[-1],
        "p95": p95.split()[1],
    }


@pytest.mark.integration
def test_a_good_build_passes(ci, fleet, tmp_path):
    traffic = f"{{paths: ['{ECHO}', '/api/echo?text=two'], rate: 10}}"
    repo = gitops_remote(tmp_path, "good1", rule(4, 20, traffic))
    result = verify(ci, fleet, repo, url=fleet.servers[PODS[0].name].base_url)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("verifying dev good1 for 4s through http://127.0.0.1:")
    assert f'namespace="{SERVICE_NAME}-dev"' in lines[0]
    assert any(": 1s of 4s: 1 pod, " in line and "synthetic: " in line for line in lines)
    final = verdict_line(result.stdout, "good1")
    assert final.startswith("dev good1 passed verification: "), final
    found = numbers(final)
    # 40 due at 10 a second: a loaded machine sends fewer; increase() extrapolates a little.
    assert 20 <= int(found["requests"]) <= 42
    assert found["error ratio"] == "0.0000"
    assert float(found["p95"].rstrip("s")) < 0.5


@pytest.mark.integration
def test_a_bad_build_fails_on_its_error_ratio(ci, fleet, tmp_path):
    traffic = f"{{paths: ['{ECHO}'], rate: 10}}"
    repo = gitops_remote(tmp_path, "bad1", rule(4, 20, traffic))
    bare = Path(repo.removeprefix("file://"))
    deployed = git("rev-parse", "main", cwd=bare).strip()
    token = f"glpat-verify-{tmp_path.name}"
    with running_gitlab(bare, token) as gitlab:
        gitlab_env = {"CI_SERVER_URL": gitlab.base_url, "CI_PROJECT_ID": str(PROJECT_ID)}
        url = fleet.servers[PODS[1].name].base_url
        result = verify(ci, fleet, repo, url=url, GITOPS_TOKEN=token, **gitlab_env)
    assert result.returncode == 1, result.stdout + result.stderr
    # GitLab sees the deployment of the commit Argo CD runs, with the verdict as its status.
    [deployment] = gitlab.deployments
    assert (deployment["environment"]["name"], deployment["sha"]) == ("dev", deployed)
    assert deployment["status"] == "failed"
    assert f"GitLab deployment {deployment['id']} of dev: failed" in result.stdout
    final = verdict_line(result.stdout, "bad1")
    assert final.startswith(
        "dev bad1 failed verification: error ratio 1.0000 above max_error_ratio 0.05 ("
    ), final
    found = numbers(final)
    assert 20 <= int(found["requests"]) <= 42
    assert found["error ratio"] == "1.0000"
    assert re.search(r" over \d+s\)$", final), final
    assert dev_tag(repo) != "bad1"  # rolled back (the write-back's RECORD)


@pytest.mark.integration
def test_no_rollback_records_the_failure_only(ci, fleet, tmp_path):
    traffic = f"{{paths: ['{ECHO}'], rate: 10}}"
    repo = gitops_remote(tmp_path, "bad1", rule(2, 10, traffic))
    result = verify(ci, fleet, repo, "--no-rollback", url=fleet.servers[PODS[1].name].base_url)
    assert result.returncode == 1, result.stdout + result.stderr
    assert verdict_line(result.stdout, "bad1").startswith("dev bad1 failed verification: ")
    assert dev_tag(repo) == "bad1"
    verdicts = show(Path(repo.removeprefix("file://")), "gitops/dev/verdicts.yaml")
    assert "bad1" in verdicts


@pytest.mark.integration
def test_a_quiet_build_is_inconclusive_and_the_probes_do_not_count(ci, fleet, tmp_path):
    """Prometheus scrapes /-/metrics every second and the test hits the probes meanwhile: none
    of it is traffic."""
    quiet = fleet.servers[PODS[2].name]
    repo = gitops_remote(tmp_path, "quiet1", rule(3, 5))
    with hitting(quiet.base_url, ["/-/health", "/-/readiness", "/-/liveness"], seconds=4):
        result = verify(ci, fleet, repo)
    assert result.returncode == 1, result.stdout + result.stderr
    final = verdict_line(result.stdout, "quiet1")
    assert re.fullmatch(
        r"dev quiet1 is not verified \(inconclusive\): 0 requests, fewer than min_requests 5"
        r" \(0 requests, error ratio -, p95 - over \d+s\); nothing rolled back",
        final,
    ), final
    assert dev_tag(repo) == "quiet1"


@pytest.mark.integration
def test_another_versions_pod_beside_the_build_does_not_count(ci, fleet, tmp_path):
    """bad1's pod answers 500 to every echo during good1's window, in the same namespace and
    job: good1 passes on its own requests only."""
    traffic = f"{{paths: ['{ECHO}'], rate: 5}}"
    repo = gitops_remote(tmp_path, "good1", rule(4, 10, traffic))
    bad = fleet.servers[PODS[1].name]
    with hitting(bad.base_url, [ECHO] * 3, seconds=5) as sent:
        result = verify(ci, fleet, repo, url=fleet.servers[PODS[0].name].base_url)
    assert sent["count"] > 30  # the old pod did fail, often
    assert result.returncode == 0, result.stdout + result.stderr
    found = numbers(verdict_line(result.stdout, "good1"))
    assert 10 <= int(found["requests"]) <= 22  # 20 due to good1 at 5 a second
    assert found["error ratio"] == "0.0000"


class hitting:
    """GETs ``paths`` of ``base_url`` in turn, about 20 a second, for ``seconds`` (a thread)."""

    def __init__(self, base_url: str, paths: list[str], seconds: float) -> None:
        self.base_url, self.paths, self.seconds = base_url, paths, seconds
        self.sent = {"count": 0}
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        ends = time.monotonic() + self.seconds
        while time.monotonic() < ends:
            path = self.paths[self.sent["count"] % len(self.paths)]
            with contextlib.suppress(urllib.error.HTTPError):
                urllib.request.urlopen(self.base_url + path, timeout=2).read()
            self.sent["count"] += 1
            time.sleep(0.05)

    def __enter__(self) -> dict[str, int]:
        self.thread.start()
        return self.sent

    def __exit__(self, *exc) -> None:
        self.thread.join(timeout=self.seconds + 5)
