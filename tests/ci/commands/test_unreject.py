"""``python -m ci unreject --tag TAG --reason TEXT [--digest D]`` against a real bare remote: the
build's rejections go (the tag's; the digest's under any tag), the others stay, the commit says
who and why in the trailer check asks of a merge request; a dry run pushes nothing."""

import pytest

from ci.gitops.rejections import REJECTED_FILE, parse_rejections
from tests.ci.commands.writes import WHO
from tests.support.git_remotes import git, show

pytestmark = pytest.mark.integration
DIGEST = "sha256:" + "c3" * 32


def test_unreject_by_digest_keeps_the_others_and_a_dry_run_pushes_nothing(remote, ci):
    for tag, extra in (("bad0001", ("--digest", DIGEST)), ("bad0002", ())):
        args = ("--repo", remote.url, "--tag", tag, "--reason", "bad", *extra)
        assert ci("reject", *args).returncode == 0
    before = remote.tip()
    dry = ci("unreject", "--repo", remote.url, "--tag", "v1", "--digest", DIGEST, "--reason",
             "rebuilt", "--dry-run")  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    assert f"--- a/{REJECTED_FILE}\n+++ b/{REJECTED_FILE}\n" in dry.stdout
    assert '-  - tag: "bad0001"\n' in dry.stdout
    assert remote.tip() == before
    done = ci("unreject", "--repo", remote.url, "--tag", "v1", "--digest", DIGEST, "--reason",
              "rebuilt", env=WHO)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [entry.tag for entry in parse_rejections(show(remote.bare, REJECTED_FILE))] == [
        "bad0002"
    ]
    message = git("log", "-1", "--format=%B", "main", cwd=remote.bare)
    assert message.rstrip().splitlines()[-1] == (
        "Promotion-Override: unreject v1 by alice <alice@example.com>: rebuilt"
    )
