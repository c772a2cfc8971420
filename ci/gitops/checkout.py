"""Read-only git access to the local checkout ``check`` runs in: files at a commit, what changed,
the history of one file, commit messages, and a commit's tree extracted for rendering.

Unlike ``remote.Clone`` (a throw-away clone of a remote branch), this reads the repository the
job already has; ``check`` needs the base commit and its history there (``GIT_DEPTH: 0``).
"""

import subprocess
from collections.abc import Iterator
from pathlib import Path

from ci.errors import CiError, UsageError

GIT_TIMEOUT_SECONDS = 120.0


class Checkout:
    """The git repository at ``directory`` (any folder inside a working tree)."""

    def __init__(self, directory: Path | str = ".") -> None:
        self.directory = Path(directory)

    def _run(self, args: tuple[str, ...], input: bytes | None) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(
                ["git", *args],
                cwd=self.directory,
                input=input,
                capture_output=True,
                timeout=GIT_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise CiError(f"git {args[0]} timed out after {GIT_TIMEOUT_SECONDS:.0f}s") from None
        except OSError as error:
            raise CiError(f"cannot run git: {error}") from None

    def git(self, *args: str, input: bytes | None = None, check: bool = True) -> bytes:
        result = self._run(args, input)
        if check and result.returncode != 0:
            detail = result.stderr.decode(errors="replace").strip().splitlines()
            raise CiError(f"git {args[0]} failed: {detail[-1] if detail else 'no output'}")
        return result.stdout

    def resolve(self, ref: str, flag: str = "--base") -> str:
        """The full commit id of ``ref``; UsageError (exit 2) when this checkout lacks it."""
        if self.git("rev-parse", "--is-inside-work-tree", check=False).strip() != b"true":
            raise UsageError(f"{self.directory.resolve()} is not inside a git working tree")
        out = self.git(
            "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}", check=False
        )
        if not out.strip():
            shallow = self.is_shallow()
            hint = (
                " (the clone is shallow: fetch more history, e.g. GIT_DEPTH: 0)" if shallow else ""
            )
            raise UsageError(f"{flag} {ref!r} is not a commit of this checkout{hint}")
        return out.decode().strip()

    def merge_base(self, a: str, b: str) -> str | None:
        out = self.git("merge-base", a, b, check=False).decode().strip()
        return out or None

    def is_shallow(self) -> bool:
        return self.git("rev-parse", "--is-shallow-repository").strip() == b"true"

    def changed_paths(self, base: str, head: str) -> list[str]:
        """Paths that differ between the two commits (renames as delete + add)."""
        out = self.git("diff", "--name-only", "--no-renames", "-z", base, head, "--")
        return [path for path in out.decode(errors="surrogateescape").split("\0") if path]

    def read(self, commit: str, path: str) -> bytes | None:
        """The file's bytes at ``commit``, or None when it does not exist there."""
        result = self._run(("cat-file", "blob", f"{commit}:{path}"), None)
        return result.stdout if result.returncode == 0 else None

    def file_versions(self, commit: str, path: str) -> Iterator[tuple[str, bytes]]:
        """(commit, bytes) of each version of ``path`` in ``commit``'s history, newest first."""
        commits = self.git("log", "--format=%H", commit, "--", path).decode().split()
        for start in range(0, len(commits), 256):
            batch = commits[start : start + 256]
            request = "".join(f"{c}:{path}\n" for c in batch).encode()
            out = self.git("cat-file", "--batch", input=request)
            for found_commit, blob in zip(batch, _batch_blobs(out), strict=True):
                if blob is not None:
                    yield found_commit, blob

    def messages(self, base: str, head: str) -> list[tuple[str, str]]:
        """(commit, message) of the commits in ``head`` that are not in ``base``, newest first."""
        out = self.git("log", "--format=%H%x00%B%x01", f"{base}..{head}").decode(errors="replace")
        found = []
        for record in out.split("\x01"):
            record = record.strip("\n")
            if record:
                commit, _, message = record.partition("\x00")
                found.append((commit, message))
        return found

    def extract(self, tree: str, destination: Path) -> Path:
        """The tree (or commit) written to ``destination`` as git stores it: no .gitattributes
        applied (``git archive`` would drop ``export-ignore`` files Argo CD's checkout has). A
        submodule or a link out of the tree is a CiError: Argo CD would check the one out, and
        refuses a repository with the other; neither can be judged here."""
        entries = self._entries(tree)
        blobs = self._blobs([oid for _, oid, _ in entries])
        links = []
        for mode, oid, path in entries:
            target = destination / path
            target.parent.mkdir(parents=True, exist_ok=True)
            if mode == "120000":
                target.symlink_to(blobs[oid].decode("utf-8", "surrogateescape"))
                links.append(target)
            else:
                target.write_bytes(blobs[oid])
                target.chmod(0o755 if mode == "100755" else 0o644)
        inside = destination.resolve()
        for link in links:
            if not link.resolve().is_relative_to(inside):
                where = link.relative_to(destination).as_posix()
                raise CiError(
                    f"{where}: a link out of the repository (Argo CD refuses the repository)"
                )
        return destination

    def _entries(self, tree: str) -> list[tuple[str, str, str]]:
        """(mode, object id, path) of every file of ``tree``; CiError at a submodule."""
        out = self.git("ls-tree", "-r", "-z", "--full-tree", tree)
        entries = []
        for record in filter(None, out.decode("utf-8", "surrogateescape").split("\0")):
            meta, _, path = record.partition("\t")
            mode, kind, oid = meta.split()
            if kind == "commit":
                raise CiError(
                    f"{path}: a submodule (Argo CD would check it out; the gate cannot see it)"
                )
            if ".." in path.split("/") or path.startswith("/"):
                raise CiError(f"{path}: not a path inside the repository")
            entries.append((mode, oid, path))
        return entries

    def _blobs(self, oids: list[str]) -> dict[str, bytes]:
        """The objects' contents, read in one ``git cat-file --batch``."""
        unique = list(dict.fromkeys(oids))
        if not unique:
            return {}
        out = self.git("cat-file", "--batch", input="".join(f"{o}\n" for o in unique).encode())
        return dict(zip(unique, _batch_blobs(out), strict=True))

    def fetch_branch(self, branch: str, remote: str = "origin") -> str | None:
        """The tip of ``remote``'s ``branch`` fetched now (None when there is no such remote)."""
        if not self.git("remote", check=False).decode().split().count(remote):
            return None
        if self._run(("check-ref-format", "--branch", branch), None).returncode != 0:
            raise UsageError(f"--target-branch {branch!r} is not a branch name")
        ref = f"refs/remotes/{remote}/{branch}"
        self.git("fetch", "--quiet", "--no-tags", remote, f"+refs/heads/{branch}:{ref}")
        return self.resolve(ref, "--target-branch")

    def merged_tree(self, target: str, head: str) -> str | None:
        """The tree of ``head`` merged into ``target`` (None when they conflict)."""
        result = self._run(("merge-tree", "--write-tree", "--no-messages", target, head), None)
        if result.returncode == 1:
            return None
        if result.returncode != 0:
            detail = result.stderr.decode(errors="replace").strip().splitlines()
            raise CiError(f"git merge-tree failed: {detail[-1] if detail else 'no output'}")
        return result.stdout.decode().split()[0]

    def first_parent_commits(self, tip: str, paths: list[str], limit: int) -> list[str]:
        """The commits of ``tip``'s first-parent history that touched ``paths``, newest first."""
        out = self.git(
            "--literal-pathspecs", "rev-list", "--first-parent", f"--max-count={limit}", tip,
            "--", *paths,
        )  # fmt: skip
        return out.decode().split()

    def paths(self, tree: str, folder: str) -> list[str]:
        """Every file path under ``folder`` in ``tree`` (a commit or tree)."""
        out = self.git("ls-tree", "-r", "-z", "--name-only", tree, "--", folder)
        return [path for path in out.decode(errors="surrogateescape").split("\0") if path]


def _batch_blobs(out: bytes) -> Iterator[bytes | None]:
    """The objects of ``git cat-file --batch`` output, None for a missing one."""
    position = 0
    while position < len(out):
        end = out.index(b"\n", position)
        header = out[position:end].split()
        position = end + 1
        if len(header) < 3 or header[1] == b"missing":
            yield None
            continue
        size = int(header[2])
        yield out[position : position + size]
        position += size + 1
