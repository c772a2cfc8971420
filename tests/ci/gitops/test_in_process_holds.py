"""Holds, rollback, render refusals and interrupts through ``ci.cli.main`` in this process (what the
unit job's coverage measures); the subprocess tests next to it check the same as users run it."""

import getpass

import pytest

from ci.gitops import remote as remote_module
from ci.gitops.message import parse_trailers, with_trailer
from ci.gitops.promotion import OVERRIDE_TRAILER
from tests.support.git_remotes import git, push_person_commit, show

DEV = "gitops/dev/values.yaml"


def tip(remote) -> str:
    return git("rev-parse", "main", cwd=remote.bare).strip()


def test_hold_refuse_force_status_unhold_and_rollback_walk(remote, ci):
    url = remote.url
    a, b, c = (remote.source.short(n) for n in (1, 2, 3))
    for tag in (a, b, c):
        assert ci("deploy", "--repo", url, "--env", "dev", "--tag", tag).returncode == 0
    assert ci("rollback", "--repo", url, "--env", "dev").returncode == 0
    assert ci("unhold", "--repo", url, "--env", "dev").returncode == 0
    walked = ci("rollback", "--repo", url, "--env", "dev", "--reason", "still broken")
    assert walked.returncode == 0, walked.stderr
    assert f'  tag: "{a}"' in show(remote.bare, DEV)

    refused = ci("deploy", "--repo", url, "--env", "dev", "--tag", remote.source.short(5))
    assert refused.returncode == 1
    assert "dev is held by" in refused.stderr
    assert ": still broken: nothing pushed;" in refused.stderr
    forced = ci("promote", "--repo", url, "--from", "prod", "--to", "dev", "--force")
    assert forced.returncode == 0, forced.stderr

    held = ci("hold", "--repo", url, "--env", "prod", "--reason", "freeze", "--dry-run")
    assert held.returncode == 0
    assert "+++ b/gitops/prod/hold.yaml" in held.stdout
    assert ci("hold", "--repo", url, "--env", "prod", "--reason", "freeze").returncode == 0
    status = ci("status", "--repo", url)
    assert "since" in status.stdout.splitlines()[2]
    assert ci("unhold", "--repo", url, "--env", "prod").returncode == 0
    never = ci("rollback", "--repo", url, "--env", "dev", "--to", remote.source.short(9))
    assert never.returncode == 2


def test_render_refusal_names_the_file_and_key(remote, ci):
    people = (remote.source.path / "values.dev.yaml").read_text()
    push_person_commit(
        remote.bare,
        {"values.dev.yaml": people.replace("replicaCount: 1", "replicaCount: -1")},
        "dev: negative replicas",
    )
    before = tip(remote)
    result = ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", remote.source.short(2))
    assert result.returncode == 1
    assert result.stderr.startswith("error: dev does not render on the branch already")
    assert result.stderr.endswith("[values.dev.yaml: replicaCount]: nothing pushed\n")
    assert tip(remote) == before


def test_an_interrupt_during_the_push_says_whether_it_landed(remote, ci, monkeypatch):
    real_push = remote_module.Clone.push

    def push_then_interrupt(self, commit):
        real_push(self, commit)  # the commit reaches the remote, then Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(remote_module.Clone, "push", push_then_interrupt)
    landed = ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", remote.source.short(4))
    assert landed.returncode == 130
    assert (
        landed.stderr
        == f"error: interrupted, but {tip(remote)[:12]} had landed: main now has the commit\n"
    )

    def interrupt(self, commit):
        raise KeyboardInterrupt

    monkeypatch.setattr(remote_module.Clone, "push", interrupt)
    before = tip(remote)
    cut = ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", remote.source.short(5))
    assert cut.returncode == 130
    assert cut.stderr.startswith("error: interrupted during the push: ")
    assert cut.stderr.endswith(" did not land (nothing pushed)\n")
    assert tip(remote) == before


HOLD = "gitops/dev/hold.yaml"
WHO = {"GITLAB_USER_LOGIN": "alice", "GITLAB_USER_EMAIL": "alice@example.com"}


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"by: [unclosed\n", f"{HOLD}: not valid YAML (while parsing a flow sequence)"),
        (b"by: \xff\xfe\n", f"{HOLD} is not UTF-8 (byte 4: 0xff)"),
        (b"by: alice\nsince: now\n", f"{HOLD}: 'reason' must be a non-empty string"),
        (b"[" * 1000, f"{HOLD}: not valid YAML (nested too deeply)"),
    ],
)
def test_unhold_releases_a_hold_file_it_cannot_read(remote, ci, content, problem):
    push_person_commit(remote.bare, {HOLD: content}, "a broken hold")
    refused = ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", remote.source.short(2))
    assert refused.returncode == 2  # deploy still refuses to guess
    released = ci("unhold", "--repo", remote.url, "--env", "dev", env=WHO)
    assert released.returncode == 0, released.stderr
    assert released.stderr == f"warning: the hold is unreadable ({problem}): deleting it anyway\n"
    assert released.stdout.startswith("unhold(dev): released [skip ci]: pushed ")
    assert git("ls-tree", "main", "--", HOLD, cwd=remote.bare) == ""
    message = git("log", "-1", "--format=%B", "main", cwd=remote.bare)
    assert f"The hold was unreadable ({problem}); deleted as it was." in message
    assert parse_trailers(message)[OVERRIDE_TRAILER] == (
        "unhold by alice <alice@example.com>: released"
    )


def test_unhold_records_who_released_it_as_a_promotion_override(remote, ci):
    url = remote.url
    assert ci("hold", "--repo", url, "--env", "prod", "--reason", "freeze").returncode == 0
    released = ci("unhold", "--repo", url, "--env", "prod", env=WHO)
    assert released.returncode == 0, released.stderr
    assert released.stderr == ""
    message = git("log", "-1", "--format=%B", "main", cwd=remote.bare)
    assert message.startswith("unhold(prod): released [skip ci]\n\nWas held by ")
    assert message.rstrip("\n").endswith(
        "Triggered-By: alice <alice@example.com>\n"
        f"{OVERRIDE_TRAILER}: unhold by alice <alice@example.com>: released"
    )
    anonymous = ci("hold", "--repo", url, "--env", "prod", "--reason", "again")
    assert anonymous.returncode == 0
    assert ci("unhold", "--repo", url, "--env", "prod").returncode == 0
    message = git("log", "-1", "--format=%B", "main", cwd=remote.bare)
    # Outside GitLab: the local user, as `hold` records it.
    assert parse_trailers(message) == {OVERRIDE_TRAILER: f"unhold by {getpass.getuser()}: released"}


def test_a_trailer_joins_the_trailer_block_or_starts_one():
    assert with_trailer("s\n\nbody\n", "K", "v") == "s\n\nbody\n\nK: v\n"
    assert with_trailer("s\n\nbody\n\nA: b\n", "K", "v") == "s\n\nbody\n\nA: b\nK: v\n"
