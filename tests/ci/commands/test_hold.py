"""``python -m ci hold --env ENV --reason TEXT`` against a real bare remote: the hold file alone
is committed, ``status`` shows it, a reason is required."""

import re

import pytest

from tests.ci.commands.writes import WHO
from tests.support.cli import run_ci
from tests.support.git_remotes import git


@pytest.mark.integration
def test_hold_by_hand_status_shows_it_and_a_reason_is_required(remote):
    missing = run_ci("hold", "--repo", remote.url, "--env", "prod")
    assert missing.returncode == 2
    assert missing.stderr == "error: --reason is required (say why the environment is held)\n"
    held = run_ci(
        "hold", "--repo", remote.url, "--env", "prod", "--reason", "freeze: release day", env=WHO
    )
    assert held.returncode == 0, held.stderr
    assert held.stdout.startswith("hold(prod): freeze: release day [skip ci]: pushed ")
    # Only the hold file changed; Argo CD's inputs did not.
    changed = git("show", "--name-only", "--format=", "main", cwd=remote.bare).split()
    assert changed == ["gitops/prod/hold.yaml"]
    same = run_ci("hold", "--repo", remote.url, "--env", "prod", "--reason", "freeze: release day")
    assert same.stdout.startswith("prod is held by alice <alice@example.com> since ")
    table = run_ci("status", "--repo", remote.url).stdout.splitlines()
    prod = re.split(r"\s{2,}", table[2])
    assert prod[0] == "prod"
    assert re.fullmatch(
        r"held by alice <alice@example.com> since \S+: freeze: release day", prod[4]
    )
    assert re.split(r"\s{2,}", table[1])[4] == "-"
    dry = run_ci("unhold", "--repo", remote.url, "--env", "prod", "--dry-run")
    assert dry.returncode == 0
    assert "--- a/gitops/prod/hold.yaml\n+++ /dev/null\n" in dry.stdout
