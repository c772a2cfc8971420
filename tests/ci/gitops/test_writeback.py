"""``ci.gitops.writeback``, the one loop of every write-back, as ``python -m ci deploy`` runs it:
racing writers (concurrent deploys, a person pushing between a deploy's fetch and push) are
re-decided on the new tip and retried, never lost; a flaky or unreachable remote is tried a bounded
number of times."""

import time

import pytest

from app import SERVICE_NAME
from harness.network import free_port
from tests.support.cli import run_ci, start_ci
from tests.support.git_remotes import git, git_daemon, install_human_commit_hook, show

pytestmark = pytest.mark.integration

DEV = "gitops/dev/values.yaml"


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
