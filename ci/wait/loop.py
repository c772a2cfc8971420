"""Waiting for Argo CD to run an environment's build healthy (``python -m ci wait``, and
``deploy|promote|rollback --wait`` after their push), or fail.

Exit 0: deployed (synced at the commit, or a later one still running the same image, healthy, the
image among ``status.summary.images``). Exit 1: the sync failed or the application is Degraded
(Argo CD's own words are printed), or the timeout passed (the last state is named). Exit 2: bad
input (unknown environment, a malformed ARGOCD_SERVER, timeout or token, a token Argo CD rejects,
no such application at first contact, a redirect to another origin). Exit 3: superseded, a later
commit changed the environment's image before ours became healthy (a newer deploy, or a rollback
of ours: said as such). Exit 130: interrupted (SIGINT or SIGTERM; git's processes and the temp
clone are gone first).

The timeout covers the whole command, the clone of the gitops branch included; each request to
Argo CD ends within REQUEST_SECONDS however slowly the server sends. After Argo CD has shown the
application once, a 403, 404, 5xx or no answer is a passing state, retried until the timeout.
"""

import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci.chart.argocd import application_for
from ci.deadline import Deadline, seconds
from ci.errors import CiError, UsageError
from ci.gitops.credentials import redact
from ci.gitops.plans.action import Status
from ci.gitops.processes import terminate_as_interrupt
from ci.gitops.remote import Clone
from ci.gitops.writeback import Target, environments
from ci.options import TRUE_WORDS
from ci.wait.argocd import ArgoCD, Denied, Unreachable
from ci.wait.revisions import Lineage, default_revision, resolve_revision
from ci.wait.verdict import (
    Expected,
    Outcome,
    Revision,
    Verdict,
    error_conditions,
    explain_failure,
    judge,
    revisions_in,
    short,
    sync_revision,
)

EXIT_DEPLOYED, EXIT_FAILED, EXIT_USAGE, EXIT_SUPERSEDED = 0, 1, 2, 3
REQUEST_SECONDS = 10.0  # the longest one poll may take
LAST_LOOK_SECONDS = 0.5  # a look at the deadline still gets this long
TREE_SECONDS = 2.0  # the resource tree, to explain a failure found at the deadline
WEBHOOK_HINT = (
    "Argo CD has not reached the commit: it polls git every 3 minutes unless a GitLab webhook"
    " tells it (see docs/operations.md)"
)


@dataclass(frozen=True)
class Settings:
    client: ArgoCD
    app: str
    timeout: float
    interval: float


def settings_from_environ(
    env: str, timeout: float | None = None, interval: float | None = None
) -> Settings:
    """ARGOCD_SERVER, ARGOCD_AUTH_TOKEN, ARGOCD_CA_FILE, ARGOCD_APP, WAIT_TIMEOUT, WAIT_INTERVAL."""
    client = ArgoCD.from_settings(
        os.environ.get("ARGOCD_SERVER"),
        os.environ.get("ARGOCD_AUTH_TOKEN"),
        os.environ.get("ARGOCD_CA_FILE"),
    )
    app = os.environ.get("ARGOCD_APP") or application_for(env).name
    return Settings(
        client,
        app,
        timeout if timeout is not None else _seconds("WAIT_TIMEOUT", "600"),
        interval if interval is not None else _seconds("WAIT_INTERVAL", "5"),
    )


def _seconds(variable: str, default: str) -> float:
    return seconds(os.environ.get(variable) or default, variable)


def wait_for(
    target: Target,
    env: str,
    revision: str | None,
    settings: Settings,
    log: Callable[[str], None] = lambda line: print(line, flush=True),
) -> int:
    """Wait for ``revision`` (default: the commit that set ``env``'s image); the exit code.

    SIGTERM (a cancelled job) unwinds like Ctrl-C, as in the write-back: git's process group
    (``git-remote-http`` holds the credentials in its environment) ends, the temp clone goes."""
    deadline = Deadline(settings.timeout)
    with terminate_as_interrupt(), tempfile.TemporaryDirectory(prefix="ci-wait-") as workdir:
        clone = target.clone(Path(workdir) / "repo")
        clone.timeout = deadline.cap(clone.timeout, floor=1.0)
        lineage = _lineage(clone, env, revision, log, deadline)
        log(
            f"waiting up to {settings.timeout:g}s for Argo CD application {settings.app} to run"
            f" {lineage.describe()} healthy"
        )
        return poll(settings, lineage, log, deadline)


def _lineage(
    clone: Clone,
    env: str,
    revision: str | None,
    log: Callable[[str], None],
    deadline: Deadline,
) -> Lineage:
    """Clone the branch and find the commit to wait for."""
    tip = clone.clone()
    known = environments(clone, tip)
    if env not in known:
        names = ", ".join(known) or "none"
        raise UsageError(f"unknown environment {env!r} (known: {names})")
    if revision:
        ours = resolve_revision(clone, tip, revision, clone.branch)
    else:
        ours = default_revision(clone, tip, env)
    return Lineage(clone, env, ours, tip, log=log, deadline=deadline)


def poll(
    settings: Settings,
    lineage: Lineage,
    log: Callable[[str], None],
    deadline: Deadline,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Look until a verdict or the deadline, which gets one last look."""
    last_app: dict[str, Any] | None = None
    last_line, last_logged = "", ""
    first = True
    while True:
        try:
            # The first look asks Argo CD to refresh from git now (read-only, needs only get).
            app = _look(settings, deadline, refresh=first, seen=last_app is not None)
        except Unreachable as error:
            line = str(error)
        else:
            verdict = _judge(app, lineage)
            if verdict.outcome is not Outcome.PENDING:
                return _finish(verdict, app, settings, lineage, deadline)
            last_app, line = app, verdict.line
            last_line = line
        first = False
        if line != last_logged:
            log(f"{settings.app}: {line}")
            last_logged = line
        remaining = deadline.remaining()
        if remaining <= 0:
            return _timed_out(settings, lineage, last_app, last_line, line)
        sleep(min(settings.interval, remaining))  # the last look is at the deadline


def _look(settings: Settings, deadline: Deadline, refresh: bool, seen: bool) -> dict[str, Any]:
    """The Application; a 403 or 404 once it was seen is passing (Unreachable): Argo CD's RBAC
    or project being reloaded, a proxy or a replica behind on its cache, not a wrong name."""
    seconds = deadline.cap(REQUEST_SECONDS, floor=LAST_LOOK_SECONDS)
    try:
        return settings.client.application(settings.app, seconds, refresh=refresh)
    except Denied as error:
        if not seen:
            raise
        raise Unreachable(str(error)) from None


def _judge(app: dict[str, Any], lineage: Lineage) -> Verdict:
    kinds = {rev: lineage.classify(rev) for rev in revisions_in(app)}
    expected = Expected(lineage.ours, lineage.image, lineage.superseded_by())
    return judge(app, expected, kinds)


def _finish(
    verdict: Verdict,
    app: dict[str, Any],
    settings: Settings,
    lineage: Lineage,
    deadline: Deadline,
) -> int:
    what = f"{settings.app} {lineage.describe()}"
    if verdict.outcome is Outcome.DEPLOYED:
        waited = deadline.elapsed()
        print(f"deployed: {what}, synced and healthy after {waited:.0f}s ({verdict.line})")
        return EXIT_DEPLOYED
    if verdict.outcome is Outcome.SUPERSEDED:
        print(_superseded(verdict, what, lineage))
        return EXIT_SUPERSEDED
    try:
        tree = settings.client.resource_tree(
            settings.app, deadline.cap(REQUEST_SECONDS, floor=TREE_SECONDS)
        )
        details = explain_failure(app, tree)
    except CiError as error:
        details = (*verdict.details, f"(resource tree unavailable: {error})")
    print(f"error: failed: {what}: {verdict.line}", file=sys.stderr)
    for line in details:
        print(f"  {line}", file=sys.stderr)
    return EXIT_FAILED


def _superseded(verdict: Verdict, what: str, lineage: Lineage) -> str:
    """A rollback of our build is said as such (by which commit), not as a newer deploy."""
    rollback = lineage.rolled_back_by(verdict.commit) if verdict.commit else None
    if rollback is not None:
        return (
            f"rolled back: {what}: {short(rollback.entry.commit)} rolled this build back"
            f" (to {rollback.tag}) before it became healthy; {verdict.line}"
        )
    return f"superseded: {what}: {verdict.line}; a newer deploy won, this one is not failed"


def _timed_out(
    settings: Settings,
    lineage: Lineage,
    last_app: dict[str, Any] | None,
    last_line: str,
    line: str,
) -> int:
    seen = f"last state: {last_line}" if last_app is not None else "Argo CD never answered"
    if line != last_line:
        seen += f"; then {line}"
    message = (
        f"error: timed out after {settings.timeout:g}s waiting for {settings.app} to run"
        f" {lineage.describe()} healthy; {seen}"
    )
    conditions = error_conditions(last_app) if last_app is not None else []
    if conditions:
        message += "; " + "; ".join(conditions)
    revision = sync_revision(last_app) if last_app is not None else None
    if last_app is not None and (not revision or lineage.classify(revision) is Revision.OTHER):
        message += f"; {WEBHOOK_HINT}"
    print(message, file=sys.stderr)
    return EXIT_FAILED


# --- deploy | promote | rollback --wait -----------------------------------------------------------

UNVERIFIED = (
    "not verified: ARGOCD_SERVER is not set, so nobody checked that Argo CD runs this build"
    " (set it and ARGOCD_AUTH_TOKEN to wait for the deploy)"
)


@dataclass(frozen=True)
class WaitPlan:
    """What a write-back does after pushing: wait with ``settings``, or print ``note``."""

    settings: Settings | None = None
    note: str = ""


def plan_wait(mode: str, env: str) -> WaitPlan | None:
    """``--wait`` / ``GITOPS_WAIT``, checked before anything is pushed (bad settings: exit 2)."""
    mode = (mode or "").strip().lower()
    if mode in ("", "0", "false", "no", "off"):
        return None
    if mode not in TRUE_WORDS | {"auto"}:
        raise UsageError(f"GITOPS_WAIT must be true, false or auto, not {mode!r}")
    if mode == "auto" and not os.environ.get("ARGOCD_SERVER"):
        return WaitPlan(note=UNVERIFIED)
    return WaitPlan(settings=settings_from_environ(env))


def wait_after_write(plan: WaitPlan | None, target: Target, env: str, outcome) -> int:
    """The exit code of a write-back that ended with ``outcome`` (a ``writeback.Outcome``)."""
    if plan is None or outcome.status == Status.DRY_RUN:
        return 0
    if plan.settings is None:
        print(plan.note)
        return 0
    if outcome.status == Status.STALE:
        print(f"superseded: a newer build than the one asked for already runs in {env}")
        return EXIT_SUPERSEDED
    if outcome.status not in (Status.PUSHED, Status.UNCHANGED):  # e.g. a merge request
        print(f"not waiting: the change is not on the branch yet ({outcome.status})")
        return 0
    # pushed: our commit; unchanged: the commit that set the image it already has.
    revision = outcome.commit if outcome.status == Status.PUSHED else None
    return wait_for(target, env, revision, plan.settings, log=lambda line: print(redact(line)))
