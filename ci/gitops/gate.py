"""The merge-request gate's rule, as a pure function over what Argo CD runs before and after.

An MR passes when, for every environment, what it will run after the merge is a build that ran
at a tip of the target branch in the environment before it in the promotion order (or in the
environment itself: a rollback), no held environment changes what it runs, and anything else
that loosens the rules (releasing a hold, changing ``gitops/promotion.yaml``, moving where Argo
CD reads from or deploys to, removing an environment) carries a ``Promotion-Override: <reason>``
trailer in the MR's own commits. ``review`` reads git and renders; this decides.

Two kinds of results: a *violation* fails whatever the trailers say (a render that fails, a held
environment whose hold stays, a pipeline-owned file with people's keys, an environment that runs
a rejected build after the merge); a *finding* fails unless the MR carries an override, and is
then reported as allowed. A build promoted without the evidence its source's policy asks for
(``ci.gitops.evidence``) is a finding that an ``Evidence-Override`` trailer allows too.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ci.gitops.holds import release_hint
from ci.gitops.message import EVIDENCE_OVERRIDE
from ci.gitops.promotion import OVERRIDE_TRAILER, PROMOTION_FILE, PromotionOrder
from ci.gitops.rejections import Rejection, reference_parts, rejecting, unreject_hint
from ci.gitops.runs import Runs

OVERRIDE_HINT = f"add a '{OVERRIDE_TRAILER}: <reason>' commit trailer to allow it"
EVIDENCE_HINT = (
    f"add an '{EVIDENCE_OVERRIDE}: <reason>' (or a '{OVERRIDE_TRAILER}: <reason>') commit"
    " trailer to allow it"
)


@dataclass(frozen=True)
class Violation:
    where: str  # a file or an environment
    message: str

    def line(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True)
class Change:
    """What the gate judges, read at the target branch's tip (``before``, ``order``, ``holds``)
    and on the merged tree (``after``, ``holds_kept``)."""

    before: Runs
    after: Runs
    order: PromotionOrder
    target: str  # the target branch's tip, for messages
    holds: Mapping[str, str] = field(default_factory=dict)  # env -> who, when, why
    holds_kept: frozenset[str] = frozenset()  # held envs whose hold file the merge keeps
    promotion_changed: bool = False
    overrides: Sequence[tuple[str, str]] = ()  # (commit, reason) in the MR's own commits
    rejections: tuple[Rejection, ...] = ()  # the target branch's rejected builds
    loosened: tuple[Violation, ...] = ()  # the MR's own record changes that loosen the rules
    evidence_overrides: Sequence[tuple[str, str]] = ()  # (commit, reason): Evidence-Override


# ran(env, image) -> whether ``env`` ran ``image`` at a tip of the target branch.
Ran = Callable[[str, str], bool]
# evidence(source, image) -> why ``image`` may not leave ``source`` yet, or None.
Evidence = Callable[[str, str], str | None]


def _no_rules(source: str, image: str) -> None:
    return None


def judge(
    change: Change, ran: Ran, evidence: Evidence = _no_rules
) -> tuple[list[Violation], list[str]]:
    """(violations, notices): the MR fails when there is any violation."""
    violations = _render_violations(change.after) + _rejected(change)
    findings: list[Violation] = []
    unproven: list[Violation] = []
    for env in sorted(set(change.before.envs) | set(change.after.envs)):
        held, found, missing = _env_findings(change, env, ran, evidence)
        violations += held
        findings += found
        unproven += missing
    findings += _policy_findings(change) + list(change.loosened)
    promotion = [(OVERRIDE_TRAILER, *found) for found in change.overrides]
    evidence_ok = promotion + [(EVIDENCE_OVERRIDE, *found) for found in change.evidence_overrides]
    refused, notices = _allow(findings, promotion, OVERRIDE_HINT)
    unproven_refused, unproven_notices = _allow(unproven, evidence_ok, EVIDENCE_HINT)
    return violations + refused + unproven_refused, notices + unproven_notices


def _allow(
    findings: list[Violation], overrides: list[tuple[str, str, str]], hint: str
) -> tuple[list[Violation], list[str]]:
    """(refused, notices): every finding is allowed by the first override (trailer, commit,
    reason) there is, else refused with the hint."""
    if not overrides:
        return [Violation(f.where, f"{f.message}; {hint}") for f in findings], []
    trailer, commit, reason = overrides[0]
    return [], [
        f"{f.where}: {trailer} ({commit[:12]}) allows: {f.message}; reason: {reason}"
        for f in findings
    ]


def _rejected(change: Change) -> list[Violation]:
    """Every environment that runs a rejected build after the merge (whatever runs it: a values
    file, the chart's default, an Application's parameters): a violation, whatever the
    trailers."""
    found = []
    for env, run in sorted(change.after.envs.items()):
        for image in sorted(run.images or ()):
            rejection = rejecting(change.rejections, *reference_parts(image))
            if rejection is not None:
                fix = f"roll {env} back, or {unreject_hint(rejection.tag)}"
                found.append(Violation(env, f"runs {image}: {rejection.describe()}; {fix}"))
    return found


def _render_violations(after: Runs) -> list[Violation]:
    if after.error is not None:
        return [
            Violation("gitops/argocd", f"Argo CD cannot generate the Applications: {after.error}")
        ]
    return [
        Violation(env, f"does not render as Argo CD renders it: {run.error}")
        for env, run in sorted(after.envs.items())
        if run.error is not None
    ]


def _env_findings(
    change: Change, env: str, ran: Ran, evidence: Evidence
) -> tuple[list[Violation], list[Violation], list[Violation]]:
    """(violations, findings, evidence findings) of one environment."""
    before, after = change.before.envs.get(env), change.after.envs.get(env)
    findings: list[Violation] = []
    if after is None and change.after.error is None:
        findings.append(Violation(env, "no Application deploys it after this merge request"))
    if before and after and before.location != after.location:
        findings.append(
            Violation(env, f"Argo CD would read {after.location} instead of {before.location}")
        )
    old, new = change.before.images(env), change.after.images(env)
    changed = old != new or bool(findings)
    unproven = []
    source = change.order.source_of(env)
    for image in sorted(new - old):
        if not source or ran(env, image):
            continue  # the first environment takes new builds; a rollback needs no evidence
        if not ran(source, image):
            findings.append(Violation(env, _never_ran(change, source, image)))
        elif (missing := evidence(source, image)) is not None:
            unproven.append(Violation(env, f"image {image}: {missing}"))
    if env in change.holds and env in change.holds_kept and changed:
        hold = change.holds[env]
        return [Violation(env, f"{hold}; {release_hint(env)} first")], findings, unproven
    return [], findings, unproven


def _never_ran(change: Change, source: str, image: str) -> str:
    return (
        f"image {image} never ran in {source} (at a tip of the target branch up to "
        f"{change.target[:12]}); promote what {source} runs"
    )


def _policy_findings(change: Change) -> list[Violation]:
    findings = [
        Violation(env, f"this merge request releases the hold ({hold})")
        for env, hold in sorted(change.holds.items())
        if env not in change.holds_kept
    ]
    if change.promotion_changed:
        findings.append(
            Violation(PROMOTION_FILE, "this merge request changes the promotion policy")
        )
    return findings
