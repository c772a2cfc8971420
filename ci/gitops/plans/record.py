"""``record``: write a verification's verdict into ``gitops/<env>/verdicts.yaml``; a failed one
also rejects the build (``gitops/rejected.yaml``) and, with ``rollback``, rolls the environment
back when it still runs that build, as ``rollback`` does (the build before, held, the reason
naming the numbers), all in one commit.

A verdict that arrives after a newer deploy is recorded for its own build and rolls back nothing
it does not own. Recording the same verdict again changes nothing (nor does an older verdict of
a build whose newer one is recorded), so a retried job never rejects a build again after an
``unreject``. The write-back re-plans all of it on a moved tip.
"""

from dataclasses import replace

from ci.errors import CiError, UsageError
from ci.gitlab import GitLabContext
from ci.gitops.message import Change, commit_message
from ci.gitops.plans import rollback
from ci.gitops.plans.action import Action, Status
from ci.gitops.plans.image import Values, read_values, service
from ci.gitops.plans.model import Plan, Request, State
from ci.gitops.promotion import OVERRIDE_TRAILER
from ci.gitops.rejections import (
    REJECTED_FILE,
    Rejection,
    format_rejections,
    parse_rejections,
    rejecting,
    unreject_hint,
)
from ci.gitops.values import ValuesError
from ci.gitops.verdicts import (
    Outcome,
    Verdict,
    describe,
    format_verdicts,
    latest,
    normalized,
    parse_time,
    parse_verdicts,
    verdicts_path,
    with_verdict,
)


def plan(state: State, request: Request) -> Plan:
    verdict = _verdict(request)
    request = replace(request, by=_by(request, state.context))
    path = verdicts_path(request.env)
    recorded, before, warning = _recorded(state, path)
    existing = latest(recorded, verdict.tag, verdict.digest)
    done = _settled(existing, verdict)
    if done is not None:
        return done
    values = read_values(state, request.env)
    files = {path: format_verdicts(request.env, with_verdict(recorded, verdict))}
    befores = {path: before}
    notes = [f"Recorded the {describe(verdict)}."]
    if verdict.outcome == Outcome.FAILED:
        warning = _reject(state, request, verdict, files, befores, notes) or warning
        if request.rollback:
            rolled = _rollback(state, request, verdict, values, notes)
            if rolled is not None:
                return _with_rollback(state, rolled, files, befores, notes, warning)
    change = _change(request, verdict, values, path, notes)
    message = commit_message(change, state.context)
    return Plan(None, "", files, befores, message, change, warning=warning)


def _verdict(request: Request) -> Verdict:
    """The request's verdict, as recorded: about the request's environment and build."""
    verdict = request.verdict
    if verdict is None:
        raise UsageError("record needs a verdict")
    build = (request.env, request.tag or verdict.tag, request.digest or verdict.digest)
    if (verdict.env, verdict.tag, verdict.digest) != build:
        raise UsageError(
            f"the verdict is about {verdict.tag} in {verdict.env}, not {build[1]} in {build[0]}"
        )
    try:
        return normalized(verdict)
    except ValueError as error:
        raise UsageError(f"the verdict cannot be recorded: {error}") from None


def _by(request: Request, context: GitLabContext) -> str:
    """Who records: as asked, else the pipeline that verified, else the command."""
    if request.by != "unknown":
        return request.by
    return f"verify in {context.pipeline_url}" if context.pipeline_url else "python -m ci verify"


def _recorded(state: State, path: str) -> tuple[tuple[Verdict, ...], str | None, str]:
    """(verdicts, the file's text, warning): an unreadable file is replaced, or no verdict could
    ever be recorded again (git history keeps what it said)."""
    try:
        text = state.repo.read_file(state.tip, path)
    except ValuesError as error:
        return (), None, f"warning: {error}: replacing it"
    try:
        return (parse_verdicts(text, path) if text is not None else ()), text, ""
    except ValuesError as error:
        return (), text, f"warning: {error}: replacing it"


def _settled(existing: Verdict | None, verdict: Verdict) -> Plan | None:
    where = f"{verdict.tag} in {verdict.env}"
    if existing == verdict:
        return Plan(Status.UNCHANGED, f"this verdict on {where} is recorded already: nothing to do")
    if existing is not None and parse_time(existing.finished) > parse_time(verdict.finished):
        return Plan(
            Status.UNCHANGED,
            f"a newer verdict on {where} is recorded ({existing.outcome}, finished"
            f" {existing.finished}): nothing to do",
        )
    return None


def _reject(state, request, verdict, files, befores, notes) -> str:
    """Add the failed build to the rejected builds (unless it is there); a warning when the file
    cannot be read (the verdict and the rollback go ahead: they stop the bleeding)."""
    try:
        text = state.repo.read_file(state.tip, REJECTED_FILE)
        rejected = parse_rejections(text)
    except ValuesError as error:
        return f"warning: {error}: {verdict.tag} is not rejected; fix the file, then reject it"
    if rejecting(rejected, verdict.tag, verdict.digest) is not None:
        return ""
    new = Rejection(verdict.tag, verdict.digest, describe(verdict), request.by, state.now)
    files[REJECTED_FILE], befores[REJECTED_FILE] = format_rejections((new, *rejected)), text
    notes.append(
        f"Rejected {new.build()}: deploy, promote and check refuse it in every environment;"
        f" {unreject_hint(verdict.tag)}."
    )
    return ""


def _rollback(state, request, verdict, values: Values, notes: list[str]) -> Plan | None:
    """The rollback of the failed build, when ``env`` still runs it (else a note)."""
    live = values.current
    digests = {live.digest, verdict.digest} - {None}
    if live.tag != verdict.tag or len(digests) > 1:
        notes.append(f"{request.env} runs {live.tag} now, not {verdict.tag}: nothing rolled back.")
        return None
    ask = Request(
        Action.ROLLBACK,
        request.env,
        reason=describe(verdict),
        by=request.by,
        rollback_from=live.tag,
    )
    try:
        return rollback.plan(state, ask)  # the live build is the one to leave: it commits
    except CiError as error:  # nothing earlier to go back to: recorded and rejected all the same
        notes.append(f"Not rolled back: {error}.")
        return None


def _with_rollback(state, rolled: Plan, files, befores, notes, warning: str) -> Plan:
    assert rolled.change is not None
    change = replace(rolled.change, notes=tuple(notes))
    message = commit_message(change, state.context)
    return Plan(
        None,
        "",
        {**rolled.files, **files},
        {**rolled.before, **befores},
        message,
        change,
        render=rolled.render,
        warning=warning,
    )


def _change(request: Request, verdict: Verdict, values: Values, path: str, notes) -> Change:
    trailers = ()
    if verdict.outcome == Outcome.PASSED:  # check asks a merge request that adds one for it
        trailers = ((OVERRIDE_TRAILER, f"{describe(verdict)}, recorded by {request.by}"),)
    return Change(
        Action.RECORD,
        request.env,
        service(request, values),
        verdict.tag,
        None,
        path,
        digest=verdict.digest,
        outcome=str(verdict.outcome),
        notes=tuple(notes),
        extra_trailers=trailers,
    )
