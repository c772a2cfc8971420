"""The merge-request gate's rule, as a pure function over what Argo CD runs before and after.

An MR passes when, for every environment, what it will run after the merge is a build that ran
at a tip of the target branch in the environment before it in the promotion order (or in the
environment itself: a rollback), no held environment changes what it runs, and anything else
that loosens the rules (releasing a hold, changing ``gitops/promotion.yaml``, moving where Argo
CD reads from or deploys to, removing an environment) carries a ``Promotion-Override: <reason>``
trailer in the MR's own commits. ``review`` reads git and renders; this decides.

Two kinds of results: a *violation* fails whatever the trailers say (a render that fails, a held
environment whose hold stays, a pipeline-owned file with people's keys); a *finding* fails unless
the MR carries an override, and is then reported as allowed.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ci.gitops.holds import release_hint
from ci.gitops.promotion import OVERRIDE_TRAILER, PROMOTION_FILE, PromotionOrder
from ci.gitops.runs import Runs

OVERRIDE_HINT = f"add a '{OVERRIDE_TRAILER}: <reason>' commit trailer to allow it"


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


# ran(env, image) -> whether ``env`` ran ``image`` at a tip of the target branch.
Ran = Callable[[str, str], bool]


def judge(change: Change, ran: Ran) -> tuple[list[Violation], list[str]]:
    """(violations, notices): the MR fails when there is any violation."""
    violations = _render_violations(change.after)
    findings: list[Violation] = []
    for env in sorted(set(change.before.envs) | set(change.after.envs)):
        held, found = _env_findings(change, env, ran)
        violations += held
        findings += found
    findings += _policy_findings(change)
    if not findings:
        return violations, []
    if not change.overrides:
        return violations + [_needs_override(f) for f in findings], []
    commit, reason = change.overrides[0]
    notices = [
        f"{f.where}: {OVERRIDE_TRAILER} ({commit[:12]}) allows: {f.message}; reason: {reason}"
        for f in findings
    ]
    return violations, notices


def _needs_override(finding: Violation) -> Violation:
    return Violation(finding.where, f"{finding.message}; {OVERRIDE_HINT}")


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


def _env_findings(change: Change, env: str, ran: Ran) -> tuple[list[Violation], list[Violation]]:
    """(violations, findings) of one environment."""
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
    source = change.order.source_of(env)
    for image in sorted(new - old):
        if source and not ran(source, image) and not ran(env, image):
            findings.append(
                Violation(
                    env,
                    f"image {image} never ran in {source} (at a tip of the target branch up to "
                    f"{change.target[:12]}); promote what {source} runs",
                )
            )
    if env in change.holds and env in change.holds_kept and changed:
        hold = change.holds[env]
        return [Violation(env, f"{hold}; {release_hint(env)} first")], findings
    return [], findings


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
