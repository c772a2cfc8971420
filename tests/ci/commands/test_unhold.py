"""``python -m ci unhold --env ENV``, in this process against a real bare remote: a hold file is
released whatever it holds (one that cannot be read too, with a warning), and the commit names who
released it (the GitLab user, else the local user) in the trailer ``check`` requires."""

import getpass

import pytest

from ci.gitops.message import parse_trailers
from ci.gitops.promotion import OVERRIDE_TRAILER
from tests.ci.commands.writes import HOLD, WHO
from tests.support.git_remotes import git, push_person_commit


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
