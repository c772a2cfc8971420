"""The promotion rule on evidence (pure; the clock is an argument): a build leaves an
environment only after it passed verification there, when the policy (``gitops/promotion.yaml``)
has a ``verify`` rule for it, and has run there for its ``soak`` time: counted from the passed
verdict's ``started``, or, without a verify rule, from the commit that set the build there.
``promote`` refuses on it and ``check`` finds it; both ask ``shortfall``::

    line = shortfall(policy, "dev", tag, digest, verdicts, set_at, now)
    # "dev has run abc1234 verified for 12m of its 30m soak: 18m left"
"""

import math
from datetime import datetime, timedelta

from ci.gitops.promotion import Policy
from ci.gitops.verdicts import Outcome, Verdict, describe, latest, parse_time


def shortfall(
    policy: Policy,
    env: str,
    tag: str,
    digest: str | None,
    verdicts: tuple[Verdict, ...],
    set_at: datetime | None,
    now: datetime,
) -> str | None:
    """Why the build ``tag``/``digest`` may not leave ``env`` yet (one line), or None."""
    soak = policy.soak.get(env)
    since, verified = set_at, ""
    if env in policy.verify:
        verdict = latest(verdicts, tag, digest)
        if verdict is None:
            return f"{env} has no verdict on {tag}: its policy asks for a passed verification"
        if verdict.outcome != Outcome.PASSED:
            return f"{env} has no passed verification of {tag}: {describe(verdict)}"
        since, verified = parse_time(verdict.started), " verified"
    if soak is None:
        return None
    if since is None:
        return (
            f"{env} cannot tell since when it runs {tag}: its policy asks for a {span(soak)} soak"
        )
    ran = max(now - since, timedelta(0))
    if ran >= soak:
        return None
    left = span(soak - ran, up=True)
    return f"{env} has run {tag}{verified} for {span(ran)} of its {span(soak)} soak: {left} left"


def span(duration: timedelta, up: bool = False) -> str:
    """``45s``, ``12m``, ``1h5m``, ``2d15h``: whole minutes from a minute on, rounded down (up
    with ``up``: the time left is never said shorter than it is)."""
    seconds = duration.total_seconds()
    rounding = math.ceil if up else math.floor
    if seconds < 60:
        return f"{rounding(seconds)}s"
    minutes = rounding(seconds / 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    return "".join(f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if n)
