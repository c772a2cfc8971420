"""``python -m ci status [--env ENV] [--json]`` against a real bare remote: what each environment
runs, since when, set by whom, built from which commit; its build's verdict and the rejected builds
(also a running one), in the table and in ``--json``."""

import json
import re

import pytest

from ci.gitlab import GitLabContext
from ci.gitops.plans.action import Action
from ci.gitops.plans.model import Request
from ci.gitops.verdicts import Outcome, Verdict
from ci.gitops.writeback import Target, apply
from tests.ci.commands.writes import GITLAB, WHO
from tests.support.cli import run_ci
from tests.support.git_remotes import PERSON, push_person_commit

pytestmark = pytest.mark.integration
DIGEST = "sha256:" + "cd" * 32


def test_status_table_and_json(remote):
    tag = remote.source.short(7)
    env = {**GITLAB, "CI_COMMIT_SHA": remote.source.commits[7]}
    assert (
        run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", tag, env=env).returncode
        == 0
    )
    table = run_ci("status", "--repo", remote.url)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert re.split(r"\s{2,}", lines[0]) == [
        "ENVIRONMENT",
        "TAG",
        "SET AT",
        "SET BY",
        "HOLD",
        "SOURCE COMMIT",
    ]
    dev = re.split(r"\s{2,}", lines[1])
    assert dev[0:2] == ["dev", tag]
    assert dev[3] == "alice <alice@example.com>"
    assert dev[4] == "-"
    assert dev[5] == f"{tag} feature 8"
    prod = re.split(r"\s{2,}", lines[2])
    assert prod[0:2] == ["prod", "0.0.0-bootstrap"]
    assert prod[3] == f"{PERSON['GIT_AUTHOR_NAME']} <{PERSON['GIT_AUTHOR_EMAIL']}>"
    assert len(lines) == 3

    data = json.loads(run_ci("status", "--repo", remote.url, "--env", "dev", "--json").stdout)
    assert [row["env"] for row in data] == ["dev"]
    assert data[0]["tag"] == tag
    assert data[0]["source_commit"] == remote.source.commits[7]
    assert data[0]["source_subject"] == "feature 8"
    assert data[0]["commit"] == remote.tip()


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["status", "--env", "qa"], "unknown environment 'qa' for --env (known: dev, prod)"),
    ],
)
def test_bad_input_exits_2_with_one_line(remote, command, message):
    result = run_ci(*command, "--repo", remote.url)
    assert result.returncode == 2
    assert result.stderr == f"error: {message}\n"


def test_status_shows_verdicts_and_rejected_builds(remote, ci):
    good, bad = remote.source.short(2), remote.source.short(3)
    for env, tag in (("prod", good), ("dev", bad)):
        args = ("--repo", remote.url, "--env", env, "--tag", tag, "--digest", DIGEST)
        assert ci("deploy", *args).returncode == 0
    verdict = Verdict(
        "dev", bad, DIGEST, Outcome.PASSED, 80, 0.0, 0.1, "2026-01-02T03:00:00Z",
        "2026-01-02T03:05:00Z",
    )  # fmt: skip
    ask = Request(Action.RECORD, "dev", tag=bad, digest=DIGEST, verdict=verdict)
    assert apply(Target(remote.url, "main"), ask, GitLabContext()).commit
    reason = "leaks memory"
    assert (
        ci("reject", "--repo", remote.url, "--tag", bad, "--reason", reason, env=WHO).returncode
        == 0
    )

    rows = {
        row["env"]: row for row in json.loads(ci("status", "--repo", remote.url, "--json").stdout)
    }
    assert rows["dev"]["verdict"]["outcome"] == "passed"
    assert rows["dev"]["verdict"]["since"] == "2026-01-02T03:05:00Z"
    assert rows["prod"]["verdict"] is None
    assert [entry["tag"] for entry in rows["prod"]["rejected"]] == [bad]
    assert rows["dev"]["rejected"][0]["reason"] == reason
    assert rows["dev"]["digest"] == DIGEST

    table = ci("status", "--repo", remote.url).stdout.splitlines()
    since = rows["dev"]["rejected"][0]["since"]
    rejection = f"{bad} is rejected by alice <alice@example.com> since {since}: {reason}"
    assert table[3:] == [
        f"dev: passed verification of {bad} in dev (80 requests, error ratio 0, p95 0.1s), since"
        " 2026-01-02T03:05:00Z",
        f"dev: runs a rejected build: {rejection}",
        f"rejected: {rejection}",
    ]
    only = json.loads(ci("status", "--repo", remote.url, "--env", "prod", "--json").stdout)
    assert [entry["tag"] for entry in only[0]["rejected"]] == [bad]


def test_unreadable_record_files_are_a_problem_in_each_row(remote, ci):
    push_person_commit(
        remote.bare,
        {"gitops/rejected.yaml": b"\xff", "gitops/dev/verdicts.yaml": "verdicts: ["},
        "odd",
    )
    result = ci("status", "--repo", remote.url, "--json")
    assert result.returncode == 0
    rows = {row["env"]: row for row in json.loads(result.stdout)}
    assert rows["prod"]["problem"] == "gitops/rejected.yaml is not UTF-8 (byte 0: 0xff)"
    assert rows["dev"]["problem"].startswith(
        "gitops/rejected.yaml is not UTF-8 (byte 0: 0xff); gitops/dev/verdicts.yaml: not valid YAML"
    )
    table = ci("status", "--repo", remote.url).stdout
    assert "error: gitops/rejected.yaml is not UTF-8" in table
