"""The write-back loop: clone the branch tip, apply one change, commit, push; on a moved branch
fetch, re-apply on the new tip (re-checking everything) and retry with jittered backoff.

Never a force push: a push either fast-forwards the branch or is refused and retried, so no
commit is ever lost, and a change is always re-decided against the newest state.
"""

import difflib
import random
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from ci.errors import CiError, UsageError
from ci.gitlab import GitLabContext
from ci.gitops import history
from ci.gitops.message import DEFAULT_AUTHOR_EMAIL, DEFAULT_AUTHOR_NAME, Change, commit_message
from ci.gitops.remote import Clone, Credentials, Identity, TransientGitError
from ci.gitops.tags import (
    DIGEST_PATTERN,
    environments_from_paths,
    looks_like_commit,
    values_path,
)
from ci.gitops.values import read_image, set_image

DEFAULT_SERVICE = "python-microservice"
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


@dataclass(frozen=True)
class Request:
    action: str  # deploy | promote | rollback
    env: str
    tag: str | None = None  # deploy: the tag; rollback: --to
    source_env: str | None = None  # promote: --from
    repository: str | None = None
    digest: str | None = None  # deploy: the build's image digest, when known
    force: bool = False
    dry_run: bool = False


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
    path: str = ""
    old_text: str = ""
    new_text: str = ""
    message: str = ""
    change: Change | None = None


# Checks the registry has REPOSITORY:TAG and returns its digest (None when the registry sends
# none); raises CiError when the image is not there.
Verifier = Callable[[str, str], str | None]


def environments(clone: Clone, commit: str) -> list[str]:
    return environments_from_paths(clone.list_paths(commit, "gitops/"))


def _require_env(env: str, known: list[str], flag: str = "--env") -> None:
    if env not in known:
        names = ", ".join(known) or "none"
        raise UsageError(f"unknown environment {env!r} for {flag} (known: {names})")


def _service(repository: str | None) -> str:
    if repository:
        return repository.rstrip("/").rsplit("/", 1)[-1] or DEFAULT_SERVICE
    return DEFAULT_SERVICE


def _plan(
    clone: Clone, tip: str, request: Request, context: GitLabContext, verify: Verifier | None
) -> _Plan:
    known = environments(clone, tip)
    _require_env(request.env, known)
    path = values_path(request.env)
    text = clone.read_file(tip, path)
    if text is None:
        raise UsageError(f"{path} is missing on the branch")
    current = read_image(text, path)

    # image.pipelineUrl and image.digest travel with the tag: the pipeline that built what is
    # written and the exact image, or none (a stale one is removed).
    carried_url: str | None = None
    carried_digest: str | None = None
    if request.action == "promote":
        _require_env(request.source_env or "", known, "--from")
        source_path = values_path(request.source_env or "")
        source = read_image(clone.read_file(tip, source_path) or "", source_path)
        if not source.tag:
            raise UsageError(f"{source_path} has no image.tag to promote")
        target = source.tag
        carried_url = source.pipeline_url
        carried_digest = source.digest
    elif request.action == "rollback":
        earlier = None if request.tag else history.previous(clone, tip, path, current.tag)
        target = request.tag or (earlier.tag if earlier else None)
        carried_url = earlier.pipeline_url if earlier else None
        carried_digest = earlier.digest if earlier else None
        if not target:
            raise CiError(f"no earlier image.tag in the history of {path} to roll back to")
    else:
        target = request.tag or ""
        carried_url = context.pipeline_url or None
        carried_digest = request.digest

    repository = request.repository or current.repository
    service = _service(repository)
    repository_changes = request.repository is not None and request.repository != current.repository
    digest_changes = carried_digest is not None and carried_digest != current.digest
    if target == current.tag and not repository_changes and not digest_changes:
        return _Plan("unchanged", f"{request.env} already runs {service} {target}: nothing to do")

    forced_over = resolved = None
    if request.action == "deploy":
        relation = history.relation(clone, target, current.tag)
        resolved = relation.candidate
        if relation.kind == "older":
            if not request.force:
                return _Plan(
                    "stale",
                    f"{request.env} already runs {current.tag}, a newer build than {target}:"
                    " nothing to do (--force deploys it anyway)",
                )
            forced_over = current.tag

    if verify is not None:
        if not repository:
            raise UsageError(f"--verify-image needs --repository or image.repository in {path}")
        registry_digest = verify(repository, target)
        if carried_digest and registry_digest and carried_digest != registry_digest:
            raise CiError(
                f"the registry has {registry_digest} for {repository}:{target}, not the digest"
                f" given ({carried_digest}): nothing committed"
            )
        carried_digest = carried_digest or registry_digest

    if request.action == "rollback" and request.tag:
        found = history.recorded(clone, tip, path, target)
        carried_url = found.pipeline_url if found else None
        carried_digest = found.digest if found else None
    if carried_url and not PIPELINE_URL.fullmatch(carried_url):
        carried_url = None
    if carried_digest and not DIGEST_PATTERN.fullmatch(carried_digest):
        carried_digest = None
    new_text = set_image(
        text,
        target,
        request.repository,
        pipeline_url=carried_url,
        name=path,
        digest=carried_digest,
    )
    source_commit = None
    if request.action == "deploy":
        source_commit = (
            context.commit_sha or resolved or (target if looks_like_commit(target) else None)
        )
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
        source_commit=source_commit,
        digest=carried_digest,
    )
    message = commit_message(change, context)
    return _Plan("commit", "", path, text, new_text, message, change)


def diff(plan: _Plan) -> str:
    return "".join(
        difflib.unified_diff(
            plan.old_text.splitlines(keepends=True),
            plan.new_text.splitlines(keepends=True),
            fromfile=f"a/{plan.path}",
            tofile=f"b/{plan.path}",
        )
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
    verified: dict[tuple[str, str], str | None] = {}

    def verify_once(repository: str, tag: str) -> str | None:
        if verify is not None and (repository, tag) not in verified:
            verified[repository, tag] = verify(repository, tag)
        return verified.get((repository, tag))

    with tempfile.TemporaryDirectory(prefix="ci-gitops-") as workdir:
        clone = Clone(
            target.url, target.branch, Path(workdir) / "repo", target.credentials, target.identity
        )
        tip = _network(clone.clone, retry, log)
        for attempt in range(retry.attempts):
            plan = _plan(clone, tip, request, context, verify_once if verify else None)
            if plan.status != "commit":
                return Outcome(plan.status, plan.line, retries=attempt)
            assert plan.change is not None
            if request.dry_run:
                line = f"dry run: would commit {plan.message.splitlines()[0]!r} (nothing pushed)"
                return Outcome("dry-run", line, diff=diff(plan), retries=attempt)
            commit = clone.commit_file(tip, plan.path, plan.new_text, plan.message)
            if publish is not None:
                commit, line = publish(clone, tip, commit, plan.change)
                return Outcome("merge-request", line, commit=commit, retries=attempt)
            pushed = _network(lambda c=commit: clone.push(c), retry, log)
            if pushed.ok:
                tries = f" after {attempt} retries" if attempt else ""
                subject = plan.message.splitlines()[0]
                line = f"{subject}: pushed {commit[:12]} to {target.branch}{tries}"
                return Outcome("pushed", line, commit=commit, retries=attempt)
            log(f"warning: push refused ({pushed.reason}); fetching the new tip and re-applying")
            if attempt + 1 < retry.attempts:
                time.sleep(retry.delay(attempt))
                tip = _network(clone.refetch, retry, log)
    raise CiError(
        f"gave up after {retry.attempts} push attempts: {target.branch} kept moving under us"
    )
