"""The record files as ``python -m ci check`` reads them: the rejected builds and the verdicts
of the target branch (what is in force), and what a merge request does to them. Rejections and
evidence are read from the target branch, never from the MR, so an MR that deletes
``gitops/rejected.yaml`` or a verdicts file gets around nothing; what it does to them is judged
on its own: a file it leaves unreadable is a violation, a rejection it releases or a passed
verdict it writes by hand is a finding (``unreject`` and ``record`` write the override)."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ci.gitops.checkout import Checkout
from ci.gitops.evidence import shortfall
from ci.gitops.gate import Violation
from ci.gitops.promotion import Policy
from ci.gitops.rejections import REJECTED_FILE, Rejection, parse_rejections, reference_parts
from ci.gitops.values import ValuesError
from ci.gitops.verdicts import VERDICTS_FILE, Outcome, Verdict, parse_verdicts, verdicts_path


@dataclass(frozen=True)
class Records:
    """The target's rejections, and the violations and findings of the MR's record files."""

    rejections: tuple[Rejection, ...]
    violations: tuple[Violation, ...]
    loosened: tuple[Violation, ...]


def read_records(checkout: Checkout, target: str, merged: str) -> Records:
    rejections, violations, loosened = _rejections(checkout, target, merged)
    for path in sorted(checkout.changed_paths(target, merged)):
        parts = path.split("/")
        if len(parts) == 3 and parts[0] == "gitops" and parts[2] == VERDICTS_FILE:
            problem, found = _verdict_changes(checkout, target, merged, path)
            violations += problem
            loosened += found
    return Records(rejections, tuple(violations), tuple(loosened))


def _rejections(
    checkout: Checkout, target: str, merged: str
) -> tuple[tuple[Rejection, ...], list[Violation], list[Violation]]:
    """(the rejections in force, violations, findings). Unreadable after the merge: a violation.
    Unreadable on the target only: the MR's file is in force, and replacing it is a finding (what
    it rejected cannot be told); else each rejection the MR drops is one."""
    before, problem = _read_rejections(checkout, target)
    after, after_problem = _read_rejections(checkout, merged)
    if after_problem:
        return (
            before,
            [Violation(REJECTED_FILE, f"unreadable after this merge request: {after_problem}")],
            [],
        )
    if problem:
        found = f"this merge request replaces it, unreadable on the target branch: {problem}"
        return after, [], [Violation(REJECTED_FILE, found)]
    return (
        before,
        [],
        [
            Violation(REJECTED_FILE, f"this merge request releases a rejection: {found.describe()}")
            for found in before
            if found not in after
        ],
    )


def _read_rejections(checkout: Checkout, commit: str) -> tuple[tuple[Rejection, ...], str]:
    try:
        return parse_rejections(_text(checkout.read(commit, REJECTED_FILE), REJECTED_FILE)), ""
    except ValuesError as error:
        return (), str(error)


def _verdict_changes(
    checkout: Checkout, target: str, merged: str, path: str
) -> tuple[list[Violation], list[Violation]]:
    """(violations, findings): a verdicts file the merge leaves unreadable; each passed verdict
    it adds or changes (evidence for a promotion, written by a person)."""
    try:
        after = parse_verdicts(_text(checkout.read(merged, path), path) or "", path)
    except ValuesError as error:
        return [Violation(path, f"unreadable after this merge request: {error}")], []
    try:
        before = set(parse_verdicts(_text(checkout.read(target, path), path) or "", path))
    except ValuesError:
        before = set()
    added = [v for v in after if v.outcome == Outcome.PASSED and v not in before]
    return [], [
        Violation(path, f"this merge request records a passed verification of {v.tag}")
        for v in added
    ]


def _text(data: bytes | None, path: str) -> str | None:
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValuesError(f"{path} is not UTF-8 (byte {error.start})") from None


def evidence(
    checkout: Checkout,
    target: str,
    policy: Policy,
    set_at: Callable[[str, str], datetime | None],
    now: datetime,
) -> Callable[[str, str], str | None]:
    """``evidence(source, image)`` for ``gate.judge``: the policy's shortfall, from the target
    branch's verdicts of ``source``."""
    cache: dict[str, tuple[Verdict, ...] | str] = {}

    def missing(source: str, image: str) -> str | None:
        if source not in policy.verify and source not in policy.soak:
            return None
        if source not in cache:
            cache[source] = _verdicts(checkout, target, source)
        verdicts = cache[source]
        if isinstance(verdicts, str):
            return verdicts
        tag, digest = reference_parts(image)
        when = set_at(source, image) if source not in policy.verify else None
        return shortfall(policy, source, tag or image, digest, verdicts, when, now)

    return missing


def _verdicts(checkout: Checkout, target: str, env: str) -> tuple[Verdict, ...] | str:
    """The target's verdicts of ``env``, or why they cannot be read."""
    path = verdicts_path(env)
    try:
        return parse_verdicts(_text(checkout.read(target, path), path) or "", path)
    except ValuesError as error:
        return f"{env}'s verdicts cannot be read on the target branch: {error}"
