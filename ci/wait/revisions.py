"""The git side of ``wait``: which commit to wait for, and what a commit Argo CD reports means.

Works in the write-back's partial clone of the gitops branch (``ci.gitops.remote.Clone``): the
environment's values file decides which image a commit runs, so a later commit that changed only
other environments (Argo CD moves ``sync.revision`` forward on those) still runs our build. A
commit that replaced our build is a rollback of it when its ``Rolled-Back-From`` trailer (or the
subject of older rollbacks, ``ci.gitops.history``) names our tag.
"""

import time
from collections.abc import Callable

from ci.deadline import Deadline
from ci.errors import CiError, UsageError
from ci.gitops import history
from ci.gitops.remote import Clone
from ci.gitops.tags import values_path
from ci.gitops.values import Image, ValuesError, read_image
from ci.wait.verdict import Revision, short

# How often the branch is fetched to notice a newer deploy (also on any unknown revision).
REFETCH_SECONDS = 10.0
GIT_FLOOR_SECONDS = 1.0  # a git command at the deadline still gets this long
# How many changes of the values file after ours are read to find what replaced our build.
MAX_REPLACEMENTS = 64


def read_image_at(clone: Clone, commit: str, path: str) -> Image | None:
    """The environment's image at ``commit`` (None: unknown)."""
    text = clone.read_file(commit, path)
    if text is None:
        return None
    try:
        return read_image(text, path)
    except ValuesError:
        return None


def image_at(clone: Clone, commit: str, path: str) -> str | None:
    """The image reference the chart renders for the environment at ``commit`` (None: unknown)."""
    image = read_image_at(clone, commit, path)
    return image.reference if image else None


def default_revision(clone: Clone, tip: str, env: str) -> str:
    """The newest commit on the branch that changed ``env``'s image (to the one it has now)."""
    path = values_path(env)
    changes = history.tag_history(clone, tip, path)
    newest = next(changes, None)
    if newest is None:
        raise UsageError(f"{path} has no history on the branch")
    found = newest.entry.commit
    for change in changes:
        if change.reference != newest.reference:
            break
        found = change.entry.commit
    return found


def resolve_revision(clone: Clone, tip: str, revision: str, branch: str) -> str:
    """The full id of ``--revision``, which must be a commit of the branch."""
    full = history.find_commit(clone, revision.strip().lower())
    if not full or not descends(clone, full, tip):
        raise UsageError(f"--revision {revision!r} is not a commit of branch {branch}")
    return full


def descends(clone: Clone, ancestor: str, descendant: str) -> bool:
    """Whether ``descendant`` is ``ancestor`` or a later commit, deepening a shallow clone (commits
    only, doubling steps, bounded) until its history can tell."""
    step = history.FIRST_STEP
    while ancestor != descendant and not clone.is_ancestor(ancestor, descendant):
        if not clone.is_shallow() or step > history.MAX_HISTORY:
            return False
        clone.deepen(step, trees=False)
        step *= 2
    return True


class Lineage:
    """Classifies commits against ours: same image (ours), a newer image, or something else."""

    def __init__(
        self,
        clone: Clone,
        env: str,
        ours: str,
        tip: str,
        log: Callable[[str], None] = lambda line: None,
        clock: Callable[[], float] = time.monotonic,
        deadline: Deadline | None = None,
    ) -> None:
        self.clone, self.ours, self.tip = clone, ours, tip
        self.path = values_path(env)
        self.deadline, self.git_seconds = deadline, clone.timeout
        image = read_image_at(clone, ours, self.path)
        self.image = image.reference if image else None
        self.tag = image.tag if image else None
        self.log, self.clock = log, clock
        self._known: dict[str, Revision] = {ours: Revision.OURS}
        self._fetched_at = clock()
        self._warned: set[str] = set()

    def _bound(self) -> None:
        """Each git command ends by the command's deadline (the clone's own limit otherwise)."""
        if self.deadline is not None:
            self.clone.timeout = self.deadline.cap(self.git_seconds, floor=GIT_FLOOR_SECONDS)

    def classify(self, revision: str) -> Revision:
        if revision in self._known:
            return self._known[revision]
        self._bound()
        try:
            kind = self._classify(revision)
        except CiError as error:  # git trouble: unknown for now, asked again on the next poll
            self._warn(f"warning: cannot place {short(revision)} in the branch's history ({error})")
            return Revision.OTHER
        if kind is not None:
            self._known[revision] = kind
        return kind or Revision.OTHER

    def _classify(self, revision: str) -> Revision | None:
        full = self.clone.resolve(revision)
        if not full and self._refetch():  # a commit pushed after our last fetch
            full = self.clone.resolve(revision)
        if not full:
            return None  # not (yet) on the branch: asked again on the next poll
        if full == self.ours:
            return Revision.OURS
        if not descends(self.clone, self.ours, full):
            return Revision.OTHER  # older than ours, or on another line of history
        if image_at(self.clone, full, self.path) == self.image:
            return Revision.OURS
        return Revision.NEWER_IMAGE

    def superseded_by(self) -> str | None:
        """The branch tip, when it is a later commit that changed the environment's image."""
        self._bound()
        self._refetch()
        return self.tip if self.classify(self.tip) is Revision.NEWER_IMAGE else None

    def rolled_back_by(self, newer: str) -> history.TagChange | None:
        """The rollback commit that replaced our build on the way to ``newer`` (a later commit
        that changed the image), when the build it rolled back from is ours; None otherwise."""
        self._bound()
        try:
            replaced = self._replacement(newer)
        except CiError:  # git trouble: said as a newer deploy, which it is too
            return None
        if replaced is None or not self.tag or replaced.rolled_back_from != self.tag:
            return None
        return replaced

    def _replacement(self, newer: str) -> history.TagChange | None:
        """The oldest of the values file's changes from ``newer`` back to our image."""
        found = None
        changes = history.tag_history(self.clone, newer, self.path)
        for count, change in enumerate(changes):
            if change.reference == self.image or change.entry.commit == self.ours:
                return found
            if count >= MAX_REPLACEMENTS:
                return None
            found = change
        return None

    def _refetch(self) -> bool:
        """Fetch the branch (at most every REFETCH_SECONDS); True when it was fetched."""
        if self.clock() - self._fetched_at < REFETCH_SECONDS:
            return False
        self._fetched_at = self.clock()
        try:
            self.tip = self.clone.refetch()
        except CiError as error:
            self._warn(f"warning: cannot fetch the branch to look for newer deploys ({error})")
            return False
        return True

    def _warn(self, line: str) -> None:
        """Log a warning once per kind (a flaky remote must not flood the job log)."""
        kind = line.split("(", 1)[0]
        if kind not in self._warned:
            self._warned.add(kind)
            self.log(line)

    def describe(self) -> str:
        return f"{self.image or '(no image)'} at {short(self.ours)}"
