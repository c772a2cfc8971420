"""What history says: is a build older than the deployed one, what ran before the current tag.

Both questions are answered in the shallow clone, fetching history only as deep as the answer
needs (doubling steps, bounded), so the cost follows how far back the answer is, not the
repository's size.
"""

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ci.gitops.message import ROLLED_BACK_FROM, parse_trailers
from ci.gitops.remote import Clone, LogEntry
from ci.gitops.tags import looks_like_commit
from ci.gitops.values import Image, ValuesError, read_image

FIRST_STEP = 16
# How far back (in commits) an answer is searched before giving up.
MAX_HISTORY = 4096


def _deepen_steps(first: int = FIRST_STEP, limit: int = MAX_HISTORY) -> Iterator[int]:
    step, total = first, 0
    while total < limit:
        yield step
        total += step
        step *= 2


@dataclass(frozen=True)
class Relation:
    """How the candidate build relates to the deployed one."""

    kind: str  # "older" (deployed is a descendant), "newer", "same", "unrelated", "unknown"
    candidate: str | None = None
    deployed: str | None = None


def relation(clone: Clone, candidate_tag: str, deployed_tag: str | None) -> Relation:
    """Compare two tags as commits of the repository, deepening the clone as needed."""
    if not deployed_tag or not (
        looks_like_commit(candidate_tag) and looks_like_commit(deployed_tag)
    ):
        return Relation("unknown")
    steps = _deepen_steps()
    while True:
        candidate, deployed = clone.resolve(candidate_tag), clone.resolve(deployed_tag)
        if candidate and deployed:
            if candidate == deployed:
                return Relation("same", candidate, deployed)
            # A shallow graph can hide an ancestry, never invent one: a yes is final.
            if clone.is_ancestor(candidate, deployed):
                return Relation("older", candidate, deployed)
            if clone.is_ancestor(deployed, candidate):
                return Relation("newer", candidate, deployed)
        if not clone.is_shallow():
            kind = "unrelated" if candidate and deployed else "unknown"
            return Relation(kind, candidate, deployed)
        step = next(steps, None)
        if step is None:
            return Relation("unknown", candidate, deployed)
        clone.deepen(step, trees=False)


# Rollback commits written before the Rolled-Back-From trailer: "rollback(env): svc TAG (was X)".
_ROLLBACK_SUBJECT = re.compile(r"rollback\([^)]*\): \S+ \S+ \(was (?P<was>[^)\s]+)\)")


@dataclass(frozen=True)
class TagChange:
    """A commit of the values file's history, the tag (pipeline URL, digest) it left, and the
    build it rolled back from when it is a rollback."""

    entry: LogEntry
    tag: str | None
    pipeline_url: str | None = None
    digest: str | None = None
    reference: str | None = None  # repository:tag[@digest], what the chart renders

    @property
    def rolled_back_from(self) -> str | None:
        found = parse_trailers(self.entry.message).get(ROLLED_BACK_FROM)
        if found:
            return found
        match = _ROLLBACK_SUBJECT.match(self.entry.subject)
        return match.group("was") if match else None


def tag_history(clone: Clone, tip: str, path: str) -> Iterator[TagChange]:
    """The values file's first-parent history from ``tip``, newest first, deepening as needed.

    Each commit that touched the file is yielded once with the tag it left. The oldest commit of a
    shallow clone looks like it added the file; when reached, the clone is deepened and the walk
    continues past it.
    """
    seen: set[str] = set()
    steps = _deepen_steps()
    while True:
        entries = clone.log(tip, path)
        boundaries = clone.shallow_commits()
        for entry in entries:
            if entry.commit in seen:
                continue
            if entry.commit in boundaries:
                break
            seen.add(entry.commit)
            yield _change(clone, entry, path)
        else:
            return
        step = next(steps, None)
        if step is None:
            # Out of budget: report the boundary commit's state as the oldest we know.
            last = entries[-1]
            if last.commit not in seen:
                yield _change(clone, last, path)
            return
        clone.deepen(step, trees=True)


def _change(clone: Clone, entry: LogEntry, path: str) -> TagChange:
    text = clone.read_file(entry.commit, path)
    try:
        image = read_image(text, path) if text is not None else Image(None, None)
    except ValuesError:
        image = Image(None, None)
    return TagChange(entry, image.tag, image.pipeline_url, image.digest, image.reference)


def rollback_target(changes: Iterable[TagChange], current: str | None) -> TagChange | None:
    """Where ``rollback`` goes: walking the history back from the newest commit, the first tag
    that is neither ``current`` nor a build rolled back from by a commit at or after it.

    So successive rollbacks walk back (A, B, C: C -> B -> A) and never return to a build that was
    rolled back from; a build deployed again after its rollback is eligible again.
    """
    excluded = {current}
    for change in changes:
        if change.rolled_back_from:
            excluded.add(change.rolled_back_from)
        if change.tag and change.tag not in excluded:
            return change
    return None


def recorded(clone: Clone, tip: str, path: str, tag: str) -> TagChange | None:
    """The newest version of the file that held ``tag``, if its history has one."""
    for change in tag_history(clone, tip, path):
        if change.tag == tag:
            return change
    return None


def setter(clone: Clone, tip: str, path: str, current: str | None) -> LogEntry | None:
    """The commit that set the current tag (oldest of the newest run holding it)."""
    found = None
    for change in tag_history(clone, tip, path):
        if change.tag != current:
            break
        found = change.entry
    return found


def find_commit(clone: Clone, name: str) -> str | None:
    """The full id of commit ``name``, deepening the clone (commits only) until it is found."""
    if not looks_like_commit(name):
        return None
    steps = _deepen_steps()
    while True:
        found = clone.resolve(name)
        if found or not clone.is_shallow():
            return found
        step = next(steps, None)
        if step is None:
            return None
        clone.deepen(step, trees=False)
