"""The git side of wait, in the write-back's partial clone of a real remote."""

from pathlib import Path

import pytest

from app import SERVICE_NAME
from ci.errors import UsageError
from ci.gitops.remote import Clone
from ci.wait.revisions import REFETCH_SECONDS, Lineage, default_revision, resolve_revision
from ci.wait.verdict import Revision
from tests.support.cli import run_ci
from tests.support.git_remotes import git

DEV = "gitops/dev/values.yaml"


def deploy(remote, tag: str, env: str = "dev") -> str:
    result = run_ci("deploy", "--repo", remote.url, "--env", env, "--tag", tag)
    assert result.returncode == 0, result.stderr
    return remote.tip()


def clone(remote, tmp_path: Path) -> tuple[Clone, str]:
    repo = Clone(remote.url, "main", tmp_path / "clone")
    return repo, repo.clone()


@pytest.mark.integration
def test_default_revision_is_the_commit_that_changed_the_image(remote, tmp_path):
    first = deploy(remote, "1a2b3c4d")
    ours = deploy(remote, "5e6f7a8b")
    remote.commit(DEV, lambda text: "# a person's comment\n" + text, "dev: comment only")
    remote.commit(DEV, lambda text: text.replace("where the build pushes", "ECR"), "comment")
    deploy(remote, "9a8b7c6d", env="prod")
    repo, tip = clone(remote, tmp_path)
    assert default_revision(repo, tip, "dev") == ours
    assert default_revision(repo, tip, "prod") == remote.tip()
    assert first != ours


def test_an_environment_never_deployed_waits_for_the_commit_that_created_it(remote, tmp_path):
    repo, tip = clone(remote, tmp_path)
    created = git("rev-list", "--max-parents=0", "main", cwd=remote.bare).strip()
    assert default_revision(repo, tip, "dev") == created


@pytest.mark.integration
def test_revision_must_be_on_the_branch(remote, tmp_path):
    ours = deploy(remote, "1a2b3c4d")
    deploy(remote, "5e6f7a8b")
    repo, tip = clone(remote, tmp_path)
    assert resolve_revision(repo, tip, ours[:9].upper(), "main") == ours
    with pytest.raises(UsageError, match="--revision 'feedface' is not a commit of branch main"):
        resolve_revision(repo, tip, "feedface", "main")


@pytest.mark.integration
def test_lineage_classifies_later_commits_by_the_image_they_run(remote, tmp_path):
    before = remote.tip()
    ours = deploy(remote, "1a2b3c4d")
    prod_only = deploy(remote, "1a2b3c4d", env="prod")
    now = [0.0]
    repo, tip = clone(remote, tmp_path)
    lineage = Lineage(repo, "dev", ours, tip, clock=lambda: now[0])
    assert lineage.image == f"registry.example/{SERVICE_NAME}:1a2b3c4d"
    assert lineage.classify(ours) is Revision.OURS
    assert lineage.classify(prod_only) is Revision.OURS
    assert lineage.classify(before) is Revision.OTHER
    assert lineage.classify("f" * 40) is Revision.OTHER
    assert lineage.superseded_by() is None

    # A newer deploy lands while we wait: seen at the next fetch, and Argo CD's report of it too.
    newer = deploy(remote, "5e6f7a8b")
    assert lineage.superseded_by() is None  # not fetched again yet
    now[0] += REFETCH_SECONDS + 1
    assert lineage.superseded_by() == newer
    assert lineage.classify(newer) is Revision.NEWER_IMAGE


@pytest.mark.integration
def test_a_remote_that_goes_away_is_one_warning_not_a_crash(remote, tmp_path):
    ours = deploy(remote, "1a2b3c4d")
    now, lines = [0.0], []
    repo, tip = clone(remote, tmp_path)
    lineage = Lineage(repo, "dev", ours, tip, log=lines.append, clock=lambda: now[0])
    remote.bare.rename(remote.bare.with_name("moved.git"))
    for _ in range(3):
        now[0] += REFETCH_SECONDS + 1
        assert lineage.superseded_by() is None
        assert lineage.classify("e" * 40) is Revision.OTHER
    assert len(lines) == 1
    assert lines[0].startswith("warning: cannot fetch the branch to look for newer deploys (git")
