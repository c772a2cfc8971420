"""Freeze windows: when ``deploy`` and ``promote`` refuse an environment (pure; the clock is an
argument).

In ``gitops/promotion.yaml``::

    freeze:
      - {environments: [prod], cron: "0 17 * * 5", duration: 63h, timezone: Europe/Berlin,
         reason: weekend}

A window opens at each minute its cron expression names on the wall clock of its time zone
(``ci.gitops.cron``) and stays open for ``duration`` of elapsed time (``90m``, ``63h``, ``2d``,
``1h30m``): across a daylight-saving change it ends an hour earlier or later on the wall clock.
A start in a skipped hour never happens; one in a repeated hour happens twice.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ci.errors import UsageError
from ci.gitops.cron import Cron
from ci.gitops.tags import validate_env_name

KEYS = ("environments", "cron", "duration", "timezone", "reason")
# The longest window: its start is searched for minute by minute, this far back.
MAX_DURATION = timedelta(days=31)
DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


@dataclass(frozen=True)
class FreezeWindow:
    environments: tuple[str, ...]
    cron: Cron
    duration: timedelta
    timezone: ZoneInfo
    reason: str


@dataclass(frozen=True)
class Frozen:
    """An environment in a window: until when, and why."""

    env: str
    until: datetime  # in the window's time zone
    reason: str

    def message(self) -> str:
        when = self.until.strftime("%Y-%m-%d %H:%M")
        return f"{self.env} is frozen until {when} {self.until.tzinfo}: {self.reason}"


def parse_duration(text: str, shortest: timedelta = timedelta(minutes=1)) -> timedelta:
    """``90m``, ``63h``, ``2d``, ``1h30m``, ``45s``: ValueError otherwise, or when shorter than
    ``shortest`` or longer than MAX_DURATION."""
    match = DURATION.fullmatch(text.strip()) if isinstance(text, str) else None
    if not match or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration like 30m, 63h, 2d or 1h30m")
    days, hours, minutes, secs = (int(group or 0) for group in match.groups())
    duration = timedelta(days=days, hours=hours, minutes=minutes, seconds=secs)
    if not shortest <= duration <= MAX_DURATION:
        raise ValueError(f"{text!r} is not between {_short(shortest)} and {MAX_DURATION.days}d")
    return duration


def _short(duration: timedelta) -> str:
    seconds = int(duration.total_seconds())
    return f"{seconds // 60}m" if seconds % 60 == 0 else f"{seconds}s"


def parse_windows(data: object, path: str) -> tuple[FreezeWindow, ...]:
    """The ``freeze:`` list of ``path``; UsageError (exit 2) naming the key at fault."""
    if data is None:
        return ()
    if not isinstance(data, list):
        raise UsageError(f"{path}: freeze must be a list of windows")
    return tuple(_window(item, f"{path}: freeze[{index}]") for index, item in enumerate(data))


def _window(item: object, where: str) -> FreezeWindow:
    if not isinstance(item, dict):
        raise UsageError(f"{where} must be a mapping with {', '.join(KEYS)}")
    unknown = sorted(str(key) for key in item if key not in KEYS)
    if unknown:
        raise UsageError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(KEYS)})")
    missing = [key for key in KEYS if item.get(key) in (None, "", [])]
    if missing:
        raise UsageError(f"{where}.{missing[0]} is missing")
    envs = item["environments"]
    if not isinstance(envs, list) or not all(isinstance(env, str) for env in envs):
        raise UsageError(f"{where}.environments must be a list of environment names")
    for env in envs:
        validate_env_name(env)
    return FreezeWindow(
        environments=tuple(envs),
        cron=_parsed(Cron.parse, item["cron"], f"{where}.cron"),
        duration=_parsed(parse_duration, item["duration"], f"{where}.duration"),
        timezone=_parsed(_zone, item["timezone"], f"{where}.timezone"),
        reason=" ".join(str(item["reason"]).split()),
    )


def _parsed(parse, value: object, where: str):
    if not isinstance(value, str):
        raise UsageError(f"{where} must be a string, got {value!r}")
    try:
        return parse(value)
    except ValueError as error:
        raise UsageError(f"{where}: {error}") from None


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not a time zone (e.g. Europe/Berlin, UTC)") from None


def frozen(windows: tuple[FreezeWindow, ...], env: str, now: datetime) -> Frozen | None:
    """The window ``env`` is in at ``now`` (an aware datetime), the one that ends last; None
    when it is in none."""
    found = [
        Frozen(env, end.astimezone(window.timezone), window.reason)
        for window in windows
        if env in window.environments
        and (end := window_end(window, now.astimezone(UTC))) is not None
    ]
    return max(found, key=lambda item: item.until, default=None)


def window_end(window: FreezeWindow, now: datetime) -> datetime | None:
    """When the window open at ``now`` (UTC) closes: from its latest start within ``duration``
    before ``now``; None when it is not open."""
    minute = now.replace(second=0, microsecond=0)
    earliest = now - window.duration
    while minute > earliest:
        if window.cron.matches(minute.astimezone(window.timezone)):
            return minute + window.duration
        minute -= timedelta(minutes=1)
    return None
