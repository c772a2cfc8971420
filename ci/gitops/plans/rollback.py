"""``rollback``: go back to the build before the live one (or ``--to`` a tag the environment
ran), skipping builds rolled back from and rejected builds, and hold the environment; a retried
job never rolls back twice, and a retry after a race never brings back the build it rolled back
from."""

from collections.abc import Iterable, Iterator
from dataclasses import replace

from ci.errors import CiError, UsageError
from ci.gitops.history import TagChange, rollback_target
from ci.gitops.holds import Hold, format_hold, hold_path
from ci.gitops.message import ROLLBACK_JOB, parse_trailers, rollback_job
from ci.gitops.plans.action import Status
from ci.gitops.plans.guards import rejections
from ci.gitops.plans.image import Build, Extra, Values, image_plan, read_values, settled
from ci.gitops.plans.model import Plan, Request, State, read_hold
from ci.gitops.rejections import rejecting
from ci.gitops.values import ValuesError


def plan(state: State, request: Request) -> Plan:
    hold = read_hold(state.repo, state.tip, request.env)
    values = read_values(state, request.env)
    chosen = _build(state, request, values)
    if isinstance(chosen, Plan):
        return chosen
    done = settled(request, values, chosen)
    if done is not None:
        return done
    was = values.current.tag
    reason = request.reason or f"rollback from {was}"
    new_hold = Hold(request.env, request.by, state.now, reason, was)
    note = (
        f"Holds {request.env} ({reason}): deploy and promote refuse it until"
        f" `python -m ci unhold --env {request.env}`."
    )
    held = (hold_path(request.env), format_hold(hold) if hold else None, format_hold(new_hold))
    return image_plan(state, request, values, chosen, Extra(hold_note=note, files=(held,)))


def _build(state: State, request: Request, values: Values) -> Build | Plan:
    """The build to go back to, or a finished plan when there is nothing left to do."""
    live = values.current.tag
    if request.rollback_from is not None and live != request.rollback_from:
        return _overtaken(state, request, values.path, live)
    if request.rollback_from is None and not request.tag:
        done = _rolled_back_by_this_job(state, request.env, values.path, live)
        if done is not None:
            return done
    found = _target(state, request, values.path, live)
    return Build(found.tag or "", found.pipeline_url, found.digest)


def _target(state: State, request: Request, path: str, live: str | None) -> TagChange:
    history = state.repo.history(state.tip, path)
    if request.tag:
        found = next((change for change in history if change.tag == request.tag), None)
        if found is None:
            raise UsageError(
                f"{request.tag} never ran in {request.env} (not in the history of {path}):"
                " --to takes a tag this environment ran before; nothing pushed"
            )
        return found
    found = rollback_target(_not_rejected(state, history), live)
    if found is None:
        raise CiError(
            f"no earlier build to roll back to in the history of {path} (builds rolled"
            " back from are skipped): nothing pushed"
        )
    return found


def _not_rejected(state: State, changes: Iterable[TagChange]) -> Iterator[TagChange]:
    """``changes`` with the rejected builds' tags blanked: never a target, though their rollback
    trailers still count. An unreadable rejected file stops no rollback (deploy says why)."""
    try:
        rejected = rejections(state)
    except ValuesError:
        rejected = ()
    for change in changes:
        yield (
            replace(change, tag=None) if rejecting(rejected, change.tag, change.digest) else change
        )


def _rolled_back_by_this_job(state: State, env: str, path: str, now: str | None) -> Plan | None:
    """A retried pipeline job whose first run rolled back already: nothing more to do (a retry
    must not roll back a second build)."""
    job = rollback_job(state.context)
    if not job:
        return None
    latest = next(iter(state.repo.history(state.tip, path)), None)
    if latest is None or latest.tag != now:
        return None
    if parse_trailers(latest.entry.message).get(ROLLBACK_JOB) != job:
        return None
    return Plan(
        Status.UNCHANGED,
        f"this job already rolled {env} back from {latest.rolled_back_from} to"
        f" {now} ({latest.entry.commit[:12]}): nothing to do (to go further back, roll back"
        " from a new pipeline or with --to)",
    )


def _overtaken(state: State, request: Request, path: str, now: str | None) -> Plan:
    """A retried rollback from X finds X no longer live: never bring X back, never roll back a
    build it was not asked to."""
    gone = request.rollback_from
    for change in state.repo.history(state.tip, path):
        if change.tag == gone:
            break
        if change.rolled_back_from == gone:
            return Plan(
                Status.UNCHANGED,
                f"{request.env} was rolled back from {gone} meanwhile (now {now}): nothing to do",
            )
    raise CiError(
        f"{request.env} now runs {now}, not {gone} which this rollback was from:"
        f" nothing pushed (roll back again to roll back {now})"
    )
