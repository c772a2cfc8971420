"""``record`` through the write-back loop (``ci.gitops.writeback.apply``) against a real bare
remote, as ``python -m ci verify`` records its verdict: a failed build still running is rolled
back, held and rejected in one commit that renders; a verification that finishes after a newer
deploy (before it, or racing it between fetch and push) records its verdict for its own build and
rolls back nothing it does not own; the same verdict twice changes nothing, even after an
unreject. And the loop's other freeze source (``apply(freezes=...)``)."""

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from app import SERVICE_NAME
from ci.gitlab import GitLabContext
from ci.gitops.freeze import Frozen
from ci.gitops.holds import parse_hold
from ci.gitops.plans.action import Action, Status
from ci.gitops.plans.guards import RefusedError
from ci.gitops.plans.model import Request
from ci.gitops.rejections import REJECTED_FILE, parse_rejections
from ci.gitops.verdicts import Outcome, Verdict, parse_verdicts
from ci.gitops.writeback import Retry, Target, apply
from tests.support.git_remotes import git, install_first_push_commit_hook, show

pytestmark = pytest.mark.integration
DEV, HOLD, VERDICTS = "gitops/dev/values.yaml", "gitops/dev/hold.yaml", "gitops/dev/verdicts.yaml"
DIGEST = "sha256:" + "ab" * 32
RETRY = Retry(attempts=5, base_seconds=0.01, cap_seconds=0.05)


def failed(tag: str) -> Verdict:
    return Verdict(
        "dev", tag, DIGEST, Outcome.FAILED, 812, 0.23, 0.41, "2026-01-02T03:00:00Z",
        "2026-01-02T03:05:00Z", "error ratio 0.23 above 0.01",
    )  # fmt: skip


def record(remote, verdict: Verdict, rollback: bool = True):
    ask = Request(
        Action.RECORD, "dev", tag=verdict.tag, digest=verdict.digest, verdict=verdict,
        rollback=rollback,
    )  # fmt: skip
    lines: list[str] = []
    outcome = apply(Target(remote.url, "main"), ask, GitLabContext(), retry=RETRY, log=lines.append)
    return outcome, lines


def deploy(ci, remote, tag: str, *args: str) -> None:
    result = ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", tag, *args)
    assert result.returncode == 0, result.stderr


def test_a_failed_build_still_running_is_rolled_back_held_and_rejected_in_one_commit(remote, ci):
    good, bad = remote.source.short(3), remote.source.short(4)
    deploy(ci, remote, good)
    deploy(ci, remote, bad, "--digest", DIGEST)
    outcome, _ = record(remote, failed(bad))
    assert outcome.status == Status.PUSHED
    assert outcome.line.startswith(f"rollback(dev): {SERVICE_NAME} {good} (was {bad}) [skip ci]")
    changed = git("show", "--name-only", "--format=", "main", cwd=remote.bare).split()
    assert sorted(changed) == sorted([DEV, HOLD, VERDICTS, REJECTED_FILE])
    assert remote.tag(DEV) == good
    assert parse_hold(show(remote.bare, HOLD), HOLD).rolled_back_from == bad
    assert parse_verdicts(show(remote.bare, VERDICTS), VERDICTS) == (failed(bad),)
    assert [r.tag for r in parse_rejections(show(remote.bare, REJECTED_FILE))] == [bad]
    again, _ = record(remote, failed(bad))
    assert (again.status, again.line) == (
        Status.UNCHANGED,
        f"this verdict on {bad} in dev is recorded already: nothing to do",
    )
    assert ci("unreject", "--repo", remote.url, "--tag", bad, "--reason", "flaky").returncode == 0
    retried, _ = record(remote, failed(bad))
    assert retried.status == Status.UNCHANGED  # a retried job never rejects it again
    assert parse_rejections(show(remote.bare, REJECTED_FILE)) == ()


def test_a_verdict_after_a_newer_deploy_rolls_back_nothing_it_does_not_own(remote, ci):
    bad, newer = remote.source.short(4), remote.source.short(5)
    deploy(ci, remote, bad, "--digest", DIGEST)
    deploy(ci, remote, newer)
    outcome, _ = record(remote, failed(bad))
    assert outcome.status == Status.PUSHED
    assert remote.tag(DEV) == newer
    changed = git("show", "--name-only", "--format=", "main", cwd=remote.bare).split()
    assert sorted(changed) == sorted([VERDICTS, REJECTED_FILE])
    message = git("log", "-1", "--format=%B", "main", cwd=remote.bare)
    assert f"dev runs {newer} now, not {bad}: nothing rolled back." in message


def test_a_verdict_racing_a_newer_deploy_is_replanned_on_the_new_tip(remote, ci):
    bad, newer = remote.source.short(4), remote.source.short(5)
    deploy(ci, remote, bad, "--digest", DIGEST)
    values = (
        show(remote.bare, DEV)
        .replace(f'"{bad}"', f'"{newer}"')
        .replace(f"\n  digest: {DIGEST}", "")
    )
    (remote.bare / "newer-values.yaml").write_text(values)
    marker = install_first_push_commit_hook(
        remote.bare, f"cp {remote.bare / 'newer-values.yaml'} {DEV}", f"deploy(dev): {newer}"
    )
    outcome, lines = record(remote, failed(bad))
    assert marker.exists()
    assert outcome.status == Status.PUSHED
    assert outcome.retries == 1
    assert any("push refused" in line for line in lines)
    assert remote.tag(DEV) == newer  # the deploy that won stays
    assert git("show", "--name-only", "--format=", "main", cwd=remote.bare).split() != [DEV]
    with pytest.raises(RuntimeError):
        show(remote.bare, HOLD)
    assert parse_verdicts(show(remote.bare, VERDICTS), VERDICTS) == (failed(bad),)


def test_a_passed_verdict_is_recorded_alone(remote, ci):
    tag = remote.source.short(2)
    deploy(ci, remote, tag, "--digest", DIGEST)
    passed = replace(failed(tag), outcome=Outcome.PASSED, reason="", error_ratio=0.0)
    outcome, _ = record(remote, passed)
    assert outcome.line.startswith(f"record(dev): {SERVICE_NAME} {tag} passed [skip ci]: pushed")
    assert git("show", "--name-only", "--format=", "main", cwd=remote.bare).split() == [VERDICTS]


def test_the_write_back_takes_another_freeze_source(remote):
    """``apply(freezes=...)``: the hook GitLab's deploy freezes plug into, here a stand-in that
    freezes prod; deploy refuses there and nowhere else, rollback never."""

    def gitlab(env: str, now: datetime) -> Frozen | None:
        until = now.replace(microsecond=0) + timedelta(hours=1)
        return Frozen(env, until, "GitLab deploy freeze") if env == "prod" else None

    def deploy_to(env: str, action: Action = Action.DEPLOY):
        ask = Request(
            action, env, tag=None if action is Action.ROLLBACK else remote.source.short(2)
        )
        return apply(Target(remote.url, "main"), ask, GitLabContext(), retry=RETRY, freezes=gitlab)

    with pytest.raises(
        RefusedError, match=r"^prod is frozen until .* UTC: GitLab deploy freeze; nothing pushed$"
    ):
        deploy_to("prod")
    assert deploy_to("dev").status == Status.PUSHED
    assert deploy_to("dev", Action.ROLLBACK).status == Status.PUSHED
