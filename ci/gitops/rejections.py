"""Rejected builds: ``gitops/rejected.yaml``, the builds ``deploy`` and ``promote`` refuse in
every environment and ``check`` refuses a merge request to run (pure: text in, text out).

Written by ``python -m ci reject`` and by a failed verification (``record``), entries removed by
``unreject``. Argo CD never reads it: it is no environment's folder (the ApplicationSet's git
files generator matches only ``gitops/*/values.yaml``) and no Application names it in its
``valueFiles``. A rejected tag is refused whatever its digest, a rejected digest whatever its
tag (the same build pushed under another tag is the same build)::

    rejections = parse_rejections(text)      # ValuesError (exit 2) when malformed
    found = rejecting(rejections, "abc1234", None)
"""

from collections.abc import Iterable
from dataclasses import dataclass

from ci.gitops.holds import load_yaml, quoted
from ci.gitops.tags import DIGEST_PATTERN, TAG_PATTERN
from ci.gitops.values import ValuesError
from ci.gitops.verdicts import entry_fields

REJECTED_FILE = "gitops/rejected.yaml"
REQUIRED = ("tag", "reason", "by", "since")
OPTIONAL = ("digest",)


@dataclass(frozen=True)
class Rejection:
    """A rejected build (``tag``, and ``digest`` when known): who rejected it, since when (ISO
    8601, UTC), why."""

    tag: str
    digest: str | None
    reason: str
    by: str
    since: str

    def rejects(self, tag: str | None, digest: str | None) -> bool:
        return tag == self.tag or (self.digest is not None and digest == self.digest)

    def build(self) -> str:
        return f"{self.tag}@{self.digest}" if self.digest else self.tag

    def describe(self) -> str:
        """``abc1234 is rejected by alice since 2026-...: why``."""
        return f"{self.build()} is rejected by {self.by} since {self.since}: {self.reason}"


def unreject_hint(tag: str) -> str:
    return f"`python -m ci unreject --tag {tag} --reason TEXT` allows it again"


def refusal(rejection: Rejection, tag: str) -> str:
    """The one line of a deploy or promote refused: whose rejection, when, why, how to undo it."""
    named = "" if tag == rejection.tag else f"{tag} is the same build: "
    return f"{named}{rejection.describe()}: nothing pushed; {unreject_hint(rejection.tag)}"


def rejecting(
    rejections: Iterable[Rejection], tag: str | None, digest: str | None
) -> Rejection | None:
    """The rejection of the build ``tag``/``digest``, or None."""
    return next((found for found in rejections if found.rejects(tag, digest)), None)


def reference_parts(reference: str) -> tuple[str | None, str | None]:
    """``(tag, digest)`` of an image reference ``[host[:port]/]name[:tag][@digest]``."""
    name, _, digest = reference.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.rsplit(":", 1)[1] if ":" in last else None
    return tag or None, digest or None


def parse_rejections(text: str | None, path: str = REJECTED_FILE) -> tuple[Rejection, ...]:
    """The rejections in ``text`` (None, empty or comments only: none); ValuesError naming the
    file and the entry when it is malformed (unknown keys too: a misspelt ``digest`` would
    silently let the build through)."""
    data = None if text is None else load_yaml(text, path)
    if data is None:
        return ()
    if not isinstance(data, dict) or set(data) != {"rejected"}:
        raise ValuesError(f"{path}: expected a mapping with one key, 'rejected'")
    entries = [] if data["rejected"] is None else data["rejected"]
    if not isinstance(entries, list):
        raise ValuesError(f"{path}: 'rejected' must be a list")
    return tuple(_entry(item, f"{path}: rejected[{i}]") for i, item in enumerate(entries))


def _entry(item: object, where: str) -> Rejection:
    fields = entry_fields(item, REQUIRED, OPTIONAL, where)
    for key in (*REQUIRED, *OPTIONAL):
        value = fields.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ValuesError(f"{where}: {key!r} must be a non-empty string, not {value!r}")
    if not TAG_PATTERN.fullmatch(fields["tag"]):
        raise ValuesError(f"{where}: 'tag' must be an image tag, not {fields['tag']!r}")
    digest = fields.get("digest")
    if digest is not None and not DIGEST_PATTERN.fullmatch(digest):
        raise ValuesError(f"{where}: 'digest' must be sha256: and 64 hex digits, not {digest!r}")
    return Rejection(
        tag=fields["tag"],
        digest=digest,
        reason=_one_line(fields["reason"]),
        by=_one_line(fields["by"]),
        since=_one_line(fields["since"]),
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


def format_rejections(rejections: Iterable[Rejection]) -> str:
    """The file's text: a comment saying what it does, then the list, newest first."""
    lines = [
        "# Rejected builds: `python -m ci deploy` and `promote` refuse them in every environment,",
        "# and `python -m ci check` refuses a merge request after which an environment runs one",
        "# (a tag whatever its digest, a digest whatever its tag). Written by `reject` and by a",
        "# failed verification; `python -m ci unreject --tag TAG --reason TEXT` removes one.",
        "# Argo CD does not read this file.",
        "rejected:",
    ]
    for found in rejections:
        lines.append(f"  - tag: {quoted(found.tag)}")
        if found.digest:
            lines.append(f"    digest: {quoted(found.digest)}")
        lines += [
            f"    reason: {quoted(_one_line(found.reason))}",
            f"    by: {quoted(_one_line(found.by))}",
            f"    since: {quoted(_one_line(found.since))}",
        ]
    if lines[-1] == "rejected:":
        lines[-1] = "rejected: []"
    return "\n".join(lines) + "\n"
