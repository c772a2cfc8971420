"""Git I/O for the write-back, in a throw-away partial clone of one remote branch.

The clone is shallow (``--depth 1``), blob-less (``--filter=blob:none``) and has no working tree:
files are read with ``cat-file`` (fetching one blob on demand) and commits are made with plumbing
(``hash-object``, a private index, ``commit-tree``), so the cost of a deploy does not grow with the
repository's history or size. History is fetched only when a command needs it (``deepen``).

Credentials travel only through the environment of the git process: a ``credential.helper``
given through ``GIT_CONFIG_*`` variables prints them from ``GITOPS_GIT_USERNAME`` and
``GITOPS_GIT_PASSWORD``. They never appear in argv, ``.git/config``, a printed URL or an error.
"""

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ci.errors import CiError
from ci.gitops.credentials import (
    Credentials,
    Identity,
    git_process_env,
    redact,
)
from ci.gitops.git_outcomes import (
    PushRefused,
    PushResult,
    failure,
    push_outcome,
)
from ci.gitops.message import DEFAULT_AUTHOR_EMAIL, DEFAULT_AUTHOR_NAME
from ci.gitops.processes import run_group

GIT_TIMEOUT_SECONDS = 120.0


class GitTimeout(CiError):
    """A git command ran out of time (its process group has been ended)."""


@dataclass(frozen=True)
class LogEntry:
    commit: str
    author: str
    email: str
    date: str
    message: str

    @property
    def subject(self) -> str:
        return self.message.split("\n", 1)[0]


class Clone:
    """A partial, shallow clone of ``branch`` of ``url`` in ``directory``."""

    def __init__(
        self,
        url: str,
        branch: str,
        directory: Path,
        credentials: Credentials | None = None,
        identity: Identity | None = None,
        timeout: float = GIT_TIMEOUT_SECONDS,
    ) -> None:
        self.timeout = timeout
        self.url = url
        self.branch = branch
        self.directory = Path(directory)
        self.credentials = credentials
        self.identity = identity or Identity(DEFAULT_AUTHOR_NAME, DEFAULT_AUTHOR_EMAIL)
        self.tracking_ref = f"refs/remotes/origin/{branch}"
        self._secrets = (credentials.password,) if credentials else ()

    # -- running git -------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        return git_process_env(os.environ, self.identity, self.credentials)

    def git(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess:
        """Run git; stdout/stderr as text (undecodable bytes kept as surrogates, no newline
        translation, so CRLF survives)."""
        result = self.git_bytes(
            *args,
            input=None if input is None else input.encode("utf-8", "surrogateescape"),
            check=check,
            cwd=cwd,
            env=env,
        )
        return subprocess.CompletedProcess(
            result.args,
            result.returncode,
            result.stdout.decode("utf-8", "surrogateescape"),
            result.stderr.decode("utf-8", "replace"),
        )

    def git_bytes(
        self,
        *args: str,
        input: bytes | None = None,
        check: bool = True,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess:
        """Run git in its own process group: on a timeout, SIGINT or SIGTERM the whole group
        (``git-remote-http`` and helpers, which hold credentials in their environment) ends."""
        command = ["git", *args]
        returncode, stdout, stderr = run_group(
            command,
            cwd=cwd or self.directory,
            env={**self._env(), **(env or {})},
            input=input,
            timeout=self.timeout,
        )
        if returncode is None:
            raise GitTimeout(
                f"git {args[0]} against {redact(self.url)} timed out after {self.timeout:g}s"
            )
        result = subprocess.CompletedProcess(command, returncode, stdout, stderr)
        if check and returncode != 0:
            raise self.error(args[0], stderr.decode("utf-8", "replace"))
        return result

    def error(self, action: str, stderr: str) -> CiError:
        """One redacted line for a failed git command."""
        user = self.credentials.username if self.credentials else None
        return failure(action, redact(stderr, self._secrets), redact(self.url), self.branch, user)

    # -- fetching ----------------------------------------------------------------------------

    def clone(self) -> str:
        """Clone the branch tip (one commit, its trees, no blobs); return the tip's commit id."""
        shutil.rmtree(self.directory, ignore_errors=True)  # what a failed try may have left
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        self.git(
            "clone",
            "--quiet",
            "--no-checkout",
            "--depth=1",
            "--filter=blob:none",
            "--single-branch",
            "--no-tags",
            f"--branch={self.branch}",
            "--",
            self.url,
            str(self.directory),
            cwd=self.directory.parent,
        )
        return self.tip()

    def refetch(self) -> str:
        """Fetch the branch's new commits (connecting to what we have); return the new tip."""
        self.git("fetch", "--quiet", "--no-tags", "--filter=blob:none", "origin")
        return self.tip()

    def tip(self) -> str:
        return self.git("rev-parse", "--verify", f"{self.tracking_ref}^{{commit}}").stdout.strip()

    def is_shallow(self) -> bool:
        out = self.git("rev-parse", "--is-shallow-repository").stdout.strip()
        return out == "true"

    def shallow_commits(self) -> set[str]:
        """The commits whose parents this clone has not fetched."""
        path = self.git("rev-parse", "--git-path", "shallow").stdout.strip()
        file = Path(path) if Path(path).is_absolute() else self.directory / path
        return set(file.read_text().split()) if file.exists() else set()

    def deepen(self, commits: int, trees: bool = True) -> None:
        """Fetch ``commits`` more commits of history (without trees when ``trees`` is False)."""
        filter_spec = "blob:none" if trees else "tree:0"
        self.git(
            "fetch",
            "--quiet",
            "--no-tags",
            f"--filter={filter_spec}",
            f"--deepen={commits}",
            "origin",
        )

    # -- reading -----------------------------------------------------------------------------

    def list_paths(self, commit: str, prefix: str) -> list[str]:
        out = self.git("ls-tree", "-r", "--name-only", commit, "--", prefix).stdout
        return [line for line in out.splitlines() if line]

    def read_blob(self, commit: str, path: str) -> tuple[str, bytes] | None:
        """``(mode, bytes)`` of the entry at ``path`` in ``commit``, or None when there is none."""
        listing = self.git("ls-tree", commit, "--", path).stdout.strip()
        if not listing:
            return None
        meta, _, _ = listing.partition("\t")
        mode, kind, blob = meta.split()
        if kind != "blob":
            return mode, b""
        return mode, self.git_bytes("cat-file", "blob", blob).stdout

    def fetch_blobs(self, oids: list[str]) -> None:
        """Fetch ``oids`` (blobs a blob-less clone lacks) in one request. Asking which are
        present first would fetch each missing one on its own (git 2.39 has no way to ask
        without a lazy fetch), so all are asked for; the server sends each once."""
        missing = list(dict.fromkeys(oids))
        if not missing:
            return
        self.git(
            "-c",
            "fetch.negotiationAlgorithm=noop",
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            "--recurse-submodules=no",
            "--filter=blob:none",
            "--stdin",
            "origin",
            input="".join(f"{oid}\n" for oid in missing),
        )

    def read_blobs(self, oids: list[str]) -> dict[str, bytes]:
        """The contents of ``oids`` (already fetched), read by one ``cat-file --batch``."""
        unique = list(dict.fromkeys(oids))
        if not unique:
            return {}
        out = self.git_bytes(
            "cat-file", "--batch", input="".join(f"{oid}\n" for oid in unique).encode()
        ).stdout
        blobs, offset = {}, 0
        for _ in unique:
            header_end = out.index(b"\n", offset)
            name, _kind, size = out[offset:header_end].decode().split()
            start = header_end + 1
            blobs[name] = out[start : start + int(size)]
            offset = start + int(size) + 1
        return blobs

    def read_file(self, commit: str, path: str) -> str | None:
        """The file's text at ``commit`` (line endings as stored), or None when it does not exist
        there. A symlink, a folder or bytes that are not UTF-8 are a ValuesError naming the file."""
        from ci.gitops.values import ValuesError

        found = self.read_blob(commit, path)
        if found is None:
            return None
        mode, data = found
        if mode == "120000":
            raise ValuesError(f"{path} is a symlink; expected a regular file")
        if not mode.startswith("100"):
            raise ValuesError(f"{path} is not a regular file")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValuesError(
                f"{path} is not UTF-8 (byte {error.start}: 0x{data[error.start]:02x})"
            ) from None

    def resolve(self, name: str) -> str | None:
        """The full id of commit ``name`` (an abbreviated id) if this clone has it."""
        result = self.git(
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            f"{name}^{{commit}}",
            check=False,
        )
        return result.stdout.strip() if result.returncode == 0 else None

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        result = self.git("merge-base", "--is-ancestor", ancestor, descendant, check=False)
        if result.returncode not in (0, 1):
            raise self.error("merge-base", result.stderr)
        return result.returncode == 0

    def log(self, commit: str, path: str | None = None, skip: int = 0) -> list[LogEntry]:
        """First-parent history from ``commit`` (touching ``path``), newest first."""
        args = ["log", "--first-parent", "--format=%H%x00%an%x00%ae%x00%cI%x00%B%x01"]
        if skip:
            args.append(f"--skip={skip}")
        args.append(commit)
        if path:
            args += ["--", path]
        out = self.git(*args).stdout
        entries = []
        for record in out.split("\x01"):
            record = record.strip("\n")
            if not record:
                continue
            commit_id, author, email, date, message = record.split("\x00", 4)
            entries.append(LogEntry(commit_id, author, email, date, message))
        return entries

    def message(self, commit: str) -> str:
        return self.git("log", "-1", "--format=%B", commit).stdout

    # -- writing -----------------------------------------------------------------------------

    def commit_files(self, parent: str, files: Mapping[str, str | None], message: str) -> str:
        """A new commit on ``parent`` where only ``files`` change (text, or None to delete).

        Only the trees on each file's path are rewritten (``mktree --missing``): nothing else
        of the tree is read, so no blob is fetched and the cost does not grow with the tree.
        """
        tree = self.git("rev-parse", f"{parent}^{{tree}}").stdout.strip()
        for path, text in files.items():
            tree = self._tree_with(tree, path, text)
        return self.git("commit-tree", tree, "-p", parent, "-F", "-", input=message).stdout.strip()

    def _tree_with(self, root: str, path: str, text: str | None) -> str:
        """The tree ``root`` with ``path`` set to ``text`` (None: removed)."""
        parts = path.split("/")
        entry: tuple[str, str, str] | None = None
        if text is not None:
            blob = self.git("hash-object", "-w", "--stdin", f"--path={path}", input=text).stdout
            entry = ("100644", "blob", blob.strip())
        for depth in range(len(parts) - 1, -1, -1):
            folder = "/".join(parts[:depth])
            tree = f"{root}:{folder}" if folder else root
            exists = self.git("cat-file", "-e", tree, check=False).returncode == 0
            listing = self.git("ls-tree", "-z", tree).stdout if exists else ""
            entries = []
            for line in filter(None, listing.split("\0")):
                meta, _, name = line.partition("\t")
                if name == parts[depth]:
                    if entry is not None and entry[1] == "blob" and meta.startswith("100"):
                        entry = (meta.split()[0], *entry[1:])  # keep the mode (executable)
                    continue
                entries.append(line)
            if entry is not None:
                entries.append(f"{entry[0]} {entry[1]} {entry[2]}\t{parts[depth]}")
            if not entries and depth:
                entry = None  # an emptied folder disappears
                continue
            new_tree = self.git("mktree", "-z", "--missing", input="\0".join(entries) + "\0")
            entry = ("040000", "tree", new_tree.stdout.strip())
        assert entry is not None
        return entry[2]

    def push(self, commit: str) -> PushResult:
        """Push ``commit`` to the branch; never forced.

        Whether the branch moved under us (retry) or the server refused (stop) is read only from
        git's per-ref porcelain status, never from the server's or a hook's words on stderr.
        """
        result = self.git(
            "push",
            "--porcelain",
            "--no-verify",
            "origin",
            f"{commit}:refs/heads/{self.branch}",
            check=False,
        )
        outcome = push_outcome(result, f"refs/heads/{self.branch}", self._secrets)
        if outcome is None:
            raise self.error("push", result.stderr)
        if isinstance(outcome, str):
            raise PushRefused(f"push to {redact(self.url)} refused: {outcome}")
        return outcome

    def branch_tip(self, timeout: float = 15.0) -> str | None:
        """The branch's commit on the remote now (``ls-remote``), None if it cannot be asked."""
        try:
            returncode, stdout, _ = run_group(
                ["git", "ls-remote", "origin", f"refs/heads/{self.branch}"],
                cwd=self.directory,
                env=self._env(),
                timeout=timeout,
            )
        except OSError:
            return None
        if returncode != 0:
            return None
        words = stdout.decode("utf-8", "replace").split()
        return words[0] if words else None
