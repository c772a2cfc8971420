"""Commit messages of the write-back: what happened, ``[skip ci]``, and where it came from."""

from dataclasses import dataclass

from ci.gitlab import GitLabContext
from ci.gitops.plans.action import Action

# The write-back's identity (the bot) unless GITOPS_AUTHOR_NAME / GITOPS_AUTHOR_EMAIL say otherwise.
DEFAULT_AUTHOR_NAME = "gitops-bot"
DEFAULT_AUTHOR_EMAIL = "gitops-bot@noreply.invalid"
SKIP_CI = "[skip ci]"
ROLLED_BACK_FROM = "Rolled-Back-From"
ROLLBACK_JOB = "Rollback-Job"
# A promote without the evidence its source's policy asks for, a deploy or promote in a freeze
# window: ``--override evidence|freeze --reason TEXT`` leaves the reason in these trailers.
EVIDENCE_OVERRIDE = "Evidence-Override"
FREEZE_OVERRIDE = "Freeze-Override"
# Actions whose commit changes no image: the body is their note.
NOTE_ONLY = (Action.HOLD, Action.UNHOLD, Action.RECORD, Action.REJECT, Action.UNREJECT)


@dataclass(frozen=True)
class Change:
    """One edit of an environment's gitops files, described for people."""

    action: Action
    env: str
    service: str
    tag: str | None
    previous: str | None
    path: str
    source_env: str | None = None
    forced_over: str | None = None  # the newer build a --force deploy replaces
    repository: str | None = None
    source_commit: str | None = None  # the commit the image was built from, when known
    digest: str | None = None  # the image digest written with the tag, when known
    own_build: bool = False  # the tag is the running pipeline's own build (credit the pipeline)
    forced_hold: str | None = None  # the hold a --force deploy/promote overrode, described
    reason: str | None = None  # hold / rollback: why
    hold_note: str | None = None  # what the commit did to the hold (rollback: held, unhold: was)
    outcome: str | None = None  # record: the verdict's outcome
    notes: tuple[str, ...] = ()  # more lines of the body (an override, a recorded verdict)
    extra_trailers: tuple[tuple[str, str], ...] = ()  # (key, value): overrides


def subject(change: Change) -> str:
    if change.action == Action.HOLD:
        return f"hold({change.env}): {change.reason} {SKIP_CI}"
    if change.action == Action.UNHOLD:
        return f"unhold({change.env}): released {SKIP_CI}"
    if change.action == Action.RECORD:
        return f"record({change.env}): {change.service} {change.tag} {change.outcome} {SKIP_CI}"
    if change.action in (Action.REJECT, Action.UNREJECT):
        return f"{change.action}: {change.service} {change.tag} {SKIP_CI}"
    detail = ""
    if change.action == Action.PROMOTE and change.source_env:
        detail = f" from {change.source_env}"
    elif change.action == Action.ROLLBACK and change.previous:
        detail = f" (was {change.previous})"
    if change.forced_over or change.forced_hold:
        detail += " (forced)"
    return f"{change.action}({change.env}): {change.service} {change.tag}{detail} {SKIP_CI}"


def body(change: Change) -> str:
    if change.action in NOTE_ONLY:
        return "\n".join([*([change.hold_note] if change.hold_note else []), *change.notes])
    lines = [f"Set image.tag in {change.path} from {change.previous or '(unset)'} to {change.tag}."]
    if change.repository:
        lines.append(f"Set image.repository to {change.repository}.")
    if change.digest:
        lines.append(f"Pinned image.digest {change.digest}.")
    if change.forced_over:
        lines.append(
            f"Forced with --force over {change.forced_over}, a newer build that was deployed."
        )
    if change.forced_hold:
        lines.append(f"Forced with --force over a hold: {change.forced_hold}.")
    if change.hold_note:
        lines.append(change.hold_note)
    return "\n".join([*lines, *change.notes])


def trailers(change: Change, context: GitLabContext) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if change.source_commit:
        found.append(("Source-Commit", change.source_commit))
    if change.action == Action.ROLLBACK and change.previous:
        found.append((ROLLED_BACK_FROM, change.previous))
        job = rollback_job(context)
        if job:
            found.append((ROLLBACK_JOB, job))
    found += change.extra_trailers
    if context.pipeline_url:
        # "Pipeline" credits the pipeline with the build; one that only ran the write-back of
        # another pipeline's build is named as what it is.
        key = "Pipeline" if change.own_build else "Run-By-Pipeline"
        found.append((key, context.pipeline_url))
    if context.user_login:
        who = context.user_login
        if context.user_email:
            who += f" <{context.user_email}>"
        found.append(("Triggered-By", who))
    return found


def rollback_job(context: GitLabContext) -> str:
    """The pipeline job running a rollback (the same on a retry of that job), or ''."""
    if context.job_name and context.pipeline_url:
        return f"{context.job_name} in {context.pipeline_url}"
    return ""


def commit_message(change: Change, context: GitLabContext) -> str:
    parts = [subject(change)]
    text = body(change)
    if text:
        parts += ["", text]
    lines = trailers(change, context)
    if lines:
        parts += ["", *(f"{key}: {value}" for key, value in lines)]
    return "\n".join(parts) + "\n"


def parse_trailers(message: str) -> dict[str, str]:
    """The ``Key: value`` lines of a message's last paragraph."""
    paragraphs = [p for p in message.strip().split("\n\n") if p.strip()]
    if len(paragraphs) < 2:
        return {}
    result = {}
    for line in paragraphs[-1].splitlines():
        key, sep, value = line.partition(": ")
        if sep and key and " " not in key:
            result[key] = value.strip()
    return result


def with_trailer(message: str, key: str, value: str) -> str:
    """``message`` with the trailer ``key: value`` added to its trailer block (made if none)."""
    text = message.rstrip("\n")
    separator = "\n" if parse_trailers(text) else "\n\n"
    return f"{text}{separator}{key}: {value}\n"
