"""``unhold``: delete the hold file, whatever it holds; the commit says who released it."""

from ci.gitlab import GitLabContext
from ci.gitops.holds import format_hold, hold_path
from ci.gitops.message import Change, commit_message, with_trailer
from ci.gitops.plans.action import Action, Status
from ci.gitops.plans.model import Plan, Request, State, read_hold
from ci.gitops.promotion import OVERRIDE_TRAILER
from ci.gitops.values import ValuesError


def plan(state: State, request: Request) -> Plan:
    """Delete the hold file whatever it holds: one that cannot be read (bad YAML, not UTF-8,
    missing keys, not a file) is released too, or the unhold job could never recover it."""
    path = hold_path(request.env)
    found = state.repo.read_blob(state.tip, path)
    if found is None:
        return Plan(Status.UNCHANGED, f"{request.env} is not held: nothing to do")
    warning = ""
    try:
        hold = read_hold(state.repo, state.tip, request.env)
        assert hold is not None
        note = f"Was held by {hold.by} since {hold.since}: {hold.reason}."
        before = format_hold(hold)
    except ValuesError as error:
        note = f"The hold was unreadable ({error}); deleted as it was."
        warning = f"warning: the hold is unreadable ({error}): deleting it anyway"
        before = found[1].decode("utf-8", errors="replace")
    change = Change(Action.UNHOLD, request.env, "", None, None, path, hold_note=note)
    message = with_trailer(
        commit_message(change, state.context),
        OVERRIDE_TRAILER,
        released_by(request, state.context),
    )
    return Plan(None, "", {path: None}, {path: before}, message, change, warning=warning)


def released_by(request: Request, context: GitLabContext) -> str:
    """``unhold by <who>: <reason or 'released'>``: the trailer check requires of a merge
    request that deletes a hold file."""
    who = request.by if request.by != "unknown" else ""
    if not who and context.user_login:
        who = context.user_login + (f" <{context.user_email}>" if context.user_email else "")
    return f"unhold by {who or 'unknown'}: {' '.join((request.reason or 'released').split())}"
