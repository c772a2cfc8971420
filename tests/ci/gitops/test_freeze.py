"""``ci.gitops.freeze``: freeze windows read from gitops/promotion.yaml and judged on a given
clock, across time zones and daylight-saving changes."""

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ci.errors import UsageError
from ci.gitops.freeze import frozen, parse_duration, parse_windows

PATH = "gitops/promotion.yaml"
BERLIN = ZoneInfo("Europe/Berlin")
WEEKEND = {
    "environments": ["prod"],
    "cron": "0 17 * * 5",
    "duration": "63h",
    "timezone": "Europe/Berlin",
    "reason": "weekend",
}


def at(text: str, zone: ZoneInfo = BERLIN) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone)


def message(windows: list[dict], env: str, now: datetime) -> str | None:
    found = frozen(parse_windows(windows, PATH), env, now)
    return found.message() if found else None


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2026-12-04 16:59", None),  # Friday, a minute before
        ("2026-12-04 17:00", "prod is frozen until 2026-12-07 08:00 Europe/Berlin: weekend"),
        ("2026-12-06 12:00", "prod is frozen until 2026-12-07 08:00 Europe/Berlin: weekend"),
        ("2026-12-07 07:59", "prod is frozen until 2026-12-07 08:00 Europe/Berlin: weekend"),
        ("2026-12-07 08:00", None),  # Monday, open again
        ("2026-12-09 12:00", None),
    ],
)
def test_the_weekend_window(now: str, expected: str | None) -> None:
    assert message([WEEKEND], "prod", at(now)) == expected


def test_the_clock_may_be_in_any_zone() -> None:
    friday_evening_utc = datetime(2026, 12, 4, 16, 30, tzinfo=UTC)  # 17:30 in Berlin
    assert message([WEEKEND], "prod", friday_evening_utc) is not None
    friday_afternoon_new_york = at("2026-12-04 10:59", ZoneInfo("America/New_York"))  # 16:59
    assert message([WEEKEND], "prod", friday_afternoon_new_york) is None


def test_other_environments_are_not_frozen() -> None:
    assert message([WEEKEND], "dev", at("2026-12-05 12:00")) is None


def test_of_two_open_windows_the_one_that_ends_last_is_named() -> None:
    release = {**WEEKEND, "cron": "0 0 5 12 *", "duration": "7d", "reason": "year-end"}
    assert message([WEEKEND, release], "prod", at("2026-12-06 12:00")) == (
        "prod is frozen until 2026-12-12 00:00 Europe/Berlin: year-end"
    )


def test_a_window_lasts_elapsed_time_across_the_spring_change() -> None:
    # 2026-03-29: Berlin skips 02:00-03:00. Three hours from 01:00 CET end at 05:00 CEST.
    night = {**WEEKEND, "cron": "0 1 29 3 *", "duration": "3h"}
    assert message([night], "prod", at("2026-03-29 04:59")) == (
        "prod is frozen until 2026-03-29 05:00 Europe/Berlin: weekend"
    )
    assert message([night], "prod", at("2026-03-29 05:00")) is None


def test_a_start_in_the_skipped_hour_never_happens() -> None:
    skipped = {**WEEKEND, "cron": "30 2 29 3 *", "duration": "1h"}
    for minute in range(0, 24 * 60, 15):
        now = datetime(2026, 3, 29, tzinfo=UTC) + timedelta(minutes=minute)
        assert message([skipped], "prod", now) is None


def test_a_start_in_the_repeated_hour_happens_twice() -> None:
    # 2026-10-25: Berlin's 02:00-03:00 comes twice (00:00-01:00 and 01:00-02:00 UTC).
    repeated = {**WEEKEND, "cron": "30 2 25 10 *", "duration": "20m"}
    first, second = (
        datetime(2026, 10, 25, 0, 40, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 40, tzinfo=UTC),
    )
    assert message([repeated], "prod", first) is not None
    assert message([repeated], "prod", first + timedelta(minutes=15)) is None
    assert message([repeated], "prod", second) is not None


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("30m", 30), ("63h", 63 * 60), ("2d", 2880), ("1h30m", 90), ("1d2h3m", 1563)],
)
def test_durations(text: str, minutes: int) -> None:
    assert parse_duration(text) == timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"cron": "0 17 * *"}, "freeze[0].cron: '0 17 * *' is not five fields"),
        ({"cron": "0 25 * * 5"}, "freeze[0].cron: hour '25' is not within 0-23"),
        ({"cron": 17}, "freeze[0].cron must be a string, got 17"),
        ({"duration": "soon"}, "freeze[0].duration: 'soon' is not a duration"),
        ({"duration": "0m"}, "freeze[0].duration: '0m' is not between 1m and 31d"),
        ({"duration": "32d"}, "freeze[0].duration: '32d' is not between 1m and 31d"),
        ({"timezone": "Mars/Olympus"}, "freeze[0].timezone: 'Mars/Olympus' is not a time zone"),
        ({"timezone": "../etc/passwd"}, "freeze[0].timezone: '../etc/passwd' is not a time zone"),
        ({"environments": []}, "freeze[0].environments is missing"),
        ({"environments": "prod"}, "freeze[0].environments must be a list"),
        ({"reason": ""}, "freeze[0].reason is missing"),
        ({"until": "monday"}, "freeze[0]: unknown key 'until'"),
    ],
)
def test_a_bad_window_is_exit_2_naming_its_key(change: dict, problem: str) -> None:
    with pytest.raises(UsageError, match=re.escape(f"{PATH}: {problem}")) as error:
        parse_windows([{**WEEKEND, **change}], PATH)
    assert error.value.exit_code == 2


@pytest.mark.parametrize(
    ("data", "problem"),
    [("weekend", "freeze must be a list of windows"), (["weekend"], "freeze[0] must be a mapping")],
)
def test_a_bad_list_is_exit_2(data: object, problem: str) -> None:
    with pytest.raises(UsageError, match=re.escape(f"{PATH}: {problem}")):
        parse_windows(data, PATH)


def test_no_freeze_key_is_no_window() -> None:
    assert parse_windows(None, PATH) == ()
