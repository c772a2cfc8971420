"""``python -m ci rollback --env ENV [--to TAG]`` against a real bare remote: successive rollbacks
walk back and never return to a build rolled back from; the rollback holds the environment (deploy
and promote refuse it, --force overrides, unhold releases); the pipeline link and the digest come
back with the tag; retried jobs and races roll back nothing twice."""

import json
import re

import pytest

from app import SERVICE_NAME
from tests.ci.commands.writes import (
    DEV,
    HOLD,
    PROD,
    WHO,
    A,
    B,
    deploy,
    hold_of,
    image,
    must_deploy,
    pipeline_env,
    pipeline_of,
)
from tests.support.cli import run_ci
from tests.support.git_remotes import git, install_first_push_commit_hook, show

pytestmark = pytest.mark.integration


@pytest.fixture
def deployed(remote):
    """dev ran A, then B, then C (C is live)."""
    tags = [remote.source.short(n) for n in (1, 2, 3)]
    for tag in tags:
        assert deploy(remote, tag).returncode == 0
    return tags


def test_successive_rollbacks_walk_back_and_never_return_to_a_rolled_back_build(remote, deployed):
    a, b, c = deployed
    first = run_ci("rollback", "--repo", remote.url, "--env", "dev", env=WHO)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"rollback(dev): {SERVICE_NAME} {b} (was {c}) [skip ci]")
    assert remote.tag() == b
    message = git("log", "-1", "--format=%B", "main", cwd=remote.bare)
    assert f"Rolled-Back-From: {c}" in message
    # The rollback and its hold are one commit.
    changed = git("show", "--name-only", "--format=", "main", cwd=remote.bare).split()
    assert sorted(changed) == [HOLD, DEV]

    second = run_ci("rollback", "--repo", remote.url, "--env", "dev", env=WHO)
    assert second.returncode == 0, second.stderr
    assert remote.tag() == a  # not back to C
    assert hold_of(remote).rolled_back_from == b

    third = run_ci("rollback", "--repo", remote.url, "--env", "dev", env=WHO)
    assert third.returncode == 0, third.stderr
    assert remote.tag() == "0.0.0-bootstrap"
    before = remote.tip()
    fourth = run_ci("rollback", "--repo", remote.url, "--env", "dev", env=WHO)
    assert fourth.returncode == 1
    assert fourth.stderr.startswith("error: no earlier build to roll back to")
    assert remote.tip() == before


def test_a_build_deployed_again_after_its_rollback_is_a_rollback_target_again(remote, deployed):
    _a, _b, c = deployed
    assert run_ci("rollback", "--repo", remote.url, "--env", "dev").returncode == 0  # C -> B
    assert run_ci("unhold", "--repo", remote.url, "--env", "dev").returncode == 0
    d = remote.source.short(4)
    assert deploy(remote, c).returncode == 0  # C fixed by config, deployed again
    assert deploy(remote, d).returncode == 0
    result = run_ci("rollback", "--repo", remote.url, "--env", "dev")
    assert result.returncode == 0, result.stderr
    assert remote.tag() == c


def test_rollback_to_only_takes_a_tag_the_environment_ran(remote, deployed):
    a, _b, c = deployed
    before = remote.tip()
    never = remote.source.short(7)
    result = run_ci("rollback", "--repo", remote.url, "--env", "dev", "--to", never)
    assert result.returncode == 2
    assert result.stderr == (
        f"error: {never} never ran in dev (not in the history of {DEV}): --to takes a tag this"
        " environment ran before; nothing pushed\n"
    )
    assert remote.tip() == before
    ok = run_ci("rollback", "--repo", remote.url, "--env", "dev", "--to", a)
    assert ok.returncode == 0, ok.stderr
    assert remote.tag() == a
    assert hold_of(remote).rolled_back_from == c


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

    before = remote.tip()
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
    assert remote.tip() == before
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
    assert remote.tag() == b


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
    assert remote.tag() == d


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
    before = remote.tip()
    retried = run_ci("rollback", "--repo", remote.url, "--env", "dev", env=job)
    assert retried.returncode == 0, retried.stderr
    assert retried.stdout.startswith(f"this job already rolled dev back from {c} to {b} (")
    assert remote.tip() == before
    later = {**job, "CI_PIPELINE_URL": job["CI_PIPELINE_URL"].replace("77", "78")}
    further = run_ci("rollback", "--repo", remote.url, "--env", "dev", env=later)
    assert further.returncode == 0, further.stderr
    assert remote.tag() == a


def test_rollback_to_previous_tag_and_to_an_explicit_tag(remote):
    first, second = remote.source.short(1), remote.source.short(2)
    for tag in (first, second):
        assert run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", tag).returncode == 0
    result = run_ci("rollback", "--repo", remote.url, "--env", "dev")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(
        f"rollback(dev): {SERVICE_NAME} {first} (was {second}) [skip ci]: pushed "
    )
    assert remote.tag() == first
    explicit = run_ci("rollback", "--repo", remote.url, "--env", "dev", "--to", "0.0.0-bootstrap")
    assert explicit.returncode == 0
    assert remote.tag() == "0.0.0-bootstrap"


def test_rollback_restores_the_pipeline_url_recorded_with_the_tag(remote):
    first, second, third = (remote.source.short(n) for n in (1, 2, 3))
    for number, tag in ((1, first), (2, second)):
        env = pipeline_env(number, remote.source.commits[number])
        result = run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", tag, env=env)
        assert result.returncode == 0, result.stderr
    assert run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", third).returncode == 0
    assert pipeline_of(remote) is None

    back = run_ci("rollback", "--repo", remote.url, "--env", "dev")
    assert back.returncode == 0, back.stderr
    assert (remote.tag(), pipeline_of(remote)) == (second, pipeline_env(2)["CI_PIPELINE_URL"])

    explicit = run_ci("rollback", "--repo", remote.url, "--env", "dev", "--to", first)
    assert explicit.returncode == 0, explicit.stderr
    assert (remote.tag(), pipeline_of(remote)) == (first, pipeline_env(1)["CI_PIPELINE_URL"])

    # A tag that ran without a pipeline: no URL, and no pipelineUrl line left behind.
    bootstrap = run_ci("rollback", "--repo", remote.url, "--env", "dev", "--to", "0.0.0-bootstrap")
    assert bootstrap.returncode == 0, bootstrap.stderr
    assert (remote.tag(), pipeline_of(remote)) == ("0.0.0-bootstrap", None)
    assert show(remote.bare, DEV) == show(remote.bare, PROD).replace("prod", "dev")

    back = run_ci("rollback", "--repo", remote.url, "--env", "dev", "--to", second)
    assert back.returncode == 0, back.stderr
    assert (remote.tag(), pipeline_of(remote)) == (second, pipeline_env(2)["CI_PIPELINE_URL"])


def test_rollback_without_history_fails_cleanly(remote):
    result = run_ci("rollback", "--repo", remote.url, "--env", "prod")
    assert result.returncode == 1
    assert result.stderr == (
        f"error: no earlier build to roll back to in the history of {PROD} (builds rolled back"
        " from are skipped): nothing pushed\n"
    )


def test_rollback_restores_the_digest_recorded_with_the_tag(remote):
    first, second, third = (remote.source.short(n) for n in (1, 2, 3))
    must_deploy(remote, first, "--digest", A)
    must_deploy(remote, second, "--digest", B)
    must_deploy(remote, third)

    back = run_ci("rollback", "--repo", remote.url, "--env", "dev")
    assert back.returncode == 0, back.stderr
    assert (image(remote).tag, image(remote).digest) == (second, B)

    explicit = run_ci("rollback", "--repo", remote.url, "--env", "dev", "--to", first)
    assert explicit.returncode == 0, explicit.stderr
    assert (image(remote).tag, image(remote).digest) == (first, A)

    # A tag that ran without a digest: the stale one goes. (A tag dev never ran is refused.)
    bare = run_ci("rollback", "--repo", remote.url, "--env", "dev", "--to", third)
    assert bare.returncode == 0, bare.stderr
    assert (image(remote).tag, image(remote).digest) == (third, None)


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (
            ["rollback", "--env", "dev", "--to", "bad tag"],
            "malformed image tag 'bad tag': expected"
            " 1-128 characters of [A-Za-z0-9_.-], not starting with '.' or '-'",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(remote, command, message):
    result = run_ci(*command, "--repo", remote.url)
    assert result.returncode == 2
    assert result.stderr == f"error: {message}\n"
