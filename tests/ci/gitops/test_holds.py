"""``ci.gitops.holds``: the hold file's record round-trips any text, a malformed file is named,
and Argo CD never reads it."""

import re
import shutil

import pytest

from ci import chart
from ci.gitops.holds import Hold, format_hold, hold_path, parse_hold
from ci.gitops.values import ValuesError
from tests.support.git_remotes import copy_deploy_layout


def test_hold_record_round_trips_any_text_and_rejects_malformed_files():
    hold = Hold("prod", 'Zoë "z" <z@x>', "2026-11-27T08:00:00Z", "a: b # c \\ 'q' ünï", "1a2b3c4d")
    assert parse_hold(format_hold(hold), "gitops/prod/hold.yaml") == hold
    for text, message in (
        ("by: [", "not valid YAML"),
        ("- a\n", "expected a mapping"),
        ("by: x\nsince: y\n", "'reason' must be a non-empty string"),
        ("by: x\nsince: 3\nreason: r\n", "'since' must be a non-empty string"),
    ):
        with pytest.raises(ValuesError, match=re.escape(message)):
            parse_hold(text, "gitops/prod/hold.yaml")


def test_argo_cd_ignores_the_hold_file(tmp_path):
    """The ApplicationSet's git files generator and the Applications' value files are the same with
    a hold file; so is every environment's render."""
    envs = ("dev", "prod")
    root = tmp_path / "repo"
    root.mkdir()
    copy_deploy_layout(root, envs)
    for env in envs:
        (root / "gitops" / env).mkdir(parents=True, exist_ok=True)
        shutil.copy(chart.REPO_ROOT / "gitops" / env / "values.yaml", root / "gitops" / env)
    before = {env: chart.render_env(env, root) for env in envs}
    apps_before = chart.applications(root)
    for env in envs:
        hold = Hold(env, "alice", "2026-11-27T08:00:00Z", "tag: evil\nimage: {}", "abc")
        (root / hold_path(env)).write_text(format_hold(hold))
    assert chart.applications(root) == apps_before
    assert {env: chart.render_env(env, root) for env in envs} == before
