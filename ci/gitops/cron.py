"""Cron expressions, the five standard fields: when a freeze window starts (pure).

    minute hour day-of-month month day-of-week

Each field is ``*``, a number, a range ``a-b``, a step ``*/n`` or ``a-b/n``, or a comma list of
those; months and weekdays also by name (``JAN``, ``MON``; Sunday is 0 or 7). As in cron, when
both day fields are restricted a time matches if either does.
"""

from dataclasses import dataclass
from datetime import datetime

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
        if moment.month not in self.months:
            return False
        day = moment.day in self.days
        weekday = (moment.weekday() + 1) % 7 in self.weekdays
        if self.any_day or self.any_weekday:
            return day and weekday
        return day or weekday


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
