"""``python -m ci status [--env ENV] [--json]`` against a real bare remote: what each environment
runs, since when, set by whom, built from which commit."""

import json
import re

import pytest

from tests.ci.commands.writes import GITLAB
from tests.support.cli import run_ci
from tests.support.git_remotes import PERSON

pytestmark = pytest.mark.integration


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
