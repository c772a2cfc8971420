"""``ci.gitops.history`` in the write-back's shallow clone of a real remote: the answer may be far
back in history, and the clone deepens until it finds it (through ``python -m ci``)."""

import pytest

from tests.support.cli import run_ci
from tests.support.git_remotes import git

pytestmark = pytest.mark.integration


def test_stale_check_reaches_far_back_in_a_long_history(remote, tmp_path):
    """The deployed build is 40 commits newer than the candidate: the shallow clone must deepen."""
    old = remote.source.short(0)
    work = tmp_path / "work"
    git("clone", "-q", str(remote.bare), str(work), cwd=tmp_path)
    for number in range(40):
        (work / "main.py").write_text(f"VERSION = 'late {number}'\n")
        git("commit", "-q", "-am", f"late {number}", cwd=work)
    newest = git("rev-parse", "--short=8", "HEAD~30", cwd=work).strip()
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    assert run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", newest).returncode == 0
    for number in range(30):
        (work / "other.txt").write_text(f"{number}\n")
        git("add", "other.txt", cwd=work)
        git("commit", "-q", "-m", f"more {number}", cwd=work)
    git("pull", "-q", "--rebase", "origin", "main", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)

    stale = run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", old)
    assert stale.returncode == 0
    assert f"already runs {newest}, a newer build than {old}" in stale.stdout
    assert remote.tag() == newest


def test_rollback_finds_the_previous_tag_far_back_in_history(remote, tmp_path):
    first, second = remote.source.short(3), remote.source.short(4)
    assert run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", first).returncode == 0
    work = tmp_path / "work"
    git("clone", "-q", remote.url, str(work), cwd=tmp_path)
    for number in range(50):
        (work / "main.py").write_text(f"VERSION = 'between {number}'\n")
        git("commit", "-q", "-am", f"between {number}", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    forced = run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", second, "--force")
    assert forced.returncode == 0
    result = run_ci("rollback", "--repo", remote.url, "--env", "dev", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert f'+  tag: "{first}"' in result.stdout.splitlines()
