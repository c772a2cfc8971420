"""The write-back loop: clone the branch tip, plan one change (``ci.gitops.plans``: holds,
staleness, rollback target), render every environment it changes (``render``), commit, push; on
a moved branch fetch, re-plan on the new tip (re-checking everything) and retry with jittered
backoff. The same loop serves every action; ``publish`` (``--merge-request``) replaces the push.

Never a force push: a push either fast-forwards the branch or is refused and retried, so no
commit is ever lost, and a change is always re-decided against the newest state. Either a commit
that renders lands, or nothing is pushed and one line says why.
"""

import difflib
import functools
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from ci.errors import CiError
from ci.gitlab import GitLabContext
from ci.gitops import history as branch_history
from ci.gitops import render
from ci.gitops.credentials import Credentials, Identity
from ci.gitops.git_outcomes import TransientGitError
from ci.gitops.message import DEFAULT_AUTHOR_EMAIL, DEFAULT_AUTHOR_NAME, Change
from ci.gitops.plans import registry
from ci.gitops.plans.action import Action, Status
from ci.gitops.plans.model import (
    Freezes,
    HeldError,
    Plan,
    Request,
    State,
    Verifier,
    environments,
    read_hold,
)
from ci.gitops.plans.model import require_env as _require_env
from ci.gitops.remote import GIT_TIMEOUT_SECONDS, Clone, GitTimeout

__all__ = [
    "HeldError",
    "Outcome",
    "Request",
    "Retry",
    "Target",
    "_require_env",
    "apply",
    "environments",
    "read_hold",
]
T = TypeVar("T")
# (clone, tip, commit, change) -> (commit, line): a merge request instead of the push.
Publisher = Callable[[Clone, str, str, Change], tuple[str, str]]


@dataclass(frozen=True)
class Target:
    url: str
    branch: str
    credentials: Credentials | None = field(default=None, repr=False)
    identity: Identity = field(
        default_factory=lambda: Identity(DEFAULT_AUTHOR_NAME, DEFAULT_AUTHOR_EMAIL)
    )
    timeout: float = GIT_TIMEOUT_SECONDS  # each git command's limit

    def clone(self, directory: Path) -> Clone:
        return Clone(
            self.url, self.branch, directory, self.credentials, self.identity, self.timeout
        )


@dataclass(frozen=True)
class Retry:
    attempts: int = 20  # pushes refused because the branch moved
    network_attempts: int = 3  # tries of each network step on a flaky remote
    base_seconds: float = 0.1
    cap_seconds: float = 2.0

    def delay(self, attempt: int) -> float:
        return min(self.cap_seconds, self.base_seconds * 2**attempt) * random.uniform(0.5, 1.5)


@dataclass
class Outcome:
    status: Status
    line: str
    commit: str | None = None
    retries: int = 0
    diff: str = ""


class ClonedBranch:
    """The ``plans.model.Repository`` of a clone: history deepens the shallow clone as needed."""

    def __init__(self, clone: Clone) -> None:
        self.clone = clone

    def read_file(self, commit: str, path: str) -> str | None:
        return self.clone.read_file(commit, path)

    def read_blob(self, commit: str, path: str) -> tuple[str, bytes] | None:
        return self.clone.read_blob(commit, path)

    def list_paths(self, commit: str, prefix: str) -> list[str]:
        return self.clone.list_paths(commit, prefix)

    def history(self, tip: str, path: str) -> Iterator[branch_history.TagChange]:
        return branch_history.tag_history(self.clone, tip, path)

    def relation(self, candidate: str, deployed: str | None) -> branch_history.Relation:
        return branch_history.relation(self.clone, candidate, deployed)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def diff(plan: Plan) -> str:
    return "".join(
        "".join(
            difflib.unified_diff(
                (plan.before.get(path) or "").splitlines(keepends=True),
                (text or "").splitlines(keepends=True),
                fromfile=f"a/{path}" if plan.before.get(path) is not None else "/dev/null",
                tofile=f"b/{path}" if text is not None else "/dev/null",
            )
        )
        for path, text in plan.files.items()
    )


def _network(step: Callable[[], T], retry: Retry, log: Callable[[str], None]) -> T:
    """Run a network step, retrying connection failures a bounded number of times."""
    for attempt in range(retry.network_attempts):
        try:
            return step()
        except TransientGitError as error:
            if attempt + 1 == retry.network_attempts:
                raise
            log(f"warning: {error}; retrying")
            time.sleep(retry.delay(attempt + 2))
    raise AssertionError("unreachable")


def apply(
    target: Target,
    request: Request,
    context: GitLabContext,
    verify: Verifier | None = None,
    retry: Retry | None = None,
    log: Callable[[str], None] = lambda line: None,
    publish: Publisher | None = None,
    freezes: Freezes | None = None,
) -> Outcome:
    """Apply ``request`` on the remote branch; see the module docstring. ``publish`` (the
    ``--merge-request`` mode) takes the commit instead of the push: (clone, tip, commit, change)
    -> (commit, line). ``freezes``: freeze windows beside the branch's policy (``State``)."""
    retry = retry or Retry()
    verify_once = functools.cache(verify) if verify else None  # one registry call per image
    with tempfile.TemporaryDirectory(prefix="ci-gitops-") as workdir:
        clone = target.clone(Path(workdir) / "repo")
        run = _Run(clone, target, context, retry, log, publish, freezes)
        try:
            return run.loop(request, verify_once)
        except (KeyboardInterrupt, GitTimeout) as error:
            raise _cut_short(run.clone, run.pushing, error) from None


@dataclass
class _Run:
    """One write-back: plan on the tip, then land the plan or retry on the new tip."""

    clone: Clone
    target: Target
    context: GitLabContext
    retry: Retry
    log: Callable[[str], None]
    publish: Publisher | None
    freezes: Freezes | None = None
    pushing: str | None = None  # the commit whose push may have reached the remote

    def loop(self, request: Request, verify: Verifier | None) -> Outcome:
        tip = _network(self.clone.clone, self.retry, self.log)
        for attempt in range(self.retry.attempts):
            branch = ClonedBranch(self.clone)
            state = State(branch, tip, self.context, _now(), verify, self.freezes)
            plan = registry.plan(state, request)
            if plan.warning and attempt == 0:
                self.log(plan.warning)
            if plan.status is not None:
                return Outcome(plan.status, plan.line, retries=attempt)
            assert plan.change is not None
            if request.action == Action.ROLLBACK and request.rollback_from is None:
                request = replace(request, rollback_from=plan.change.previous)
            outcome = self.land(tip, plan, request.dry_run, attempt)
            if outcome is not None:
                return outcome
            if attempt + 1 < self.retry.attempts:
                time.sleep(self.retry.delay(attempt))
                tip = _network(self.clone.refetch, self.retry, self.log)
        raise CiError(
            f"gave up after {self.retry.attempts} push attempts:"
            f" {self.target.branch} kept moving under us"
        )

    def land(self, tip: str, plan: Plan, dry_run: bool, attempt: int) -> Outcome | None:
        """Render, commit and push (or publish) ``plan``; None when the push was refused."""
        render.check(self.clone, tip, plan.files, plan.render)
        subject = plan.message.splitlines()[0]
        if dry_run:
            line = f"dry run: would commit {subject!r} (nothing pushed)"
            return Outcome(Status.DRY_RUN, line, diff=diff(plan), retries=attempt)
        commit = self.clone.commit_files(tip, plan.files, plan.message)
        if self.publish is not None:
            assert plan.change is not None
            self.pushing = "merge-request"
            commit, line = self.publish(self.clone, tip, commit, plan.change)
            return Outcome(Status.MERGE_REQUEST, line, commit=commit, retries=attempt)
        self.pushing = commit
        pushed = _network(lambda: self.clone.push(commit), self.retry, self.log)
        if pushed.ok:
            tries = f" after {attempt} retries" if attempt else ""
            line = f"{subject}: pushed {commit[:12]} to {self.target.branch}{tries}"
            return Outcome(Status.PUSHED, line, commit=commit, retries=attempt)
        self.pushing = None
        self.log(f"warning: push refused ({pushed.reason}); fetching the new tip and re-applying")
        return None


def _cut_short(clone: Clone, pushing: str | None, error: BaseException) -> CiError:
    """The truthful one-line account of an interrupted or timed-out run."""
    what = "interrupted" if isinstance(error, KeyboardInterrupt) else str(error)
    exit_code = 130 if isinstance(error, KeyboardInterrupt) else 1
    if pushing is None:
        line = f"{what}: nothing pushed"
    elif pushing == "merge-request":
        line = f"{what} while opening the merge request: its branch may have been pushed"
    else:
        landed = clone.branch_tip()
        if landed == pushing:
            line = f"{what}, but {pushing[:12]} had landed: {clone.branch} now has the commit"
        elif landed is None:
            line = (
                f"{what} during the push of {pushing[:12]}: could not ask the remote whether it"
                f" landed; check {clone.branch}"
            )
        else:
            line = f"{what} during the push: {pushing[:12]} did not land (nothing pushed)"
    result = CiError(line)
    result.exit_code = exit_code
    return result
