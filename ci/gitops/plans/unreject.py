"""``unreject``: remove a build's rejections from ``gitops/rejected.yaml`` (those of its tag,
and of its digest when given); the commit says who and why in the ``Promotion-Override``
trailer that ``check`` asks of a merge request that releases a rejection."""

from ci.gitops.message import Change, commit_message, with_trailer
from ci.gitops.plans.action import Action, Status
from ci.gitops.plans.guards import rejections
from ci.gitops.plans.model import Plan, Request, State
from ci.gitops.promotion import OVERRIDE_TRAILER
from ci.gitops.rejections import REJECTED_FILE, format_rejections
from ci.project import service_name


def plan(state: State, request: Request) -> Plan:
    tag = request.tag or ""
    before = state.repo.read_file(state.tip, REJECTED_FILE)
    rejected = rejections(state)
    released = [found for found in rejected if found.rejects(tag, request.digest)]
    if not released:
        return Plan(Status.UNCHANGED, f"{tag} is not rejected: nothing to do")
    kept = tuple(found for found in rejected if found not in released)
    reason = " ".join((request.reason or "").split())
    notes = tuple(f"It was rejected: {found.describe()}." for found in released)
    change = Change(
        Action.UNREJECT, "", service_name(), tag, None, REJECTED_FILE, digest=request.digest,
        reason=reason, hold_note=f"Unrejected by {request.by}: {reason}.", notes=notes,
    )  # fmt: skip
    message = with_trailer(
        commit_message(change, state.context),
        OVERRIDE_TRAILER,
        f"unreject {tag} by {request.by}: {reason}",
    )
    files = {REJECTED_FILE: format_rejections(kept)}
    return Plan(None, "", files, {REJECTED_FILE: before}, message, change)
