"""``hold``: write the hold file that makes deploy and promote refuse the environment."""

from ci.gitops.holds import Hold, describe, format_hold, hold_path
from ci.gitops.message import Change, commit_message
from ci.gitops.plans.action import Action, Status
from ci.gitops.plans.model import Plan, Request, State, read_hold


def plan(state: State, request: Request) -> Plan:
    hold = read_hold(state.repo, state.tip, request.env)
    path = hold_path(request.env)
    reason = request.reason or ""
    if hold is not None and hold.reason == reason:
        return Plan(Status.UNCHANGED, f"{describe(hold)}: nothing to do")
    new = Hold(request.env, request.by, state.now, reason)
    note = f"Held by {new.by}." + (
        f" Replaces the hold by {hold.by} since {hold.since}: {hold.reason}." if hold else ""
    )
    change = Change(Action.HOLD, request.env, "", None, None, path, reason=reason, hold_note=note)
    before = {path: format_hold(hold) if hold else None}
    message = commit_message(change, state.context)
    return Plan(None, "", {path: format_hold(new)}, before, message, change)
