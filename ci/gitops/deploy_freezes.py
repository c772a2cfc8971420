"""GitLab's deploy freezes (Settings > CI/CD > Deploy freezes), judged when a command runs.

GitLab sets ``$CI_DEPLOY_FREEZE`` when a pipeline is created, so a manual job started later
runs whatever the calendar says (gitlab #336354). ``deploy`` and ``promote`` read the project's
freeze periods through the API instead (``GET /projects/:id/freeze_periods``: ``freeze_start``
and ``freeze_end`` are cron expressions in ``cron_timezone``) and refuse while one is open. As in
GitLab, a period is open when its start happened more recently than its end; it closes at its next
end. A project's periods name no environment: they freeze every environment.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ci.errors import CiError
from ci.gitops.cron import Cron
from ci.gitops.freeze import Frozen
from ci.gitops.gitlab_api import GitLabProject, GitLabSettings

REASON = "GitLab deploy freeze"


@dataclass(frozen=True)
class FreezePeriod:
    start: Cron
    end: Cron
    timezone: ZoneInfo
    text: str  # "0 23 * * 5 to 0 8 * * 1 UTC", for messages


def parse_periods(items: object) -> tuple[FreezePeriod, ...]:
    """The API's list; CiError (exit 1: the freezes cannot be judged) when it is malformed."""
    if not isinstance(items, list):
        raise CiError("GitLab API: the freeze periods are not a list")
    return tuple(_period(item) for item in items)


def _period(item: object) -> FreezePeriod:
    if not isinstance(item, dict):
        raise CiError(f"GitLab API: a freeze period is not an object: {str(item)[:80]!r}")
    start, end = item.get("freeze_start"), item.get("freeze_end")
    zone_name = item.get("cron_timezone") or "UTC"
    what = f"freeze period {item.get('id', '?')}"
    try:
        if not isinstance(start, str) or not isinstance(end, str):
            raise ValueError("freeze_start and freeze_end must be cron expressions")
        if not isinstance(zone_name, str):
            raise ValueError(f"cron_timezone {zone_name!r} is not a time zone")
        zone = _zone(zone_name)
        return FreezePeriod(Cron.parse(start), Cron.parse(end), zone, f"{start} to {end} {zone}")
    except ValueError as error:
        raise CiError(f"GitLab API: {what}: {error}") from None


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"cron_timezone {name!r} is not a time zone") from None


def open_until(period: FreezePeriod, now: datetime) -> datetime | None:
    """When the period open at the aware ``now`` closes (in its time zone); None when closed."""
    started = period.start.last_before(now, period.timezone)
    if started is None:
        return None
    ended = period.end.last_before(now, period.timezone)
    if ended is not None and ended >= started:
        return None
    closes = period.end.first_after(now, period.timezone)
    if closes is None:  # an end that never comes within a year: frozen a year at least
        raise CiError(f"GitLab deploy freeze {period.text} does not end within a year")
    return closes.astimezone(period.timezone)


def frozen(periods: tuple[FreezePeriod, ...], env: str, now: datetime) -> Frozen | None:
    """The open period that closes last, as the environment's freeze; None when none is open."""
    ends = [until for period in periods if (until := open_until(period, now)) is not None]
    return Frozen(env, max(ends), REASON) if ends else None


def judge(periods: tuple[FreezePeriod, ...]) -> Callable[[str, datetime], Frozen | None]:
    """``(env, now) -> Frozen | None`` over ``periods``: the planners' hook for extra freezes."""
    return lambda env, now: frozen(periods, env, now)


def from_gitlab(environ: Mapping[str, str]) -> Callable[[str, datetime], Frozen | None] | None:
    """The project's deploy freezes, read now, when the API is configured (``GITOPS_TOKEN``, a
    token that can read the project, and ``CI_SERVER_URL``/``GITLAB_URL`` with
    ``CI_PROJECT_ID``/``CI_PROJECT_PATH``); None outside GitLab. A failed read is a CiError:
    a freeze that cannot be read is not taken for no freeze."""
    url = environ.get("CI_SERVER_URL") or environ.get("GITLAB_URL")
    project = environ.get("CI_PROJECT_ID") or environ.get("CI_PROJECT_PATH")
    if not (url and project and environ.get("GITOPS_TOKEN")):
        return None
    api = GitLabProject(GitLabSettings.from_environ(environ, "reading the deploy freezes"))
    return judge(parse_periods(api.freeze_periods()))
