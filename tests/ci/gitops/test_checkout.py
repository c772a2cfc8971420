"""``ci.gitops.checkout``: read-only git in the job's own checkout, on real repositories: a ref
this checkout lacks is bad input naming the flag (and saying so when the clone is shallow), what
changed between two commits, a file's versions newest first, the merge request's own commits, and
a tree extracted as git stores it."""

import os
from pathlib import Path

import pytest

from ci.errors import CiError, UsageError
from ci.gitops.checkout import Checkout
from tests.support.git_remotes import git


def commit(repo: Path, files: dict[str, str | None], message: str) -> str:
    for path, text in files.items():
        if text is None:
            git("rm", "-q", path, cwd=repo)
            continue
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
        git("add", path, cwd=repo)
    git("commit", "-q", "-m", message, cwd=repo)
    return git("rev-parse", "HEAD", cwd=repo).strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    return repo


def test_a_ref_resolves_to_its_commit_or_is_bad_input_naming_the_flag(repo, tmp_path):
    first = commit(repo, {"a.txt": "1\n"}, "one")
    second = commit(repo, {"a.txt": "2\n"}, "two")
    (repo / "sub").mkdir()
    checkout = Checkout(repo / "sub")  # any folder inside the working tree
    assert checkout.resolve("HEAD") == second
    assert checkout.resolve(first[:8], "--target-branch") == first
    with pytest.raises(UsageError, match=r"^--base 'nope' is not a commit of this checkout$"):
        checkout.resolve("nope")
    shallow = tmp_path / "shallow"
    git("clone", "-q", "--depth=1", repo.as_uri(), str(shallow), cwd=tmp_path)
    with pytest.raises(UsageError, match=r"is not a commit of this checkout \(the clone is shal"):
        Checkout(shallow).resolve(first)
    outside = tmp_path / "outside"
    outside.mkdir()
    with pytest.raises(UsageError, match=r"outside is not inside a git working tree$"):
        Checkout(outside).resolve("HEAD")


def test_changes_versions_and_messages(repo):
    base = commit(repo, {"gitops/dev/values.yaml": "tag: a\n", "old.txt": "x\n"}, "base")
    commit(repo, {"gitops/dev/values.yaml": "tag: b\n"}, "dev: b\n\nBody line.")
    git("mv", "old.txt", "new.txt", cwd=repo)
    git("commit", "-q", "-m", "rename", cwd=repo)
    head = commit(repo, {"gitops/dev/values.yaml": None}, "dev: gone")
    checkout = Checkout(repo)
    assert sorted(checkout.changed_paths(base, head)) == [
        "gitops/dev/values.yaml",
        "new.txt",
        "old.txt",
    ]  # a rename is a delete and an add
    versions = list(checkout.file_versions(head, "gitops/dev/values.yaml"))
    assert [blob for _, blob in versions] == [b"tag: b\n", b"tag: a\n"]  # the deletion has none
    assert checkout.read(head, "gitops/dev/values.yaml") is None
    assert [message.strip() for _, message in checkout.messages(base, head)] == [
        "dev: gone",
        "rename",
        "dev: b\n\nBody line.",
    ]


def test_a_tree_is_extracted_as_git_stores_it(repo, tmp_path):
    (repo / ".gitattributes").write_text("ignored.yaml export-ignore\n")
    (repo / "run.sh").write_text("#!/bin/sh\n")
    (repo / "run.sh").chmod(0o755)
    os.symlink("run.sh", repo / "link")
    git("add", "-A", cwd=repo)
    commit(repo, {"ignored.yaml": "a: 1\n"}, "files")
    out = Checkout(repo).extract("HEAD", tmp_path / "tree")
    assert (out / "ignored.yaml").read_text() == "a: 1\n"  # git archive would leave it out
    assert os.access(out / "run.sh", os.X_OK)
    assert os.readlink(out / "link") == "run.sh"
    os.symlink("../../outside", repo / "escape")
    git("add", "-A", cwd=repo)
    commit(repo, {}, "a link out")
    with pytest.raises(CiError, match=r"^escape: a link out of the repository"):
        Checkout(repo).extract("HEAD", tmp_path / "again")
