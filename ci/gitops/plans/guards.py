"""What ``deploy`` and ``promote`` check before they change what an environment runs: a rejected
build (refused, whatever the flags), a freeze window and, for ``promote``, the evidence the
source environment's policy asks for (refused unless ``--override``, which leaves the reason in a
trailer). ``rollback``, ``hold``, ``unhold``, ``record``, ``reject`` and ``unreject`` ask none."""

from dataclasses import dataclass
from datetime import datetime

from ci.errors import CiError
from ci.gitops.evidence import shortfall
from ci.gitops.freeze import Frozen, frozen
from ci.gitops.message import EVIDENCE_OVERRIDE, FREEZE_OVERRIDE
from ci.gitops.plans.action import Override
from ci.gitops.plans.model import Request, State
from ci.gitops.rejections import REJECTED_FILE, Rejection, parse_rejections, refusal, rejecting
from ci.gitops.tags import values_path
from ci.gitops.values import ValuesError
from ci.gitops.verdicts import Verdict, parse_time, parse_verdicts, verdicts_path


class RefusedError(CiError):
    """A rejected build, a freeze window, missing evidence: nothing pushed (exit 1)."""


@dataclass(frozen=True)
class Allowed:
    """What overrides let through: lines for the commit's body, and its trailers."""

    notes: tuple[str, ...] = ()
    trailers: tuple[tuple[str, str], ...] = ()

    def __add__(self, other: "Allowed") -> "Allowed":
        return Allowed(self.notes + other.notes, self.trailers + other.trailers)


def rejections(state: State) -> tuple[Rejection, ...]:
    """The branch's rejected builds (ValuesError, exit 2, when the file is malformed)."""
    return parse_rejections(state.repo.read_file(state.tip, REJECTED_FILE))


def refuse_rejected(state: State, tag: str, digest: str | None) -> None:
    found = rejecting(rejections(state), tag, digest)
    if found is not None:
        raise RefusedError(refusal(found, tag))


def frozen_at(state: State, env: str) -> Frozen | None:
    """The freeze ``env`` is in now (the policy's windows and ``state.freezes``), the one that
    ends last."""
    found = [frozen(state.policy.freeze, env, state.time)]
    if state.freezes is not None:
        found.append(state.freezes(env, state.time))
    return max((item for item in found if item), key=lambda item: item.until, default=None)


def freeze(state: State, request: Request) -> Allowed:
    found = frozen_at(state, request.env)
    if found is None:
        return Allowed()
    if Override.FREEZE not in request.overrides:
        raise RefusedError(f"{found.message()}; nothing pushed")
    note = f"In a freeze window, with --override freeze: {found.message()}."
    return Allowed((note,), ((FREEZE_OVERRIDE, request.reason or ""),))


def evidence(state: State, request: Request, tag: str, digest: str | None) -> Allowed:
    """Whether the build ``tag``/``digest`` may leave ``request.source_env``."""
    source = request.source_env or ""
    policy = state.policy
    if source not in policy.verify and source not in policy.soak:
        return Allowed()
    overridden = Override.EVIDENCE in request.overrides
    try:
        verdicts = source_verdicts(state, source)
    except ValuesError:
        if not overridden:
            raise
        verdicts = ()  # the override goes past an unreadable record too
    set_at = set_since(state, source, tag, digest)
    problem = shortfall(policy, source, tag, digest, verdicts, set_at, state.time)
    if problem is None:
        return Allowed()
    if not overridden:
        raise RefusedError(f"{problem}; nothing pushed")
    note = f"Without the evidence {source}'s policy asks for, with --override evidence: {problem}."
    return Allowed((note,), ((EVIDENCE_OVERRIDE, request.reason or ""),))


def source_verdicts(state: State, env: str) -> tuple[Verdict, ...]:
    path = verdicts_path(env)
    text = state.repo.read_file(state.tip, path)
    return () if text is None else parse_verdicts(text, path)


def set_since(state: State, env: str, tag: str, digest: str | None) -> datetime | None:
    """When the commit that set the build ``tag``/``digest`` in ``env`` landed (the oldest of
    the newest run of commits leaving it there), or None when history does not say."""
    found = None
    for change in state.repo.history(state.tip, values_path(env)):
        if change.tag != tag or change.digest != digest:
            break
        found = change.entry.date
    return parse_time(found) if found else None
