"""``reject``: add a build to ``gitops/rejected.yaml``: ``deploy``, ``promote`` and ``check``
refuse it in every environment from then on. A build already rejected (its tag, or its digest
under any tag) is left as it is: the first rejection is the record."""

from ci.gitops.message import Change, commit_message
from ci.gitops.plans.action import Action, Status
from ci.gitops.plans.guards import rejections
from ci.gitops.plans.model import Plan, Request, State
from ci.gitops.rejections import REJECTED_FILE, Rejection, format_rejections, rejecting
from ci.gitops.rejections import unreject_hint as hint
from ci.gitops.tags import values_path
from ci.gitops.values import ValuesError, read_image
from ci.project import service_name


def plan(state: State, request: Request) -> Plan:
    tag = request.tag or ""
    before = state.repo.read_file(state.tip, REJECTED_FILE)
    rejected = rejections(state)
    found = rejecting(rejected, tag, request.digest)
    if found is not None:
        return Plan(Status.UNCHANGED, f"{found.describe()}: nothing to do")
    new = Rejection(tag, request.digest, request.reason or "", request.by, state.now)
    note = (
        f"Rejected by {new.by}: {new.reason}. deploy, promote and check refuse"
        f" {new.build()} in every environment; {hint(tag)}."
    )
    change = Change(
        Action.REJECT, "", service_name(), tag, None, REJECTED_FILE, digest=request.digest,
        reason=new.reason, hold_note=note,
    )  # fmt: skip
    files = {REJECTED_FILE: format_rejections((new, *rejected))}
    message = commit_message(change, state.context)
    return Plan(
        None, "", files, {REJECTED_FILE: before}, message, change, warning=_running(state, new)
    )


def _running(state: State, rejection: Rejection) -> str:
    """A warning naming the environments that run the build now (a rejection rolls nothing
    back), or ''."""
    running = []
    for env in state.environments:
        try:
            image = read_image(state.repo.read_file(state.tip, values_path(env)) or "")
        except ValuesError:
            continue  # deploy says what is wrong with it
        if rejection.rejects(image.tag, image.digest):
            running.append(env)
    if not running:
        return ""
    rollbacks = "; ".join(f"`python -m ci rollback --env {env}`" for env in running)
    return (
        f"warning: {', '.join(running)} run{'s' if len(running) == 1 else ''} it now: {rollbacks}"
    )
