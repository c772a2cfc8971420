"""``ci.gitops.writeback``, the one loop of every write-back, as ``python -m ci deploy`` runs it:
racing writers (concurrent deploys, a person pushing between a deploy's fetch and push) are
re-decided on the new tip and retried, never lost; a flaky or unreachable remote is tried a bounded
number of times. And ``record`` through it, as ``python -m ci verify`` records its verdict (a failed
build still running rolled back, held and rejected in one commit; a late or racing verdict rolls
back nothing it does not own; the same verdict twice changes nothing), and the loop's other freeze
source (``apply(freezes=...)``)."""

import time
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
from harness.network import free_port
from tests.support.cli import run_ci, start_ci
from tests.support.git_remotes import (
    git,
    git_daemon,
    install_first_push_commit_hook,
    install_human_commit_hook,
    show,
)

pytestmark = pytest.mark.integration
DEV, HOLD, VERDICTS = "gitops/dev/values.yaml", "gitops/dev/hold.yaml", "gitops/dev/verdicts.yaml"


def test_concurrent_deploys_all_succeed_newest_wins_nothing_lost(remote):
    """10 deploys race for dev and 2 for prod, as real concurrent processes."""
    before = remote.tip()
    dev_tags = [remote.source.short(i) for i in range(10)]
    prod_tags = [remote.source.short(i) for i in (4, 7)]
    processes = [
        start_ci("deploy", "--repo", remote.url, "--env", env, "--tag", tag)
        for env, tag in [
            *(("dev", t) for t in reversed(dev_tags)),
            *(("prod", t) for t in prod_tags),
        ]
    ]
    deadline = time.monotonic() + 240
    results = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=max(1, deadline - time.monotonic()))
        results.append((process.returncode, stdout, stderr))

    assert [code for code, _, _ in results] == [0] * len(processes), results
    assert remote.tag(DEV) == dev_tags[-1]
    assert remote.tag("gitops/prod/values.yaml") == prod_tags[-1]
    # Nothing lost: every commit a deploy reported pushed is on main, on top of the old tip.
    pushed = [out.split(": pushed ")[1].split()[0] for _, out, _ in results if ": pushed " in out]
    assert pushed
    for commit in [*pushed, before]:
        git("merge-base", "--is-ancestor", commit, "main", cwd=remote.bare)
    # The history is linear (no merges) and only the bot wrote after the old tip.
    log = git("log", "--format=%P|%an", f"{before}..main", cwd=remote.bare).splitlines()
    assert len(log) == len(pushed)
    assert all(len(line.split("|")[0].split()) == 1 for line in log)
    assert {line.split("|")[1] for line in log} == {"gitops-bot"}


def test_person_pushing_between_fetch_and_push_is_kept_and_deploy_reapplies(remote):
    marker = install_human_commit_hook(remote.bare)
    tag = remote.source.short(5)
    result = run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", tag)

    assert result.returncode == 0, result.stderr
    assert marker.exists()
    assert " after 1 retries" in result.stdout
    assert "push refused" in result.stderr
    text = show(remote.bare, DEV)
    assert f'  tag: "{tag}"\n' in text
    assert text.endswith("# A person was here.\n")
    subjects = git("log", "-3", "--format=%s", "main", cwd=remote.bare).splitlines()
    assert subjects[:2] == [
        f"deploy(dev): {SERVICE_NAME} {tag} [skip ci]",
        "person: edit while a deploy runs",
    ]
    assert show(remote.bare, "PERSON.txt") == "edited by a person\n"


def test_exhausted_retries_fail_and_leave_only_the_persons_commit(remote):
    marker = install_human_commit_hook(remote.bare)
    before = remote.tip()
    result = run_ci(
        "deploy",
        "--repo",
        remote.url,
        "--env",
        "dev",
        "--tag",
        remote.source.short(5),
        env={"GITOPS_PUSH_ATTEMPTS": "1"},
    )
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "error: gave up after 1 push attempts: main kept moving under us"
    )
    assert marker.exists()
    assert remote.tip("main^") == before
    assert git("log", "-1", "--format=%s", "main", cwd=remote.bare).strip() == (
        "person: edit while a deploy runs"
    )


def test_unreachable_remote_exits_1_with_one_line_after_bounded_retries():
    url = f"git://127.0.0.1:{free_port()}/project.git"
    result = run_ci("deploy", "--repo", url, "--env", "dev", "--tag", "abc")
    assert result.returncode == 1
    *warnings, last = result.stderr.splitlines()
    assert last.startswith(f"error: git clone failed for {url}: unable to connect to 127.0.0.1")
    assert len(warnings) == 2
    assert all(w.startswith("warning: ") and w.endswith("; retrying") for w in warnings)
    assert "Traceback" not in result.stderr


def test_a_remote_that_comes_up_late_is_retried(remote):
    """The remote refuses connections at first (a flaky network), then answers."""
    port = free_port()
    tag = remote.source.short(2)
    url = f"git://127.0.0.1:{port}/{remote.bare.name}"
    process = start_ci("deploy", "--repo", url, "--env", "dev", "--tag", tag)
    try:
        first = process.stderr.readline()  # the first try failed and a retry is coming
        with git_daemon(remote.bare.parent, port=port):
            stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert first.startswith(f"warning: git clone failed for {url}: unable to connect to 127.0.0.1")
    assert first.rstrip().endswith("; retrying")
    assert process.returncode == 0, stderr
    assert stdout.startswith(f"deploy(dev): {SERVICE_NAME} {tag} [skip ci]: pushed ")
    assert f'  tag: "{tag}"' in show(remote.bare, "gitops/dev/values.yaml")


# --- record, and another freeze source ------------------------------------------------------------

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
