"""What a planner sees and returns: the request, the branch state (read through ``Repository``),
and the plan; the checks every planner shares."""

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from ci.errors import CiError, UsageError
from ci.gitlab import GitLabContext
from ci.gitops.freeze import Frozen
from ci.gitops.history import Relation, TagChange
from ci.gitops.holds import Hold, describe, hold_path, parse_hold, release_hint
from ci.gitops.message import Change
from ci.gitops.plans.action import Action, Override, Status
from ci.gitops.promotion import PROMOTION_FILE, Policy, parse_policy
from ci.gitops.tags import environments_from_paths, looks_like_commit
from ci.gitops.verdicts import Verdict, parse_time

# Checks the registry has REPOSITORY:TAG and returns its digest (None when the registry sends
# none); raises CiError when the image is not there.
Verifier = Callable[[str, str], str | None]
# Another source of freeze windows (GitLab's deploy freezes): the freeze ``env`` is in at a
# time, or None.
Freezes = Callable[[str, datetime], Frozen | None]


class HeldError(CiError):
    """deploy/promote into a held environment without --force: nothing pushed (exit 1)."""


@dataclass(frozen=True)
class Request:
    action: Action
    env: str
    tag: str | None = None  # deploy: the tag; rollback: --to
    source_env: str | None = None  # promote: --from
    repository: str | None = None
    digest: str | None = None  # deploy: the build's image digest, when known
    built_here: bool = False  # deploy: the tag is this pipeline's build (its build.env IMAGE_TAG)
    force: bool = False  # deploy: over a newer build; deploy/promote: over a hold
    dry_run: bool = False
    reason: str | None = None  # hold, rollback: why (recorded in the hold)
    by: str = "unknown"  # who holds (rollback, hold)
    # rollback: the build it rolls back from, fixed by its first look at the branch, so that a
    # retry after a race never rolls back something else (or brings that build back).
    rollback_from: str | None = None
    verdict: Verdict | None = None  # record: the verification's verdict
    rollback: bool = False  # record: roll a failed build back when the environment still runs it
    overrides: frozenset[Override] = frozenset()  # deploy, promote: allowed with ``reason``


class Repository(Protocol):
    """The branch as planners read it; the clone implements it, tests fake it in memory."""

    def read_file(self, commit: str, path: str) -> str | None:
        """The text at ``commit`` or None (ValuesError: a symlink, a folder, not UTF-8)."""

    def read_blob(self, commit: str, path: str) -> tuple[str, bytes] | None:
        """``(mode, bytes)`` of the entry at ``path``, or None when there is none."""

    def list_paths(self, commit: str, prefix: str) -> list[str]: ...

    def history(self, tip: str, path: str) -> Iterator[TagChange]:
        """The values file's first-parent history from ``tip``, newest first."""

    def relation(self, candidate: str, deployed: str | None) -> Relation:
        """How build ``candidate`` relates to the ``deployed`` one (git ancestry)."""


@dataclass(frozen=True)
class State:
    """The branch at ``tip`` and the facts of this run: ``now`` (ISO 8601, UTC) is the clock of
    the whole plan, what a hold records and what freeze windows and soak times are judged at;
    ``freezes`` adds freeze windows from elsewhere (GitLab's deploy freezes)."""

    repo: Repository
    tip: str
    context: GitLabContext
    now: str
    verify: Verifier | None = None
    freezes: Freezes | None = None

    @functools.cached_property
    def environments(self) -> list[str]:
        return environments(self.repo, self.tip)

    @functools.cached_property
    def time(self) -> datetime:
        """``now`` as an aware datetime."""
        return parse_time(self.now)

    @functools.cached_property
    def policy(self) -> Policy:
        """The branch's ``gitops/promotion.yaml`` (UsageError, exit 2, when malformed)."""
        return parse_policy(self.repo.read_file(self.tip, PROMOTION_FILE))


@dataclass
class Plan:
    status: Status | None  # None: commit ``files``; else UNCHANGED or STALE, said by ``line``
    line: str = ""
    files: dict[str, str | None] = field(default_factory=dict)  # path -> new text (None: delete)
    before: dict[str, str | None] = field(default_factory=dict)
    message: str = ""
    change: Change | None = None
    render: tuple[str, ...] = ()  # environments whose render the commit changes
    warning: str = ""  # one line for the log (unhold of an unreadable hold file)

    @property
    def commits(self) -> bool:
        return self.status is None


def environments(repo: Repository, commit: str) -> list[str]:
    return environments_from_paths(repo.list_paths(commit, "gitops/"))


def require_env(env: str, known: list[str], flag: str = "--env") -> None:
    if env not in known:
        raise UsageError(f"unknown environment {env!r} for {flag} (known: {names(known)})")


def names(known: list[str], limit: int = 10) -> str:
    """A readable list, however many there are."""
    if not known:
        return "none"
    shown = ", ".join(known[:limit])
    return shown if len(known) <= limit else f"{shown} and {len(known) - limit} more"


def read_hold(repo: Repository, commit: str, env: str) -> Hold | None:
    """The hold on ``env`` at ``commit`` (ValuesError when its file is malformed)."""
    path = hold_path(env)
    text = repo.read_file(commit, path)
    return None if text is None else parse_hold(text, path)


def forced_hold(request: Request, hold: Hold | None) -> str | None:
    """Deploy and promote refuse a held environment; with --force, the hold they override."""
    if hold is None:
        return None
    if not request.force:
        raise HeldError(
            f"{describe(hold)}: nothing pushed; {release_hint(request.env)}, or pass --force"
        )
    return describe(hold)


def own_build(context: GitLabContext, tag: str) -> bool:
    """Whether ``tag`` is the running pipeline's own build (tagged with its commit's SHA; see
    also ``Request.built_here``)."""
    if not context.commit_sha or not looks_like_commit(tag):
        return False
    return context.commit_sha.startswith(tag) or tag == context.commit_short_sha
