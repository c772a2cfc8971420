"""Cron expressions, the five standard fields: when a freeze window starts (pure).

    minute hour day-of-month month day-of-week

Each field is ``*``, a number, a range ``a-b``, a step ``*/n`` or ``a-b/n``, or a comma list of
those; months and weekdays also by name (``JAN``, ``MON``; Sunday is 0 or 7). As in cron, when
both day fields are restricted a time matches if either does.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# Field name, lowest and highest value, names for the values from the lowest one on.
FIELDS = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, MONTHS),
    ("day of week", 0, 7, WEEKDAYS),
)


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool  # day of month is `*`
    any_weekday: bool  # day of week is `*`

    @classmethod
    def parse(cls, text: str) -> "Cron":
        """ValueError, naming the field, for anything but five valid fields."""
        parts = text.split()
        if len(parts) != len(FIELDS):
            raise ValueError(f"{text!r} is not five fields (minute hour day month weekday)")
        minutes, hours, days, months, weekdays = (
            parse_field(part, *field) for part, field in zip(parts, FIELDS, strict=True)
        )
        return cls(
            minutes,
            hours,
            days,
            months,
            frozenset(day % 7 for day in weekdays),
            any_day=parts[2] == "*",
            any_weekday=parts[4] == "*",
        )

    def matches(self, moment: datetime) -> bool:
        """Whether the wall-clock minute of ``moment`` is one the expression names."""
        if moment.minute not in self.minutes or moment.hour not in self.hours:
            return False
        return self.matches_day(moment.date())

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        in_month = day.day in self.days
        weekday = (day.weekday() + 1) % 7 in self.weekdays
        if self.any_day or self.any_weekday:
            return in_month and weekday
        return in_month or weekday

    def last_before(self, moment: datetime, zone: ZoneInfo, days: int = 366) -> datetime | None:
        """The latest time the expression names on ``zone``'s wall clock at or before the aware
        ``moment``, searched ``days`` back (UTC; None when there is none)."""
        local = moment.astimezone(zone)
        return next((t for t in self._times(local.date(), -1, zone, days) if t <= moment), None)

    def first_after(self, moment: datetime, zone: ZoneInfo, days: int = 366) -> datetime | None:
        """The first time the expression names after the aware ``moment`` (UTC), or None."""
        local = moment.astimezone(zone)
        return next((t for t in self._times(local.date(), 1, zone, days) if t > moment), None)

    def _times(self, start: date, step: int, zone: ZoneInfo, days: int) -> Iterator[datetime]:
        """The named times of each day from ``start``, day by day in the ``step`` direction,
        as UTC instants; a wall-clock time a daylight-saving change skips does not exist, one
        it repeats happens twice."""
        for offset in range(days + 1):
            day = start + timedelta(days=offset * step)
            if not self.matches_day(day):
                continue
            found = sorted(
                instant
                for hour in self.hours
                for minute in self.minutes
                for instant in _instants(day, hour, minute, zone)
            )
            yield from found if step > 0 else reversed(found)


def _instants(day: date, hour: int, minute: int, zone: ZoneInfo) -> list[datetime]:
    """The UTC instants whose wall clock in ``zone`` reads ``day hour:minute`` (0, 1 or 2)."""
    found = []
    for fold in (0, 1):
        wall = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone, fold=fold)
        instant = wall.astimezone(UTC)
        back = instant.astimezone(zone)
        if (back.hour, back.minute, back.date()) == (hour, minute, day) and instant not in found:
            found.append(instant)
    return found


def parse_field(text: str, name: str, low: int, high: int, names: tuple[str, ...]) -> frozenset:
    values: set[int] = set()
    for item in text.split(","):
        span, _, step_text = item.partition("/")
        step = _number(step_text, name, names=(), low=1) if step_text else 1
        if step < 1:
            raise ValueError(f"{name} {item!r}: a step must be at least 1")
        if span == "*":
            first, last = low, high
        else:
            first_text, dash, last_text = span.partition("-")
            first = _number(first_text, name, names, low)
            last = _number(last_text, name, names, low) if dash else first
            if step_text and not dash:
                last = high
        if not low <= first <= last <= high:
            raise ValueError(f"{name} {item!r} is not within {low}-{high}")
        values.update(range(first, last + 1, step))
    return frozenset(values)


def _number(text: str, name: str, names: tuple[str, ...], low: int) -> int:
    if text.upper() in names:
        return names.index(text.upper()) + low
    if not text.isdecimal():
        raise ValueError(f"{name} {text!r} is not a number")
    return int(text)
