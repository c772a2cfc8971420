"""``ci.gitops.cron``: the five cron fields, matched on a wall clock."""

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from ci.gitops.cron import Cron

# 2026-12-04 is a Friday, 2026-11-13 too.
MATCHES = [
    ("0 17 * * 5", datetime(2026, 12, 4, 17, 0), True),
    ("0 17 * * 5", datetime(2026, 12, 4, 17, 1), False),
    ("0 17 * * 5", datetime(2026, 12, 5, 17, 0), False),
    ("0 17 * * FRI", datetime(2026, 12, 4, 17, 0), True),
    ("*/15 * * * *", datetime(2026, 12, 4, 9, 45), True),
    ("*/15 * * * *", datetime(2026, 12, 4, 9, 50), False),
    ("5/20 * * * *", datetime(2026, 12, 4, 9, 45), True),
    ("0 9-17/4 * * *", datetime(2026, 12, 4, 13, 0), True),
    ("0 9-17/4 * * *", datetime(2026, 12, 4, 15, 0), False),
    ("0 9 * JAN-MAR MON-FRI", datetime(2026, 2, 2, 9, 0), True),  # a Monday
    ("0 9 * JAN-MAR MON-FRI", datetime(2026, 2, 1, 9, 0), False),  # a Sunday
    ("0 9 * JAN-MAR MON-FRI", datetime(2026, 4, 1, 9, 0), False),
    ("0 0 * * 0", datetime(2026, 12, 6, 0, 0), True),  # Sunday as 0
    ("0 0 * * 7", datetime(2026, 12, 6, 0, 0), True),  # and as 7
    ("0 0 1,15 * *", datetime(2026, 12, 15, 0, 0), True),
    # Both day fields restricted: either one (cron's rule).
    ("0 0 13 * 5", datetime(2026, 11, 13, 0, 0), True),
    ("0 0 13 * 5", datetime(2026, 12, 13, 0, 0), True),  # the 13th, a Sunday
    ("0 0 13 * 5", datetime(2026, 12, 4, 0, 0), True),  # a Friday, the 4th
    ("0 0 13 * 5", datetime(2026, 12, 5, 0, 0), False),
    # One restricted: that one.
    ("0 0 13 * *", datetime(2026, 12, 4, 0, 0), False),
    ("0 0 * * 5", datetime(2026, 12, 13, 0, 0), False),
]


@pytest.mark.parametrize(("expression", "moment", "expected"), MATCHES)
def test_matches(expression: str, moment: datetime, expected: bool) -> None:
    assert Cron.parse(expression).matches(moment) is expected


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("0 17 * *", "is not five fields"),
        ("0 17 * * * *", "is not five fields"),
        ("60 * * * *", "minute '60' is not within 0-59"),
        ("* 24 * * *", "hour '24' is not within 0-23"),
        ("* * 0 * *", "day of month '0' is not within 1-31"),
        ("* * * 13 *", "month '13' is not within 1-12"),
        ("* * * * 8", "day of week '8' is not within 0-7"),
        ("* * * * MON-SUNDAY", "day of week 'SUNDAY' is not a number"),
        ("5-1 * * * *", "minute '5-1' is not within 0-59"),
        ("*/0 * * * *", "minute '*/0': a step must be at least 1"),
        ("*/x * * * *", "minute 'x' is not a number"),
        ("-1 * * * *", "minute '' is not a number"),
        ("1,,2 * * * *", "minute '' is not a number"),
    ],
)
def test_bad_expressions_name_the_field(expression: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        Cron.parse(expression)


def test_last_before_and_first_after_walk_the_wall_clock_of_the_zone() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    half_past_two = Cron.parse("30 2 * * *")
    # 2026-03-29: Berlin skips 02:00-03:00, so that night has no 02:30.
    after = half_past_two.first_after(datetime(2026, 3, 28, 12, 0, tzinfo=UTC), berlin)
    assert after is not None
    assert after.astimezone(berlin).isoformat() == "2026-03-30T02:30:00+02:00"
    # 2026-10-25: Berlin repeats 02:00-03:00, so 02:30 happens twice (CEST, then CET).
    first = half_past_two.first_after(datetime(2026, 10, 24, 12, 0, tzinfo=UTC), berlin)
    assert first == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    second = half_past_two.first_after(first, berlin)
    assert second == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert half_past_two.last_before(second, berlin) == second
    assert half_past_two.last_before(datetime(2026, 10, 25, 1, 0, tzinfo=UTC), berlin) == first
    never = Cron.parse("0 0 30 2 *")
    assert never.first_after(datetime(2026, 1, 1, tzinfo=UTC), berlin) is None
