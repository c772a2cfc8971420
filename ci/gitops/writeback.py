"""The write-back loop: clone the branch tip, plan one change (holds, staleness, rollback target),
render every environment it changes (``render``), commit, push; on a moved branch fetch, re-plan
on the new tip (re-checking everything) and retry with jittered backoff.

Never a force push: a push either fast-forwards the branch or is refused and retried, so no
commit is ever lost, and a change is always re-decided against the newest state. Either a commit
that renders lands, or nothing is pushed and one line says why.
"""

import difflib
import functools
import random
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from ci.errors import CiError, UsageError
from ci.gitlab import GitLabContext
from ci.gitops import history, render
from ci.gitops.holds import Hold, describe, format_hold, hold_path, parse_hold, release_hint
from ci.gitops.message import (
    DEFAULT_AUTHOR_EMAIL,
    DEFAULT_AUTHOR_NAME,
    ROLLBACK_JOB,
    Change,
    commit_message,
    parse_trailers,
    rollback_job,
)
from ci.gitops.promotion import OVERRIDE_TRAILER
from ci.gitops.remote import (
    GIT_TIMEOUT_SECONDS,
    Clone,
    Credentials,
    GitTimeout,
    Identity,
    TransientGitError,
)
from ci.gitops.tags import (
    DIGEST_PATTERN,
    environments_from_paths,
    looks_like_commit,
    values_path,
)
from ci.gitops.values import ValuesError, read_image, set_image
from ci.project import service_name

# What helm-chart/values.schema.json accepts for image.pipelineUrl (an Argo CD link URL); any
# other value is treated as unknown, so a write-back never makes the chart fail to render.
PIPELINE_URL = re.compile(r"https?://[^\s|]+")
T = TypeVar("T")


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
class Request:
    action: str  # deploy | promote | rollback | hold | unhold
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
    status: str  # pushed | unchanged | stale | dry-run
    line: str
    commit: str | None = None
    retries: int = 0
    diff: str = ""


@dataclass
class _Plan:
    status: str  # commit | unchanged | stale
    line: str
    files: dict[str, str | None] = field(default_factory=dict)  # path -> new text (None: delete)
    before: dict[str, str | None] = field(default_factory=dict)
    message: str = ""
    change: Change | None = None
    render: tuple[str, ...] = ()  # environments whose render the commit changes
    warning: str = ""  # one line for the log (unhold of an unreadable hold file)


# Checks the registry has REPOSITORY:TAG and returns its digest (None when the registry sends
# none); raises CiError when the image is not there.
Verifier = Callable[[str, str], str | None]


class HeldError(CiError):
    """deploy/promote into a held environment without --force: nothing pushed (exit 1)."""


def environments(clone: Clone, commit: str) -> list[str]:
    return environments_from_paths(clone.list_paths(commit, "gitops/"))


def _require_env(env: str, known: list[str], flag: str = "--env") -> None:
    if env not in known:
        raise UsageError(f"unknown environment {env!r} for {flag} (known: {_names(known)})")


def _names(known: list[str], limit: int = 10) -> str:
    """A readable list, however many there are."""
    if not known:
        return "none"
    shown = ", ".join(known[:limit])
    return shown if len(known) <= limit else f"{shown} and {len(known) - limit} more"


def _service(repository: str | None) -> str:
    if repository:
        return repository.rstrip("/").rsplit("/", 1)[-1] or service_name()
    return service_name()


def read_hold(clone: Clone, commit: str, env: str) -> Hold | None:
    """The hold on ``env`` at ``commit`` (ValuesError when its file is malformed)."""
    path = hold_path(env)
    text = clone.read_file(commit, path)
    return None if text is None else parse_hold(text, path)


def own_build(context: GitLabContext, tag: str) -> bool:
    """Whether ``tag`` is the running pipeline's own build (tagged with its commit's SHA; see
    also ``Request.built_here``)."""
    if not context.commit_sha or not looks_like_commit(tag):
        return False
    return context.commit_sha.startswith(tag) or tag == context.commit_short_sha


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _plan(
    clone: Clone, tip: str, request: Request, context: GitLabContext, verify: Verifier | None
) -> _Plan:
    known = environments(clone, tip)
    _require_env(request.env, known)
    if request.action == "unhold":
        return _plan_unhold(clone, tip, request, context)
    hold = read_hold(clone, tip, request.env)
    if request.action == "hold":
        return _plan_hold(request, hold, context)
    if request.action == "promote":
        _require_env(request.source_env or "", known, "--from")
    return _plan_image(clone, tip, request, context, verify, hold)


def _plan_unhold(clone: Clone, tip: str, request: Request, context: GitLabContext) -> _Plan:
    """Delete the hold file whatever it holds: one that cannot be read (bad YAML, not UTF-8,
    missing keys, not a file) is released too, or the unhold job could never recover it."""
    path = hold_path(request.env)
    found = clone.read_blob(tip, path)
    if found is None:
        return _Plan("unchanged", f"{request.env} is not held: nothing to do")
    warning = ""
    try:
        hold = read_hold(clone, tip, request.env)
        assert hold is not None
        note, before = (
            f"Was held by {hold.by} since {hold.since}: {hold.reason}.",
            format_hold(hold),
        )
    except ValuesError as error:
        note = f"The hold was unreadable ({error}); deleted as it was."
        warning = f"warning: the hold is unreadable ({error}): deleting it anyway"
        before = found[1].decode("utf-8", errors="replace")
    change = Change("unhold", request.env, "", None, None, path, hold_note=note)
    message = with_trailer(
        commit_message(change, context), OVERRIDE_TRAILER, _released_by(request, context)
    )
    return _Plan("commit", "", {path: None}, {path: before}, message, change, warning=warning)


def _released_by(request: Request, context: GitLabContext) -> str:
    """``unhold by <who>: <reason or 'released'>``: the trailer check requires of a merge
    request that deletes a hold file."""
    who = request.by if request.by != "unknown" else ""
    if not who and context.user_login:
        who = context.user_login + (f" <{context.user_email}>" if context.user_email else "")
    return f"unhold by {who or 'unknown'}: {' '.join((request.reason or 'released').split())}"


def with_trailer(message: str, key: str, value: str) -> str:
    """``message`` with the trailer ``key: value`` added to its trailer block (made if none)."""
    text = message.rstrip("\n")
    separator = "\n" if parse_trailers(text) else "\n\n"
    return f"{text}{separator}{key}: {value}\n"


def _plan_hold(request: Request, hold: Hold | None, context: GitLabContext) -> _Plan:
    path = hold_path(request.env)
    reason = request.reason or ""
    if hold is not None and hold.reason == reason:
        return _Plan("unchanged", f"{describe(hold)}: nothing to do")
    new = Hold(request.env, request.by, _now(), reason)
    note = f"Held by {new.by}." + (
        f" Replaces the hold by {hold.by} since {hold.since}: {hold.reason}." if hold else ""
    )
    change = Change("hold", request.env, "", None, None, path, reason=reason, hold_note=note)
    before = {path: format_hold(hold) if hold else None}
    return _Plan(
        "commit", "", {path: format_hold(new)}, before, commit_message(change, context), change
    )


@dataclass(frozen=True)
class _Build:
    """The build a write-back names, with the pipeline link and digest written with its tag."""

    tag: str
    pipeline_url: str | None = None
    digest: str | None = None
    own: bool = False


def _plan_image(
    clone: Clone,
    tip: str,
    request: Request,
    context: GitLabContext,
    verify: Verifier | None,
    hold: Hold | None,
) -> _Plan:
    path = values_path(request.env)
    text = clone.read_file(tip, path)
    if text is None:
        raise UsageError(f"{path} is missing on the branch")
    current = read_image(text, path)
    forced_hold = _forced_hold(request, hold)
    chosen = _chosen_build(clone, tip, path, request, context, current.tag)
    if isinstance(chosen, _Plan):
        return chosen
    target = chosen.tag
    own = chosen.own or own_build(context, target)
    repository = request.repository or current.repository
    service = _service(repository)
    repository_changes = request.repository is not None and request.repository != current.repository
    digest_changes = chosen.digest is not None and chosen.digest != current.digest
    if target == current.tag and not repository_changes and not digest_changes:
        return _Plan("unchanged", f"{request.env} already runs {service} {target}: nothing to do")
    order = _deploy_order(clone, request, target, current.tag)
    if isinstance(order, _Plan):
        return order
    forced_over, resolved = order
    verified = _verified_digest(verify, repository, target, chosen.digest, path)
    digest = _matching(verified, DIGEST_PATTERN)
    url = _matching(chosen.pipeline_url, PIPELINE_URL)
    new_text = set_image(
        text, target, request.repository, pipeline_url=url, digest=digest, name=path
    )
    files: dict[str, str | None] = {path: new_text}
    before: dict[str, str | None] = {path: text}
    hold_note = None
    if request.action == "rollback":
        hold_note = _hold_after_rollback(request, current.tag, hold, files, before)
    change = Change(
        action=request.action,
        env=request.env,
        service=service,
        tag=target,
        previous=current.tag,
        path=path,
        source_env=request.source_env,
        forced_over=forced_over,
        repository=request.repository if repository_changes else None,
        source_commit=_source_commit(request, context, own, resolved, target),
        own_build=own,
        forced_hold=forced_hold,
        reason=request.reason,
        hold_note=hold_note,
        digest=digest,
    )
    message = commit_message(change, context)
    return _Plan("commit", "", files, before, message, change, render=(request.env,))


def _deploy_order(
    clone: Clone, request: Request, target: str, live: str | None
) -> _Plan | tuple[str | None, str | None]:
    """Deploy only: (the newer build a --force deploy replaces, the commit the tag resolves to),
    or a "stale" plan when the live build is newer."""
    if request.action != "deploy":
        return None, None
    relation = history.relation(clone, target, live)
    if relation.kind != "older":
        return None, relation.candidate
    if not request.force:
        return _Plan(
            "stale",
            f"{request.env} already runs {live}, a newer build than {target}:"
            " nothing to do (--force deploys it anyway)",
        )
    return live, relation.candidate


def _source_commit(
    request: Request, context: GitLabContext, own: bool, resolved: str | None, target: str
) -> str | None:
    """The commit a deploy's trailers name: the pipeline's own, the one the tag resolved to, or
    the tag itself when it looks like a commit."""
    if request.action != "deploy":
        return None
    own_commit = context.commit_sha if own else None
    return own_commit or resolved or (target if looks_like_commit(target) else None)


def _matching(value: str | None, pattern: re.Pattern[str]) -> str | None:
    """`value` when it is well formed, else None (nothing malformed is written)."""
    return value if value and pattern.fullmatch(value) else None


def _forced_hold(request: Request, hold: Hold | None) -> str | None:
    """Deploy and promote refuse a held environment; with --force, the hold they override."""
    if hold is None or request.action not in ("deploy", "promote"):
        return None
    if not request.force:
        raise HeldError(
            f"{describe(hold)}: nothing pushed; {release_hint(request.env)}, or pass --force"
        )
    return describe(hold)


def _chosen_build(
    clone: Clone, tip: str, path: str, request: Request, context: GitLabContext, live: str | None
) -> _Build | _Plan:
    """The build the request names (or a finished plan when a rollback has nothing left to do)."""
    if request.action == "promote":
        source_path = values_path(request.source_env or "")
        source = read_image(clone.read_file(tip, source_path) or "", source_path)
        if not source.tag:
            raise UsageError(f"{source_path} has no image.tag to promote")
        return _Build(source.tag, source.pipeline_url, source.digest)
    if request.action == "rollback":
        return _rollback_build(clone, tip, path, request, context, live)
    target = request.tag or ""
    own = request.built_here or own_build(context, target)
    # Another pipeline's build (or a laptop deploy): no link rather than a false one.
    url = (context.pipeline_url or None) if own else None
    return _Build(target, url, request.digest, own)


def _rollback_build(
    clone: Clone, tip: str, path: str, request: Request, context: GitLabContext, live: str | None
) -> _Build | _Plan:
    if request.rollback_from is not None and live != request.rollback_from:
        return _rollback_overtaken(clone, tip, path, request, live)
    if request.rollback_from is None and not request.tag:
        done = _rolled_back_by_this_job(clone, tip, request.env, context, live)
        if done is not None:
            return done
    if request.tag:
        found = history.recorded(clone, tip, path, request.tag)
        if found is None:
            raise UsageError(
                f"{request.tag} never ran in {request.env} (not in the history of {path}):"
                " --to takes a tag this environment ran before; nothing pushed"
            )
    else:
        found = history.rollback_target(history.tag_history(clone, tip, path), live)
        if found is None:
            raise CiError(
                f"no earlier build to roll back to in the history of {path} (builds rolled"
                " back from are skipped): nothing pushed"
            )
    return _Build(found.tag or "", found.pipeline_url, found.digest)


def _verified_digest(
    verify: Verifier | None, repository: str | None, tag: str, digest: str | None, path: str
) -> str | None:
    """With --verify-image: the registry must have the image, and the digest given must be its."""
    if verify is None:
        return digest
    if not repository:
        raise UsageError(f"--verify-image needs --repository or image.repository in {path}")
    registry_digest = verify(repository, tag)
    if digest and registry_digest and digest != registry_digest:
        raise CiError(
            f"the registry has {registry_digest} for {repository}:{tag}, not the digest"
            f" given ({digest}): nothing committed"
        )
    return digest or registry_digest


def _hold_after_rollback(
    request: Request,
    rolled_back_from: str | None,
    hold: Hold | None,
    files: dict[str, str | None],
    before: dict[str, str | None],
) -> str:
    """Add the hold a rollback sets to the commit's files; return the commit message's note."""
    reason = request.reason or f"rollback from {rolled_back_from}"
    new_hold = Hold(request.env, request.by, _now(), reason, rolled_back_from)
    files[hold_path(request.env)] = format_hold(new_hold)
    before[hold_path(request.env)] = format_hold(hold) if hold else None
    return (
        f"Holds {request.env} ({reason}): deploy and promote refuse it until"
        f" `python -m ci unhold --env {request.env}`."
    )


def _rolled_back_by_this_job(
    clone: Clone, tip: str, env: str, context: GitLabContext, now: str | None
) -> _Plan | None:
    """A retried pipeline job whose first run rolled back already: nothing more to do (a retry
    must not roll back a second build)."""
    job = rollback_job(context)
    if not job:
        return None
    latest = next(iter(history.tag_history(clone, tip, values_path(env))), None)
    if latest is None or latest.tag != now:
        return None
    if parse_trailers(latest.entry.message).get(ROLLBACK_JOB) != job:
        return None
    return _Plan(
        "unchanged",
        f"this job already rolled {env} back from {latest.rolled_back_from} to"
        f" {now} ({latest.entry.commit[:12]}): nothing to do (to go further back, roll back"
        " from a new pipeline or with --to)",
    )


def _rollback_overtaken(
    clone: Clone, tip: str, path: str, request: Request, now: str | None
) -> _Plan:
    """A retried rollback from X finds X no longer live: never bring X back, never roll back a
    build it was not asked to."""
    gone = request.rollback_from
    for change in history.tag_history(clone, tip, path):
        if change.tag == gone:
            break
        if change.rolled_back_from == gone:
            return _Plan(
                "unchanged",
                f"{request.env} was rolled back from {gone} meanwhile (now {now}): nothing to do",
            )
    raise CiError(
        f"{request.env} now runs {now}, not {gone} which this rollback was from:"
        f" nothing pushed (roll back again to roll back {now})"
    )


def diff(plan: _Plan) -> str:
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
    publish: Callable[[Clone, str, str, Change], tuple[str, str]] | None = None,
) -> Outcome:
    """Apply ``request`` on the remote branch; see the module docstring. ``publish`` (the
    ``--merge-request`` mode) takes the commit instead of the push: (clone, tip, commit, change)
    -> (commit, line)."""
    retry = retry or Retry()
    verify_once = functools.cache(verify) if verify else None  # one registry call per image
    pushing: str | None = None  # the commit whose push may have reached the remote
    with tempfile.TemporaryDirectory(prefix="ci-gitops-") as workdir:
        clone = target.clone(Path(workdir) / "repo")
        try:
            tip = _network(clone.clone, retry, log)
            for attempt in range(retry.attempts):
                plan = _plan(clone, tip, request, context, verify_once)
                if plan.warning and attempt == 0:
                    log(plan.warning)
                if plan.status != "commit":
                    return Outcome(plan.status, plan.line, retries=attempt)
                assert plan.change is not None
                if request.action == "rollback" and request.rollback_from is None:
                    request = replace(request, rollback_from=plan.change.previous)
                render.check(clone, tip, plan.files, plan.render)
                if request.dry_run:
                    line = (
                        f"dry run: would commit {plan.message.splitlines()[0]!r} (nothing pushed)"
                    )
                    return Outcome("dry-run", line, diff=diff(plan), retries=attempt)
                commit = clone.commit_files(tip, plan.files, plan.message)
                if publish is not None:
                    pushing = "merge-request"
                    commit, line = publish(clone, tip, commit, plan.change)
                    return Outcome("merge-request", line, commit=commit, retries=attempt)
                pushing = commit
                pushed = _network(lambda c=commit: clone.push(c), retry, log)
                if pushed.ok:
                    tries = f" after {attempt} retries" if attempt else ""
                    subject = plan.message.splitlines()[0]
                    line = f"{subject}: pushed {commit[:12]} to {target.branch}{tries}"
                    return Outcome("pushed", line, commit=commit, retries=attempt)
                pushing = None
                log(
                    f"warning: push refused ({pushed.reason}); fetching the new tip and re-applying"
                )
                if attempt + 1 < retry.attempts:
                    time.sleep(retry.delay(attempt))
                    tip = _network(clone.refetch, retry, log)
        except (KeyboardInterrupt, GitTimeout) as error:
            raise _cut_short(clone, pushing, error) from None
    raise CiError(
        f"gave up after {retry.attempts} push attempts: {target.branch} kept moving under us"
    )


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
