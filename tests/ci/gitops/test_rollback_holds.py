"""Rollback walks back and holds; hold/unhold; deploy and promote refuse a held environment."""

import json
import re
import shutil

import pytest

from app import SERVICE_NAME
from ci import chart
from ci.gitops.holds import Hold, format_hold, hold_path, parse_hold
from ci.gitops.values import ValuesError
from tests.support.cli import run_ci
from tests.support.git_remotes import (
    copy_deploy_layout,
    git,
    install_first_push_commit_hook,
    show,
)

DEV = "gitops/dev/values.yaml"
HOLD = "gitops/dev/hold.yaml"
WHO = {"GITLAB_USER_LOGIN": "alice", "GITLAB_USER_EMAIL": "alice@example.com"}


def tip(remote) -> str:
    return git("rev-parse", "main", cwd=remote.bare).strip()


def tag_of(remote, path: str = DEV) -> str:
    line = next(line for line in show(remote.bare, path).splitlines() if "tag:" in line)
    return line.split(":", 1)[1].strip().strip('"')


def deploy(remote, tag: str, *extra: str, env=None):
    return run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", tag, *extra, env=env)


def hold_of(remote, env: str = "dev") -> Hold | None:
    try:
        text = show(remote.bare, hold_path(env))
    except RuntimeError:
        return None
    return parse_hold(text, hold_path(env))


@pytest.fixture
def deployed(remote):
    """dev ran A, then B, then C (C is live)."""
    tags = [remote.source.short(n) for n in (1, 2, 3)]
    for tag in tags:
        assert deploy(remote, tag).returncode == 0
    return tags


@pytest.mark.integration
def test_successive_rollbacks_walk_back_and_never_return_to_a_rolled_back_build(remote, deployed):
    a, b, c = deployed
    first = run_ci("rollback", "--repo", remote.url, "--env", "dev", env=WHO)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"rollback(dev): {SERVICE_NAME} {b} (was {c}) [skip ci]")
    assert tag_of(remote) == b
    message = git("log", "-1", "--format=%B", "main", cwd=remote.bare)
    assert f"Rolled-Back-From: {c}" in message
    # The rollback and its hold are one commit.
    changed = git("show", "--name-only", "--format=", "main", cwd=remote.bare).split()
    assert sorted(changed) == [HOLD, DEV]

    second = run_ci("rollback", "--repo", remote.url, "--env", "dev", env=WHO)
    assert second.returncode == 0, second.stderr
    assert tag_of(remote) == a  # not back to C
    assert hold_of(remote).rolled_back_from == b

    third = run_ci("rollback", "--repo", remote.url, "--env", "dev", env=WHO)
    assert third.returncode == 0, third.stderr
    assert tag_of(remote) == "0.0.0-bootstrap"
    before = tip(remote)
    fourth = run_ci("rollback", "--repo", remote.url, "--env", "dev", env=WHO)
    assert fourth.returncode == 1
    assert fourth.stderr.startswith("error: no earlier build to roll back to")
    assert tip(remote) == before


@pytest.mark.integration
def test_a_build_deployed_again_after_its_rollback_is_a_rollback_target_again(remote, deployed):
    _a, _b, c = deployed
    assert run_ci("rollback", "--repo", remote.url, "--env", "dev").returncode == 0  # C -> B
    assert run_ci("unhold", "--repo", remote.url, "--env", "dev").returncode == 0
    d = remote.source.short(4)
    assert deploy(remote, c).returncode == 0  # C fixed by config, deployed again
    assert deploy(remote, d).returncode == 0
    result = run_ci("rollback", "--repo", remote.url, "--env", "dev")
    assert result.returncode == 0, result.stderr
    assert tag_of(remote) == c


@pytest.mark.integration
def test_rollback_to_only_takes_a_tag_the_environment_ran(remote, deployed):
    a, _b, c = deployed
    before = tip(remote)
    never = remote.source.short(7)
    result = run_ci("rollback", "--repo", remote.url, "--env", "dev", "--to", never)
    assert result.returncode == 2
    assert result.stderr == (
        f"error: {never} never ran in dev (not in the history of {DEV}): --to takes a tag this"
        " environment ran before; nothing pushed\n"
    )
    assert tip(remote) == before
    ok = run_ci("rollback", "--repo", remote.url, "--env", "dev", "--to", a)
    assert ok.returncode == 0, ok.stderr
    assert tag_of(remote) == a
    assert hold_of(remote).rolled_back_from == c


@pytest.mark.integration
def test_rollback_holds_deploy_and_promote_refuse_force_overrides_unhold_releases(remote, deployed):
    _a, _b, c = deployed
    reason = "500s after #1249 — rolling back"
    rolled = run_ci("rollback", "--repo", remote.url, "--env", "dev", "--reason", reason, env=WHO)
    assert rolled.returncode == 0, rolled.stderr
    hold = hold_of(remote)
    assert (hold.env, hold.by, hold.reason, hold.rolled_back_from) == (
        "dev",
        "alice <alice@example.com>",
        reason,
        c,
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", hold.since)

    before = tip(remote)
    refused = deploy(remote, remote.source.short(5))
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert refused.stderr == (
        f"error: dev is held by alice <alice@example.com> since {hold.since}: {reason}:"
        " nothing pushed; release it with `python -m ci unhold --env dev` (pipeline job"
        " unhold-dev), or pass --force\n"
    )
    promote = run_ci("promote", "--repo", remote.url, "--from", "prod", "--to", "dev")
    assert promote.returncode == 1
    assert "dev is held by alice" in promote.stderr
    assert tip(remote) == before
    # Promoting out of a held environment is fine: only the target's hold counts.
    out = run_ci("promote", "--repo", remote.url, "--from", "dev", "--to", "prod")
    assert out.returncode == 0, out.stderr

    forced = deploy(remote, remote.source.short(5), "--force")
    assert forced.returncode == 0, forced.stderr
    message = git("log", "-1", "--format=%B", "main", cwd=remote.bare)
    assert message.splitlines()[0].endswith("(forced) [skip ci]")
    assert "Forced with --force over a hold: dev is held by alice" in message
    assert hold_of(remote) == hold  # the hold stays until released

    status = run_ci("status", "--repo", remote.url, "--json")
    rows = {row["env"]: row for row in json.loads(status.stdout)}
    assert rows["dev"]["hold"]["reason"] == reason
    assert rows["prod"]["hold"] is None

    released = run_ci("unhold", "--repo", remote.url, "--env", "dev")
    assert released.returncode == 0, released.stderr
    assert released.stdout.startswith("unhold(dev): released [skip ci]: pushed ")
    assert hold_of(remote) is None
    assert deploy(remote, remote.source.short(6)).returncode == 0
    again = run_ci("unhold", "--repo", remote.url, "--env", "dev")
    assert again.stdout == "dev is not held: nothing to do\n"


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


@pytest.mark.integration
def test_a_retried_rollback_does_not_bring_back_the_build_it_rolled_back_from(remote, deployed):
    """Another operator's rollback from C lands between our fetch and push: ours retries, sees C
    is gone because of a rollback from C, and does nothing (never to A, never back to C)."""
    _a, b, c = deployed
    marker = install_first_push_commit_hook(
        remote.bare,
        f"sed -i 's/{c}/{b}/' {DEV}",
        f"rollback(dev): {SERVICE_NAME} {b} (was {c}) [skip ci]\n\nRolled-Back-From: {c}\n",
    )
    result = run_ci("rollback", "--repo", remote.url, "--env", "dev")
    assert marker.exists()
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"dev was rolled back from {c} meanwhile (now {b}): nothing to do\n"
    assert tag_of(remote) == b


@pytest.mark.integration
def test_a_retried_rollback_overtaken_by_a_deploy_rolls_back_nothing(remote, deployed):
    _a, _b, c = deployed
    d = remote.source.short(8)
    marker = install_first_push_commit_hook(
        remote.bare, f"sed -i 's/{c}/{d}/' {DEV}", f"deploy(dev): {SERVICE_NAME} {d}"
    )
    result = run_ci("rollback", "--repo", remote.url, "--env", "dev")
    assert marker.exists()
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"error: dev now runs {d}, not {c} which this rollback was from: nothing pushed"
        f" (roll back again to roll back {d})"
    )
    assert tag_of(remote) == d


# -- the hold record ----------------------------------------------------------------------------


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


@pytest.mark.integration
def test_a_malformed_hold_file_stops_deploy_with_exit_2_and_status_shows_it(remote):
    work = remote.source.path
    (work / "gitops" / "dev" / "hold.yaml").write_text("by: [unclosed\n")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "broken hold", cwd=work)
    git("push", "-q", str(remote.bare), "HEAD:main", cwd=work)
    result = deploy(remote, remote.source.short(2))
    assert result.returncode == 2
    assert result.stderr.startswith("error: gitops/dev/hold.yaml: not valid YAML")
    assert len(result.stderr.splitlines()) == 1
    status = run_ci("status", "--repo", remote.url)
    assert status.returncode == 0
    lines = status.stdout.splitlines()
    assert "error: gitops/dev/hold.yaml: not valid YAML" in lines[1]
    assert lines[2].startswith("prod")


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


@pytest.mark.integration
def test_a_retried_rollback_job_does_not_roll_back_a_second_build(remote, deployed):
    """GitLab's retry of rollback-dev (same pipeline, same job) after its first run landed does
    nothing; the same button in a new pipeline goes one build further back."""
    a, b, c = deployed
    job = {
        "CI_PIPELINE_URL": "https://gitlab.example/acme/app/-/pipelines/77",
        "CI_JOB_NAME": "rollback-dev",
    }
    first = run_ci("rollback", "--repo", remote.url, "--env", "dev", env=job)
    assert first.returncode == 0, first.stderr
    message = git("log", "-1", "--format=%B", "main", cwd=remote.bare)
    assert f"Rollback-Job: rollback-dev in {job['CI_PIPELINE_URL']}" in message
    before = tip(remote)
    retried = run_ci("rollback", "--repo", remote.url, "--env", "dev", env=job)
    assert retried.returncode == 0, retried.stderr
    assert retried.stdout.startswith(f"this job already rolled dev back from {c} to {b} (")
    assert tip(remote) == before
    later = {**job, "CI_PIPELINE_URL": job["CI_PIPELINE_URL"].replace("77", "78")}
    further = run_ci("rollback", "--repo", remote.url, "--env", "dev", env=later)
    assert further.returncode == 0, further.stderr
    assert tag_of(remote) == a
