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
import re
import shutil
import subprocess
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ci.errors import CiError, UsageError
from ci.gitlab import GitLabContext

GIT_TIMEOUT_SECONDS = 120.0
CREDENTIAL_HELPER = (
    '!f() { test "$1" = get || exit 0; '
    'echo "username=${GITOPS_GIT_USERNAME}"; echo "password=${GITOPS_GIT_PASSWORD}"; }; f'
)
USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@")
# A push refused because the branch moved under us: fetch, re-apply and retry.
RETRYABLE_PUSH = (
    "fetch first",
    "non-fast-forward",
    "stale info",
    "failed to update ref",
    "cannot lock ref",
    "failed to lock",
    "incorrect old value",
)
# Network trouble worth another try (a flaky remote), unlike refused credentials.
TRANSIENT = (
    "unable to connect",
    "connection refused",
    "connection reset",
    "connection timed out",
    "operation timed out",
    "failed to connect",
    "could not resolve host",
    "temporary failure in name resolution",
    "the remote end hung up unexpectedly",
    "early eof",
    "rpc failed",
    "couldn't connect to server",
    "http/2 stream",
    "returned error: 502",
    "returned error: 503",
    "returned error: 504",
)
AUTH_FAILURE = (
    "authentication failed",
    "http basic: access denied",
    "returned error: 401",
    "returned error: 403",
    "could not read username",
    "could not read password",
    "permission denied",
    "access denied",
)


class TransientGitError(CiError):
    """The remote could not be reached or dropped the connection: worth a bounded retry."""


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class Identity:
    name: str
    email: str


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` without URL user-info and without any of ``secrets``."""
    text = USERINFO.sub(r"\g<scheme>", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def normalize_url(repo: str) -> tuple[str, Credentials | None]:
    """A clean URL for ``repo`` (a path becomes ``file://``) and the credentials it embedded."""
    if "://" not in repo and not re.match(r"^[^/]+@[^/:]+:", repo):
        # A local path: file:// so that the partial-clone filter is honoured.
        return Path(repo).expanduser().resolve().as_uri(), None
    parsed = urllib.parse.urlsplit(repo)
    if parsed.scheme in ("http", "https") and (parsed.username or parsed.password):
        host = parsed.hostname or ""
        if parsed.port:
            host += f":{parsed.port}"
        clean = urllib.parse.urlunsplit(parsed._replace(netloc=host))
        username = urllib.parse.unquote(parsed.username or "")
        password = urllib.parse.unquote(parsed.password or "")
        return clean, Credentials(username, password) if password else None
    return repo, None


def credentials_from_environ(
    environ: Mapping[str, str], embedded: Credentials | None = None
) -> Credentials | None:
    """Push credentials: ``GITOPS_TOKEN`` (access token), else the URL's, else the job token."""
    token = environ.get("GITOPS_TOKEN", "")
    if token:
        return Credentials(environ.get("GITOPS_USERNAME") or "oauth2", token)
    if embedded:
        return embedded
    job_token = GitLabContext.from_environ(environ).job_token
    if job_token:
        return Credentials("gitlab-ci-token", job_token)
    return None


def default_repo(environ: Mapping[str, str], cwd: str | None = None) -> str | None:
    """In GitLab the project's HTTPS URL, else this checkout's ``origin``."""
    context = GitLabContext.from_environ(environ)
    if context.server_host and context.project_path:
        return f"https://{context.server_host}/{context.project_path}.git"
    try:
        result = subprocess.run(
            ["git", "remote", "get-url", "origin"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None


@dataclass
class PushResult:
    ok: bool
    retryable: bool = False
    reason: str = ""


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
    ) -> None:
        self.url = url
        self.branch = branch
        self.directory = Path(directory)
        self.credentials = credentials
        self.identity = identity or Identity("gitops-bot", "gitops-bot@noreply.invalid")
        self.tracking_ref = f"refs/remotes/origin/{branch}"
        self._secrets = (credentials.password,) if credentials else ()

    # -- running git -------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("GIT_", "GITOPS_GIT_")) or key in ("GIT_EXEC_PATH",)
        }
        env.update(
            LC_ALL="C",
            LANGUAGE="C",
            GIT_TERMINAL_PROMPT="0",
            GIT_ASKPASS="",
            SSH_ASKPASS="",
            GIT_AUTHOR_NAME=self.identity.name,
            GIT_AUTHOR_EMAIL=self.identity.email,
            GIT_COMMITTER_NAME=self.identity.name,
            GIT_COMMITTER_EMAIL=self.identity.email,
            # An empty helper first drops any helper from the user's or system's config.
            GIT_CONFIG_COUNT="4",
            GIT_CONFIG_KEY_0="credential.helper",
            GIT_CONFIG_VALUE_0="",
            GIT_CONFIG_KEY_1="credential.helper",
            GIT_CONFIG_VALUE_1=CREDENTIAL_HELPER if self.credentials else "",
            GIT_CONFIG_KEY_2="advice.detachedHead",
            GIT_CONFIG_VALUE_2="false",
            GIT_CONFIG_KEY_3="fetch.writeCommitGraph",
            GIT_CONFIG_VALUE_3="false",
        )
        if self.credentials:
            env["GITOPS_GIT_USERNAME"] = self.credentials.username
            env["GITOPS_GIT_PASSWORD"] = self.credentials.password
        return env

    def git(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess:
        command = ["git", *args]
        try:
            result = subprocess.run(
                command,
                cwd=cwd or self.directory,
                env={**self._env(), **(env or {})},
                input=input,
                capture_output=True,
                text=True,
                timeout=GIT_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise CiError(
                f"git {args[0]} against {self.url} timed out after {GIT_TIMEOUT_SECONDS:.0f}s"
            ) from None
        if check and result.returncode != 0:
            raise self.error(args[0], result.stderr)
        return result

    def error(self, action: str, stderr: str) -> CiError:
        """One redacted line for a failed git command."""
        text = redact(stderr, self._secrets)
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        lowered = text.lower()
        if any(marker in lowered for marker in AUTH_FAILURE):
            who = f" as {self.credentials.username}" if self.credentials else " (no credentials)"
            return CiError(f"authentication to {redact(self.url)} failed{who}")
        if "remote branch" in lowered and "not found" in lowered:
            return UsageError(f"branch {self.branch!r} not found in {redact(self.url)}")
        first = next(
            (i for i, line in enumerate(lines) if line.startswith(("fatal:", "error:"))), None
        )
        tail = lines[first:] if first is not None else lines[-1:]
        detail = " ".join(line.removeprefix("fatal: ").removeprefix("error: ") for line in tail)
        message = f"git {action} failed for {redact(self.url)}: {detail or 'no output'}"
        if any(marker in lowered for marker in TRANSIENT):
            return TransientGitError(message)
        return CiError(message)

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

    def read_file(self, commit: str, path: str) -> str | None:
        """The file's text at ``commit``, or None when it does not exist there."""
        listing = self.git("ls-tree", commit, "--", path).stdout.strip()
        if not listing:
            return None
        blob = listing.split()[2]
        return self.git("cat-file", "blob", blob).stdout

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

    def commit_file(self, parent: str, path: str, text: str, message: str) -> str:
        """A new commit on ``parent`` where only ``path`` has ``text``; returns its id.

        Only the trees on the file's path are rewritten (``mktree --missing``): nothing else
        of the tree is read, so no blob is fetched and the cost does not grow with the tree.
        """
        blob = self.git("hash-object", "-w", "--stdin", f"--path={path}", input=text).stdout
        parts = path.split("/")
        entry = ("100644", "blob", blob.strip())
        for depth in range(len(parts) - 1, -1, -1):
            folder = "/".join(parts[:depth])
            tree = f"{parent}:{folder}" if folder else f"{parent}^{{tree}}"
            exists = self.git("cat-file", "-e", tree, check=False).returncode == 0
            listing = self.git("ls-tree", "-z", tree).stdout if exists else ""
            entries = []
            for line in filter(None, listing.split("\0")):
                meta, _, name = line.partition("\t")
                if name == parts[depth]:
                    if entry[1] == "blob":  # keep the file's mode (e.g. executable)
                        entry = (meta.split()[0], *entry[1:])
                    continue
                entries.append(line)
            entries.append(f"{entry[0]} {entry[1]} {entry[2]}\t{parts[depth]}")
            new_tree = self.git("mktree", "-z", "--missing", input="\0".join(entries) + "\0")
            entry = ("040000", "tree", new_tree.stdout.strip())
        return self.git(
            "commit-tree", entry[2], "-p", parent, "-F", "-", input=message
        ).stdout.strip()

    def push(self, commit: str) -> PushResult:
        """Push ``commit`` to the branch; never forced. A moved branch is a retryable result."""
        result = self.git(
            "push",
            "--porcelain",
            "--no-verify",
            "origin",
            f"{commit}:refs/heads/{self.branch}",
            check=False,
        )
        status = [line for line in result.stdout.splitlines() if line.startswith(("!", " ", "="))]
        if result.returncode == 0 and status and not status[0].startswith("!"):
            return PushResult(ok=True)
        if status and status[0].startswith("!"):
            summary = status[0].split("\t")[-1]
            lowered = summary.lower() + " " + result.stderr.lower()
            if any(marker in lowered for marker in RETRYABLE_PUSH):
                return PushResult(ok=False, retryable=True, reason=summary)
            remote_lines = [
                line.removeprefix("remote:").strip()
                for line in redact(result.stderr, self._secrets).splitlines()
                if line.startswith("remote:") and line.removeprefix("remote:").strip()
            ]
            detail = redact(summary, self._secrets)
            if remote_lines:
                detail += f": {remote_lines[-1]}"
            raise CiError(f"push to {redact(self.url)} refused: {detail}")
        raise self.error("push", result.stderr)
