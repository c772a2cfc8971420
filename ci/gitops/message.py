"""Commit messages of the write-back: what happened, ``[skip ci]``, and where it came from."""

from dataclasses import dataclass

from ci.gitlab import GitLabContext

DEFAULT_AUTHOR_NAME = "gitops-bot"
DEFAULT_AUTHOR_EMAIL = "gitops-bot@noreply.invalid"
SKIP_CI = "[skip ci]"


@dataclass(frozen=True)
class Change:
    """One edit of an environment's values file, described for people."""

    action: str  # deploy | promote | rollback
    env: str
    service: str
    tag: str
    previous: str | None
    path: str
    source_env: str | None = None
    forced_over: str | None = None  # the newer build a --force deploy replaces
    repository: str | None = None
    source_commit: str | None = None  # the commit the image was built from, when known
    digest: str | None = None  # the image digest written with the tag, when known


def subject(change: Change) -> str:
    detail = ""
    if change.action == "promote" and change.source_env:
        detail = f" from {change.source_env}"
    elif change.action == "rollback" and change.previous:
        detail = f" (was {change.previous})"
    if change.forced_over:
        detail += " (forced)"
    return f"{change.action}({change.env}): {change.service} {change.tag}{detail} {SKIP_CI}"


def body(change: Change) -> str:
    lines = [f"Set image.tag in {change.path} from {change.previous or '(unset)'} to {change.tag}."]
    if change.repository:
        lines.append(f"Set image.repository to {change.repository}.")
    if change.digest:
        lines.append(f"Pinned image.digest {change.digest}.")
    if change.forced_over:
        lines.append(
            f"Forced with --force over {change.forced_over}, a newer build that was deployed."
        )
    return "\n".join(lines)


def trailers(change: Change, context: GitLabContext) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if change.source_commit:
        found.append(("Source-Commit", change.source_commit))
    if context.pipeline_url:
        found.append(("Pipeline", context.pipeline_url))
    if context.user_login:
        who = context.user_login
        if context.user_email:
            who += f" <{context.user_email}>"
        found.append(("Triggered-By", who))
    return found


def commit_message(change: Change, context: GitLabContext) -> str:
    parts = [subject(change), "", body(change)]
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
