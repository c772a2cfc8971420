"""The same commands through ``ci.cli.main`` in this process (what coverage measures)."""

import json

import pytest

from app import SERVICE_NAME
from ci.cli import main
from tests.support.cli import STRIPPED_PREFIXES
from tests.support.git_remotes import git, show


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch):
    import os

    for name in list(os.environ):
        if name.startswith(STRIPPED_PREFIXES):
            monkeypatch.delenv(name)


def test_deploy_stale_dry_run_promote_rollback_status(remote, capsys, monkeypatch):
    url = remote.url
    old, new = remote.source.short(2), remote.source.short(9)
    monkeypatch.setenv("GITLAB_USER_LOGIN", "carol")
    assert main(["deploy", "--repo", url, "--env", "dev", "--tag", new]) == 0
    assert capsys.readouterr().out.startswith(f"deploy(dev): {SERVICE_NAME} {new} [skip ci]")

    assert main(["deploy", "--repo", url, "--env", "dev", "--tag", old]) == 0
    assert "a newer build than" in capsys.readouterr().out

    monkeypatch.setenv("GITOPS_DRY_RUN", "true")
    assert main(["promote", "--repo", url, "--from", "dev", "--to", "prod"]) == 0
    assert f'+  tag: "{new}"' in capsys.readouterr().out.splitlines()
    monkeypatch.delenv("GITOPS_DRY_RUN")
    assert 'tag: "0.0.0-bootstrap"' in show(remote.bare, "gitops/prod/values.yaml")

    assert main(["promote", "--repo", url, "--from", "dev", "--to", "prod"]) == 0
    assert main(["rollback", "--repo", url, "--env", "prod"]) == 0
    assert "(was " in capsys.readouterr().out
    assert 'tag: "0.0.0-bootstrap"' in show(remote.bare, "gitops/prod/values.yaml")

    assert main(["status", "--repo", url, "--json"]) == 0
    rows = {row["env"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["dev"]["tag"] == new
    assert rows["dev"]["set_by"] == "carol"
    assert rows["dev"]["source_subject"] == "feature 10"
    assert rows["prod"]["tag"] == "0.0.0-bootstrap"
    assert git("log", "-1", "--format=%an", "main", cwd=remote.bare).strip() == "gitops-bot"


def test_errors_map_to_exit_codes(remote, capsys):
    assert main(["deploy", "--repo", remote.url, "--env", "qa", "--tag", "x"]) == 2
    assert capsys.readouterr().err == (
        "error: unknown environment 'qa' for --env (known: dev, prod)\n"
    )
    assert main(["rollback", "--repo", remote.url, "--env", "dev"]) == 1
    assert capsys.readouterr().err.startswith("error: no earlier build to roll back to")
