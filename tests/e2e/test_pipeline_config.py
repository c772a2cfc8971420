"""Static checks of .gitlab-ci.yml: GitLab's schema, and the rules the pipeline promises.

Fast and tool-free (they run in ``make unit``); ``test_pipeline.py`` runs the file for real.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ci.gitlab import GitLabContext
from ci.gitops.message import DEFAULT_AUTHOR_EMAIL, DEFAULT_AUTHOR_NAME, Change, commit_message

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


def config() -> dict:
    return yaml.safe_load(CI_FILE.read_text())


def jobs(data: dict) -> dict[str, dict]:
    """Jobs with their ``extends`` chain and ``default`` merged (one level deep, as GitLab)."""

    def resolve(name: str) -> dict:
        job = data[name]
        merged: dict = {}
        for parent in [job["extends"]] if isinstance(job.get("extends"), str) else []:
            merged.update(resolve(parent))
        merged.update({k: v for k, v in job.items() if k != "extends"})
        return merged

    defaults = data.get("default", {})
    return {
        name: {**defaults, **resolve(name)}
        for name in data
        if name not in GLOBAL_KEYS and not name.startswith(".")
    }


def test_passes_gitlab_ci_schema() -> None:
    result = schema_check(CI_FILE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "ok -- validation done"


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


def test_deploy_jobs_are_serialized_per_environment_and_never_interrupted() -> None:
    deploys = {name: job for name, job in jobs(config()).items() if "environment" in job}
    assert set(deploys) == {"deploy-dev", "promote-prod", "rollback-dev", "rollback-prod"}
    for name, job in deploys.items():
        assert job["interruptible"] is False, name
        assert job["resource_group"] == job["environment"]["name"], name
        assert job["environment"]["deployment_tier"] in {"development", "production"}, name


def test_other_jobs_are_interruptible() -> None:
    others = {name for name, job in jobs(config()).items() if "environment" not in job}
    assert others == {
        "lint",
        "chart-lint",
        "gitops-check",
        "ci-config",
        "unit",
        "build",
        "verify-dev",
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
            assert not re.search(r"&&|\|\||;|\bif\b", line), f"{name}: {line}"


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
    [("deploy", {}), ("promote", {"source_env": "dev"}), ("rollback", {"previous": "0123abcd"})],
)
def test_write_back_commits_start_no_pipeline(action: str, extra: dict) -> None:
    """The messages ``python -m ci deploy|promote|rollback`` really write match the backstops."""
    change = Change(
        action=action,
        env="prod",
        service="python-microservice",
        tag="89abcdef",
        path="gitops/prod/values.yaml",
        **{"previous": None, **extra},
    )
    message = commit_message(change, GitLabContext())
    rules = never_rules()
    assert set(rules) == {"CI_COMMIT_MESSAGE", "CI_COMMIT_TITLE", "CI_COMMIT_AUTHOR"}
    assert rules["CI_COMMIT_MESSAGE"].search(message)
    assert rules["CI_COMMIT_TITLE"].search(message.splitlines()[0])
    author = f"{DEFAULT_AUTHOR_NAME} <{DEFAULT_AUTHOR_EMAIL}>"
    assert rules["CI_COMMIT_AUTHOR"].search(author)


def test_ordinary_commits_start_a_pipeline() -> None:
    rules = never_rules()
    assert not rules["CI_COMMIT_MESSAGE"].search("fix(api): skip cinema listings\n\nbody")
    assert not rules["CI_COMMIT_TITLE"].search("deploy: document the deploy job")
    assert not rules["CI_COMMIT_AUTHOR"].search("Ada <ada@example.com>")


def test_gitops_check_runs_in_merge_requests_that_touch_gitops_files() -> None:
    job = jobs(config())["gitops-check"]
    assert job["rules"] == [
        {
            "if": '$CI_PIPELINE_SOURCE == "merge_request_event"',
            "changes": ["gitops/**/*", "values.*.yaml"],
        }
    ]
    assert job["script"] == ["python -m ci check"]
    # The base commit and the environments' history must be in the checkout; images verified.
    assert job["variables"]["GIT_DEPTH"] == "0"
    assert job["variables"]["GITOPS_VERIFY_IMAGE"] == "true"
    assert job["needs"] == []


@pytest.mark.parametrize("job", ["promote-prod", "rollback-prod"])
def test_prod_write_backs_go_by_merge_request_when_the_project_asks(job: str) -> None:
    """One CI/CD variable, PROMOTE_BY_MERGE_REQUEST, off by default, switches prod's route."""
    assert config()["variables"]["PROMOTE_BY_MERGE_REQUEST"] == "false"
    assert jobs(config())[job]["variables"]["GITOPS_MERGE_REQUEST"] == "$PROMOTE_BY_MERGE_REQUEST"
    others = {
        name: job.get("variables", {})
        for name, job in jobs(config()).items()
        if name not in ("promote-prod", "rollback-prod")
    }
    assert {name for name, v in others.items() if "GITOPS_MERGE_REQUEST" in v} == set()
