"""Static checks of .gitlab-ci.yml: GitLab's schema, and the rules the pipeline promises.

Fast and tool-free (they run in ``make unit``); ``test_pipeline.py`` runs the file for real.
"""

import copy
import functools
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from app import SERVICE_NAME
from ci.gitlab import GitLabContext
from ci.gitops.merge_request import without_skip_ci
from ci.gitops.message import Change, commit_message
from ci.wait.loop import EXIT_SUPERSEDED, UNVERIFIED, WaitPlan, plan_wait
from tests.e2e.gitlab_ci_local import PipelineRun, needs_of

ROOT = Path(__file__).resolve().parents[2]
CI_FILE = ROOT / ".gitlab-ci.yml"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
TRANSFORM = ("--data-transform", "gitlab-ci")
# Keys of .gitlab-ci.yml that are not jobs.
GLOBAL_KEYS = {"stages", "workflow", "variables", "default", "include", "image", "cache"}
# What a script line may start with: named commands that also work on a laptop.
COMMANDS = ("make ", "python -m ci ", "python3 scripts/", "ruff ", "check-jsonschema ", ". ")


def schema_check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.gitlab-ci", *TRANSFORM, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


@functools.cache
def _parsed_config() -> dict:
    return yaml.safe_load(CI_FILE.read_text())


def config() -> dict:
    """.gitlab-ci.yml, parsed once per run (90 ms each time), a copy of its own per caller."""
    return copy.deepcopy(_parsed_config())


def jobs(data: dict) -> dict[str, dict]:
    """Jobs with their ``extends`` chain (hashes deep-merged, as GitLab does) and ``default``."""

    def merge(base: dict, override: dict) -> dict:
        merged = dict(base)
        for key, value in override.items():
            both = isinstance(value, dict) and isinstance(merged.get(key), dict)
            merged[key] = merge(merged[key], value) if both else value
        return merged

    def resolve(name: str) -> dict:
        job = data[name]
        merged: dict = {}
        for parent in [job["extends"]] if isinstance(job.get("extends"), str) else []:
            merged = merge(merged, resolve(parent))
        return merge(merged, {k: v for k, v in job.items() if k != "extends"})

    defaults = data.get("default", {})
    return {
        name: {**defaults, **resolve(name)}
        for name in data
        if name not in GLOBAL_KEYS and not name.startswith(".")
    }


@pytest.mark.integration
def test_passes_gitlab_ci_schema() -> None:
    result = schema_check(CI_FILE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "ok -- validation done"


@pytest.mark.integration
def test_schema_check_rejects_a_broken_pipeline(tmp_path: Path) -> None:
    broken = tmp_path / ".gitlab-ci.yml"
    broken.write_text(CI_FILE.read_text().replace("when: manual", "when: sometimes", 1))
    result = schema_check(broken)
    assert result.returncode == 1
    assert "Schema validation errors were encountered." in result.stdout + result.stderr


def test_every_job_stage_is_declared() -> None:
    data = config()
    stages = data["stages"]
    assert stages == ["check", "test", "build", "deploy"]
    assert {
        name: job["stage"] for name, job in jobs(data).items() if job["stage"] not in stages
    } == {}


def deployment_jobs() -> dict[str, dict]:
    """Jobs that are deployments (`environment:` without a non-deployment `action:`)."""
    return {
        name: job
        for name, job in jobs(config()).items()
        if job.get("environment", {}).get("action", "start") == "start" and "environment" in job
    }


def write_back_jobs() -> dict[str, dict]:
    """Jobs that change what an environment runs: deploy, promote, rollback."""
    return {
        name: job
        for name, job in jobs(config()).items()
        if re.match(r"python -m ci (deploy|promote|rollback) ", job["script"][0])
    }


def test_deploy_jobs_are_never_interrupted_nor_queued_behind_another_deploys_wait() -> None:
    """A newer deploy must be able to push while an older one waits for Argo CD (and supersede
    it): no resource_group; the write-back itself is race-safe."""
    deploys = write_back_jobs()
    assert set(deploys) == {"deploy-dev", "promote-prod", "rollback-dev", "rollback-prod"}
    for name, job in deploys.items():
        assert job["interruptible"] is False, name
        assert "resource_group" not in job, name
        assert job["environment"]["deployment_tier"] in {"development", "production"}, name


def test_each_change_of_an_environment_is_one_gitlab_deployment() -> None:
    """dev's pipeline deployment is verify-dev (its status the SLO verdict; cancelled by a newer
    pipeline: canceled), so deploy-dev only prepares dev; the buttons are deployments."""
    deploys = deployment_jobs()
    assert set(deploys) == {"verify-dev", "promote-prod", "rollback-dev", "rollback-prod"}
    all_jobs = jobs(config())
    assert all_jobs["deploy-dev"]["environment"]["action"] == "prepare"
    verify = all_jobs["verify-dev"]
    assert verify["environment"] == {
        "name": "dev",
        "url": "$DEV_URL",
        "deployment_tier": "development",
    }
    assert verify["needs"] == ["build", "deploy-dev"]
    assert verify["interruptible"] is True
    assert verify["script"] == ['python -m ci verify --env dev --tag "$IMAGE_TAG" --if-configured']
    assert verify["variables"] == {"VERIFY_URL": "$DEV_URL"}


def test_write_back_jobs_wait_for_argo_cd_and_superseded_is_a_warning(monkeypatch) -> None:
    """Green means Argo CD runs the build (when ARGOCD_SERVER is set); exit 3 is allowed."""
    deploys = write_back_jobs()
    monkeypatch.delenv("ARGOCD_SERVER", raising=False)
    for name, job in deploys.items():
        (command,) = job["script"]
        assert re.match(r"python -m ci (deploy|promote|rollback) ", command), name
        assert job["variables"]["GITOPS_WAIT"] == "auto", name
        assert job["allow_failure"] == {"exit_codes": [EXIT_SUPERSEDED]}, name
        # Manual buttons stay non-blocking: their rule allows any failure (shown as a warning).
        manual = [rule for rule in job["rules"] if rule.get("when") == "manual"]
        assert all(rule["allow_failure"] is True for rule in manual), name
    # What the jobs do without ARGOCD_SERVER: push, then say so in one line.
    assert plan_wait("auto", "dev") == WaitPlan(note=UNVERIFIED)
    assert "\n" not in UNVERIFIED


def test_unhold_jobs_are_manual_serialized_and_never_interrupted() -> None:
    """One manual unhold-<env> per environment: it pushes to the gitops branch like a deploy."""
    unholds = {name: job for name, job in jobs(config()).items() if name.startswith("unhold-")}
    assert set(unholds) == {"unhold-dev", "unhold-prod"}
    for name, job in unholds.items():
        env = name.removeprefix("unhold-")
        assert job["script"] == [f"python -m ci unhold --env {env}"], name
        assert job["resource_group"] == env, name
        assert job["interruptible"] is False, name
        assert job["rules"][0]["when"] == "manual", name


def test_other_jobs_are_interruptible() -> None:
    others = {
        name
        for name, job in jobs(config()).items()
        if "environment" not in job and not name.startswith("unhold-")
    }
    assert others == {
        "lint",
        "chart-lint",
        "gitops-check",
        "ci-config",
        "unit",
        "integration",
        "build",
        "wait-gitops",
    }
    assert all(jobs(config())[name]["interruptible"] is True for name in others)


def test_images_are_pinned() -> None:
    images = {job["image"] for job in jobs(config()).values()}
    for image in images:
        assert re.fullmatch(r"[\w./-]+:[\w.-]+(@sha256:[0-9a-f]{64})?", image), image
        assert not image.endswith(":latest"), image


def test_scripts_only_run_named_commands() -> None:
    """No logic in YAML: every line calls make, ``python -m ci``, ruff or check-jsonschema."""
    for name, job in jobs(config()).items():
        for line in job.get("before_script", []) + job["script"]:
            assert line.startswith(COMMANDS), f"{name}: {line}"
            assert not re.search(r"&&|\|\||;|(?<![-\w])if\b(?!-)", line), f"{name}: {line}"


@pytest.mark.parametrize(
    ("job", "rule"),
    [
        ("deploy-dev", {"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"}),
        ("promote-prod", {"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH", "when": "manual"}),
    ],
)
def test_default_branch_rules(job: str, rule: dict) -> None:
    first = jobs(config())[job]["rules"][0]
    assert {k: first[k] for k in rule} == rule


def never_rules() -> dict[str, re.Pattern[str]]:
    """workflow:rules that stop a pipeline: variable -> its regex (GitLab's /.../ syntax)."""
    found = {}
    for rule in config()["workflow"]["rules"]:
        if rule.get("when") == "never" and "=~" in rule["if"]:
            match = re.fullmatch(r"\$(\w+) =~ /(.*)/", rule["if"])
            assert match, rule["if"]
            found[match[1]] = re.compile(match[2])
    return found


@pytest.mark.parametrize(
    ("action", "extra"),
    [
        ("deploy", {}),
        ("promote", {"source_env": "dev"}),
        ("rollback", {"previous": "0123abcd"}),
        ("hold", {"reason": "freeze"}),
        ("unhold", {}),
    ],
)
def test_write_back_commits_start_no_pipeline(action: str, extra: dict) -> None:
    """The messages ``python -m ci deploy|promote|rollback|hold|unhold`` push to the branch skip
    CI; the same commit sent by merge request does not (its MR and merge pipelines must run), and
    is gitops-only, so its pipelines build and deploy nothing (see the tests below)."""
    change = Change(
        action=action,
        env="prod",
        service=SERVICE_NAME,
        tag="89abcdef",
        path="gitops/prod/values.yaml",
        **{"previous": None, **extra},
    )
    message = commit_message(change, GitLabContext())
    rules = never_rules()
    # CI_COMMIT_BRANCH: the merge-request route's branches (tests/e2e/test_pipeline_rollout.py).
    assert set(rules) == {"CI_COMMIT_MESSAGE", "CI_COMMIT_BRANCH"}
    assert rules["CI_COMMIT_MESSAGE"].search(message)
    assert not rules["CI_COMMIT_MESSAGE"].search(without_skip_ci(message))


def test_ordinary_commits_start_a_pipeline() -> None:
    rules = never_rules()
    assert not rules["CI_COMMIT_MESSAGE"].search("fix(api): skip cinema listings\n\nbody")
    assert not rules["CI_COMMIT_MESSAGE"].search(f"deploy(dev): {SERVICE_NAME} 1a2b3c4d")


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A rules:changes glob as GitLab matches it (``**/`` any folders, ``*`` within one)."""
    out = ""
    for part in re.split(r"(\*\*/|\*|\?)", pattern):
        out += {"**/": "(?:.*/)?", "*": "[^/]*", "?": "[^/]"}.get(part, re.escape(part))
    return re.compile(out)


def matches(path: str, patterns: list[str]) -> bool:
    return any(glob_regex(pattern).fullmatch(path) for pattern in patterns)


def changes() -> dict[str, list[str]]:
    return config()[".changes"]


def gitops_only(path: str) -> bool:
    return path.startswith("gitops/") or re.fullmatch(r"values\.[^/]+\.yaml", path) is not None


def test_code_changes_cover_every_file_but_the_gitops_ones() -> None:
    """A new top-level file or folder must be added to .changes.code, or it would skip the build."""
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert tracked
    code, gitops = changes()["code"], changes()["gitops"]  # parsed once, not per file
    for path in tracked:
        assert matches(path, code) != gitops_only(path), path
        assert matches(path, gitops) == gitops_only(path), path
    for path in ("gitops/prod/values.yaml", "gitops/prod/hold.yaml", "values.staging.yaml"):
        assert not matches(path, code), path
        assert matches(path, gitops), path


@pytest.mark.parametrize("job", ["build", "deploy-dev", "verify-dev"])
def test_gitops_only_pipelines_build_and_deploy_nothing(job: str) -> None:
    """Every rule that can add the job requires a code change: a merged promotion or a values
    change never builds an image or deploys dev (and so never writes back by itself)."""
    rules = jobs(config())[job]["rules"]
    assert rules
    for rule in rules:
        assert rule.get("when") == "never" or rule.get("changes") == changes()["code"], rule


def test_automatic_write_backs_need_a_code_change() -> None:
    """No job that writes back runs by itself unless the pipeline changed code."""
    for name, job in jobs(config()).items():
        if "environment" not in job:
            continue
        for rule in job.get("rules", []):
            automatic = rule.get("when", "on_success") == "on_success"
            assert not automatic or rule.get("changes") == changes()["code"], (name, rule)


def test_wait_gitops_runs_only_for_gitops_only_default_branch_changes() -> None:
    job = jobs(config())["wait-gitops"]
    assert job["script"] == ["python -m ci wait-changed"]
    assert job["needs"] == []
    assert job["allow_failure"] == {"exit_codes": [EXIT_SUPERSEDED]}  # a newer change won
    assert job["rules"] == [
        {"changes": changes()["code"], "when": "never"},
        {
            "if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $ARGOCD_SERVER && $PROMETHEUS_URL",
            "changes": changes()["gitops"],
            "variables": {"GITOPS_VERIFY": "true"},  # verified too, as verify-dev does
        },
        {
            "if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $ARGOCD_SERVER",
            "changes": changes()["gitops"],
        },
    ]


def test_promote_prod_follows_dev_and_the_integration_tests_when_the_pipeline_has_them() -> None:
    needs = jobs(config())["promote-prod"]["needs"]
    assert needs == [
        {"job": "build", "optional": True},
        {"job": "deploy-dev", "optional": True},
        {"job": "integration", "optional": True},
    ]


def test_dev_is_gated_by_the_fast_checks_and_prod_by_every_test() -> None:
    """Lint, unit and the build gate dev (about a minute); the integration tier gates prod."""
    all_jobs = jobs(config())
    assert all_jobs["deploy-dev"]["needs"] == [
        "lint",
        "chart-lint",
        "ci-config",
        "unit",
        "build",
        {"job": "sign", "optional": True},  # present when SIGNING is on
    ]
    assert all_jobs["unit"]["needs"] == []
    assert all_jobs["integration"]["needs"] == ["unit"]  # fail fast: after the unit tier passed


@pytest.mark.parametrize("name", ["unit", "integration"])
def test_the_test_jobs_run_for_code_changes_only(name: str) -> None:
    assert jobs(config())[name]["rules"] == [{"changes": changes()["code"]}]


def test_gitops_check_runs_in_every_merge_request() -> None:
    """Whatever the MR changes (a chart template can change the image prod runs too)."""
    job = jobs(config())["gitops-check"]
    assert job["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    assert job["script"] == ["python -m ci check"]
    # The target branch's history must be fetchable in full; images verified.
    assert job["variables"]["GIT_DEPTH"] == "0"
    assert job["variables"]["GITOPS_VERIFY_IMAGE"] == "true"
    assert job["needs"] == []


@pytest.mark.parametrize("job", ["promote-prod", "rollback-prod", "unhold-prod"])
def test_prod_write_backs_go_by_merge_request_when_the_project_asks(job: str) -> None:
    """One CI/CD variable, PROMOTE_BY_MERGE_REQUEST, off by default, switches prod's route."""
    assert config()["variables"]["PROMOTE_BY_MERGE_REQUEST"] == "false"
    assert jobs(config())[job]["variables"]["GITOPS_MERGE_REQUEST"] == "$PROMOTE_BY_MERGE_REQUEST"
    others = {
        name: job.get("variables", {})
        for name, job in jobs(config()).items()
        if name not in ("promote-prod", "rollback-prod", "unhold-prod")
    }
    assert {name for name, v in others.items() if "GITOPS_MERGE_REQUEST" in v} == set()


def test_the_critical_path_follows_needs_not_gitlab_ci_locals_batches(tmp_path: Path) -> None:
    """Dev's path: the slowest of its needs, then deploy-dev, then verify-dev; not integration."""
    run = PipelineRun(
        returncode=0,
        output="",
        wall=320.0,
        started={"lint": 1, "unit": 1, "integration": 1, "build": 1, "deploy-dev": 300},
        finished={"lint": 13, "unit": 61, "integration": 290, "build": 41, "deploy-dev": 306},
    )
    run.started["verify-dev"], run.finished["verify-dev"] = 306.0, 309.0
    needs = needs_of(ROOT / ".gitlab-ci.yml")
    assert run.end_by_needs("verify-dev", needs) == 60 + 6 + 3
    config = tmp_path / ".gitlab-ci.yml"
    config.write_text(
        "stages: [test, deploy]\n.base: {stage: deploy}\n"
        "a: {stage: test, script: [x]}\nb: {extends: .base, script: [y]}\n"
    )
    assert needs_of(config) == {"a": [], "b": ["a"]}  # no needs: every earlier stage's job


def test_sign_runs_apart_from_build_with_the_key_scoped_to_it() -> None:
    """The build's script never sees the signing key: only the signing jobs are in the `signing`
    environment its variables are scoped to. `sign` writes what deploys verify (signature and
    provenance); `sbom`, after it and beside deploy-dev, the SBOM and GitLab's cyclonedx report,
    for every signed build (not interruptible)."""
    all_jobs = jobs(config())
    sign, sbom = all_jobs["sign"], all_jobs["sbom"]
    assert sign["needs"] == ["build"]
    assert sign["script"] == ["python -m ci sign --only trust"]
    assert "artifacts" not in sign
    assert sbom["needs"] == ["build", "sign"]  # cosign keeps both attestations under one tag
    assert sbom["script"] == ["python -m ci sign --only sbom"]
    assert sbom["artifacts"]["reports"] == {"cyclonedx": "gl-sbom.cdx.json"}
    assert sbom["interruptible"] is False
    for job in (sign, sbom):
        assert job["environment"] == {"name": "signing", "action": "prepare"}
        assert job["rules"][0]["if"] == '$SIGNING == "true"'
    scoped = [
        name
        for name, job in all_jobs.items()
        if isinstance(job.get("environment"), dict) and job["environment"]["name"] == "signing"
    ]
    assert scoped == ["sign", "sbom"]
    assert "sign" not in str(all_jobs["build"])
    assert "sbom" not in str(all_jobs["deploy-dev"]["needs"])  # not on dev's path


def test_the_build_commits_once_per_stage_on_vfs() -> None:
    """vfs copies the root filesystem for every step: the build job keeps no layers, and so no
    registry layer cache either (measured: docs/benchmarks.md, "Pipeline")."""
    variables = jobs(config())["build"]["variables"]
    assert variables["STORAGE_DRIVER"] == "vfs"
    assert variables["BUILD_LAYERS"] == "false"
    assert "BUILD_CACHE" not in variables
