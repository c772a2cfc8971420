"""``python -m ci wait-changed``: which environments a pushed change makes the pipeline wait for."""

import pytest

from ci.commands.wait_changed import combined_exit_code
from harness.network import free_port
from tests.support.cli import run_ci
from tests.support.git_remotes import git
from tests.support.gitops_project import Project, make_project


@pytest.fixture
def project(tmp_path) -> Project:
    return make_project(tmp_path / "project")


def waits(ci, project: Project, *args: str, env: dict[str, str] | None = None):
    return ci("wait-changed", "--dry-run", *args, cwd=project.path, env=env)


def test_a_promotion_waits_for_its_environment(project, ci):
    project.set_tag("prod", "1111aaaa")
    result = waits(ci, project)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "wait-changed: would wait for prod\n"


def test_people_values_and_argocd_changes(project, ci):
    project.write("values.dev.yaml", project.read("values.dev.yaml") + "# x\n")
    project.commit("dev values")
    assert waits(ci, project).stdout == "wait-changed: would wait for dev\n"
    appset = "gitops/argocd/applicationset.yaml"
    project.write(appset, project.read(appset) + "# x\n")
    project.commit("argocd")
    assert waits(ci, project).stdout == "wait-changed: would wait for dev, prod\n"


def test_the_base_is_the_branch_before_the_push(project, ci):
    before = project.head()
    project.set_tag("prod", "1111aaaa")
    project.set_tag("dev", "2222bbbb")
    pushed = {"CI_COMMIT_BEFORE_SHA": before}
    assert waits(ci, project, env=pushed).stdout == "wait-changed: would wait for dev, prod\n"
    assert waits(ci, project).stdout == "wait-changed: would wait for dev\n"  # HEAD^ only
    new_branch = {"CI_COMMIT_BEFORE_SHA": "0" * 40}
    assert waits(ci, project, env=new_branch).stdout == "wait-changed: would wait for dev\n"


def test_no_environment_changed_waits_for_nothing(project, ci):
    project.write("gitops/promotion.yaml", "order: [dev]\n")
    project.commit("order")
    result = waits(ci, project)
    assert result.returncode == 0
    assert result.stdout.endswith("changes no environment: nothing to wait for\n")


def test_a_removed_environment_is_not_waited_for(project, ci):
    (project.path / "gitops" / "prod" / "values.yaml").unlink()
    project.commit("retire prod")
    assert waits(ci, project).stdout.endswith("changes no environment: nothing to wait for\n")


def test_without_argocd_server_it_is_exit_2(project, ci):
    project.set_tag("prod", "1111aaaa")
    result = ci("wait-changed", cwd=project.path)
    assert result.returncode == 2
    assert result.stderr == "error: ARGOCD_SERVER is not set: nothing to wait with\n"


def test_a_bad_base_is_exit_2(project, ci):
    result = waits(ci, project, "--base", "nope")
    assert result.returncode == 2
    assert result.stderr == "error: --base 'nope' is not a commit of this checkout\n"


@pytest.mark.integration
def test_each_changed_environment_gets_its_own_wait(project):
    """Real ``python -m ci wait`` runs, one per environment, side by side, each one's lines
    prefixed with its environment; the first failure is the exit code. Here Argo CD is not
    listening, so every wait fails within its timeout."""
    project.set_tag("prod", "1111aaaa")
    project.set_tag("dev", "2222bbbb")
    env = {
        "ARGOCD_SERVER": f"http://127.0.0.1:{free_port()}",
        "ARGOCD_AUTH_TOKEN": "t",
        "WAIT_TIMEOUT": "3",
        "WAIT_INTERVAL": "1",
    }
    env["CI_COMMIT_BEFORE_SHA"] = git("rev-parse", "HEAD~2", cwd=project.path).strip()
    result = run_ci("wait-changed", cwd=project.path, env=env, timeout=120)
    assert result.returncode != 0
    lines = result.stdout.splitlines()
    assert lines[0] == "wait-changed: waiting for dev, prod"
    assert "wait-changed: dev: FAILED" in lines
    assert "wait-changed: prod: FAILED" in lines
    others = [line for line in lines[1:] if not line.startswith("wait-changed: ")]
    assert others
    assert all(line.startswith(("dev: ", "prod: ")) for line in others)


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ([], 0),
        ([0, 0], 0),
        ([0, 3], 3),
        ([3, 1], 1),
        ([3, 2, 1], 2),
        ([1, 3], 1),
    ],
)
def test_a_failed_environment_outranks_a_superseded_one(codes: list[int], expected: int) -> None:
    assert combined_exit_code(codes) == expected


RULE = "{window: 5m, max_error_ratio: 0.01, max_latency_p95: 0.5, min_requests: 50}"


def with_rules(project: Project, *envs: str) -> None:
    rules = "".join(f"  {env}: {RULE}\n" for env in envs)
    project.write("gitops/promotion.yaml", f"order: [dev, prod]\nverify:\n{rules}")
    project.commit("verify rules")


def test_verify_judges_the_environments_whose_build_changed_and_that_have_a_rule(project, ci):
    with_rules(project, "prod")
    project.set_tag("prod", "1111aaaa")
    result = waits(ci, project, "--verify")
    assert result.stdout == "wait-changed: would wait for prod; would verify prod\n"
    project.set_tag("dev", "2222bbbb")  # dev has no rule: waited for, not verified
    assert waits(ci, project, "--verify").stdout == "wait-changed: would wait for dev\n"


def test_verify_follows_a_change_of_settings_or_of_the_argocd_manifests(project, ci):
    with_rules(project, "dev", "prod")
    project.write("values.dev.yaml", project.read("values.dev.yaml") + "# x\n")
    project.commit("dev values")
    assert waits(ci, project, "--verify").stdout == (
        "wait-changed: would wait for dev; would verify dev\n"
    )
    appset = "gitops/argocd/applicationset.yaml"
    project.write(appset, project.read(appset) + "# x\n")
    project.commit("argocd")
    assert waits(ci, project, "--verify").stdout == (
        "wait-changed: would wait for dev, prod; would verify dev, prod\n"
    )


def test_a_merged_record_is_waited_for_never_verified_again(project, ci):
    """A verdict's or a hold's merge request, merged: the same build, nothing to judge (and no
    loop of verifications recording verdicts)."""
    with_rules(project, "dev")
    project.write("gitops/dev/verdicts.yaml", "verdicts: []\n")
    project.write("gitops/dev/hold.yaml", "reason: rolled back\n")
    project.commit("record(dev)")
    assert waits(ci, project, "--verify").stdout == "wait-changed: would wait for dev\n"
    assert waits(ci, project).stdout == "wait-changed: would wait for dev\n"


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("order: [dev]\nverify:\n  dev: {window: 5m}\n", "verify.dev.max_error_ratio is missing"),
        (b"order: [dev, prod]\n# \xff\n", "gitops/promotion.yaml at "),
    ],
)
def test_a_bad_policy_stops_verify_with_exit_2(project, ci, policy, message):
    project.write("gitops/promotion.yaml", policy)
    project.set_tag("dev", "2222bbbb")  # commits the policy with the promotion
    result = waits(ci, project, "--verify")
    assert result.returncode == 2
    assert message in result.stderr
    assert waits(ci, project).returncode == 0  # without --verify, the policy is not read
