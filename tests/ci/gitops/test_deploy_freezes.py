"""``ci.gitops.deploy_freezes``: GitLab's deploy freezes judged on a given clock, and read from
the project through the GitLab API stand-in."""

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ci.errors import CiError
from ci.gitops.deploy_freezes import from_gitlab, frozen, parse_periods
from tests.support.gitlab_api import PROJECT_ID, running_gitlab

BERLIN = ZoneInfo("Europe/Berlin")
UTC_ZONE = ZoneInfo("UTC")
# GitLab's documented example: from Friday 23:00 to Monday 08:00.
WEEKEND = {"id": 1, "freeze_start": "0 23 * * 5", "freeze_end": "0 8 * * 1", "cron_timezone": "UTC"}


def at(text: str, zone: ZoneInfo = UTC_ZONE) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone)


def message(periods: list[dict], now: datetime, env: str = "prod") -> str | None:
    found = frozen(parse_periods(periods), env, now)
    return found.message() if found else None


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2026-12-04 22:59", None),  # Friday
        ("2026-12-04 23:00", "prod is frozen until 2026-12-07 08:00 UTC: GitLab deploy freeze"),
        ("2026-12-06 12:00", "prod is frozen until 2026-12-07 08:00 UTC: GitLab deploy freeze"),
        ("2026-12-07 07:59", "prod is frozen until 2026-12-07 08:00 UTC: GitLab deploy freeze"),
        ("2026-12-07 08:00", None),  # the end itself is open again
        ("2026-12-09 12:00", None),
    ],
)
def test_a_weekend_freeze(now: str, expected: str | None) -> None:
    assert message([WEEKEND], at(now)) == expected


def test_every_environment_is_frozen() -> None:
    assert message([WEEKEND], at("2026-12-05 12:00"), env="dev") is not None


def test_the_period_is_read_in_its_time_zone() -> None:
    berlin = {**WEEKEND, "cron_timezone": "Europe/Berlin"}
    assert message([berlin], at("2026-12-04 21:30")) is None  # 22:30 in Berlin
    assert message([berlin], at("2026-12-04 22:30")) is not None  # 23:30 in Berlin
    assert message([berlin], at("2026-12-04 22:30", BERLIN)) is None
    assert message([berlin], at("2026-12-04 23:30", BERLIN)) == (
        "prod is frozen until 2026-12-07 08:00 Europe/Berlin: GitLab deploy freeze"
    )


def test_a_year_end_freeze_spans_the_new_year() -> None:
    year_end = {"id": 2, "freeze_start": "0 0 20 12 *", "freeze_end": "0 0 4 1 *"}
    assert message([year_end], at("2026-12-31 12:00")) == (
        "prod is frozen until 2027-01-04 00:00 UTC: GitLab deploy freeze"
    )
    assert message([year_end], at("2027-01-04 00:00")) is None
    assert message([year_end], at("2026-12-19 23:59")) is None


def test_across_daylight_saving_the_wall_clock_counts() -> None:
    # Berlin leaves summer time on 2026-10-25: a freeze from Saturday 22:00 to Sunday 06:00
    # lasts nine hours of elapsed time that night, and ends at 06:00 on the wall clock.
    night = {"id": 3, "freeze_start": "0 22 * * 6", "freeze_end": "0 6 * * 0"}
    night["cron_timezone"] = "Europe/Berlin"
    assert message([night], at("2026-10-25 05:59", BERLIN)) is not None
    assert message([night], at("2026-10-25 06:00", BERLIN)) is None
    assert message([night], datetime(2026, 10, 25, 4, 59, tzinfo=UTC)) is not None  # 05:59 CET


def test_of_two_open_periods_the_later_end_is_named() -> None:
    long = {"id": 4, "freeze_start": "0 0 1 12 *", "freeze_end": "0 0 1 1 *"}
    assert message([WEEKEND, long], at("2026-12-05 12:00")) == (
        "prod is frozen until 2027-01-01 00:00 UTC: GitLab deploy freeze"
    )


def test_no_period_no_freeze() -> None:
    assert message([], at("2026-12-05 12:00")) is None


@pytest.mark.parametrize(
    ("periods", "error"),
    [
        ({"freeze_start": "x"}, "not a list"),
        (["0 23 * * 5"], "not an object"),
        ([{**WEEKEND, "freeze_start": "0 25 * * 5"}], "freeze period 1: hour"),
        ([{**WEEKEND, "freeze_end": None}], "freeze period 1: freeze_start and freeze_end"),
        ([{**WEEKEND, "cron_timezone": "Mars/Olympus"}], "'Mars/Olympus' is not a time zone"),
    ],
)
def test_a_malformed_answer_is_an_error_not_an_open_door(periods: object, error: str) -> None:
    with pytest.raises(CiError, match=error) as raised:
        parse_periods(periods)
    assert raised.value.exit_code == 1


def test_an_end_that_never_comes_is_an_error() -> None:
    never = {"id": 5, "freeze_start": "0 0 * * *", "freeze_end": "0 0 31 2 *"}
    with pytest.raises(CiError, match="does not end within a year"):
        message([never], at("2026-12-05 12:00"))


def test_outside_gitlab_nothing_is_read() -> None:
    assert from_gitlab({}) is None
    assert from_gitlab({"CI_SERVER_URL": "https://gitlab.example", "CI_PROJECT_ID": "1"}) is None


def test_the_project_freezes_are_read_through_the_api(tmp_path: Path) -> None:
    token = f"glpat-freeze-{tmp_path.name}"
    with running_gitlab(tmp_path, token) as api:
        api.add_freeze("0 23 * * 5", "0 8 * * 1", "Europe/Berlin")
        environ = {
            "CI_SERVER_URL": api.base_url,
            "CI_PROJECT_ID": str(PROJECT_ID),
            "GITOPS_TOKEN": token,
        }
        judge = from_gitlab(environ)
        assert judge is not None
        found = judge("prod", at("2026-12-05 12:00", BERLIN))
        assert found is not None
        assert found.message() == (
            "prod is frozen until 2026-12-07 08:00 Europe/Berlin: GitLab deploy freeze"
        )
        assert judge("prod", at("2026-12-08 12:00", BERLIN)) is None
        assert ("GET", f"/api/v4/projects/{PROJECT_ID}/freeze_periods") in api.requests


def test_a_token_the_api_refuses_is_an_error(tmp_path: Path) -> None:
    with running_gitlab(tmp_path, "right-token") as api:
        environ = {
            "GITLAB_URL": api.base_url,
            "CI_PROJECT_PATH": api.path_with_namespace,
            "GITOPS_TOKEN": "wrong-token",
        }
        with pytest.raises(CiError, match="refused GITOPS_TOKEN") as raised:
            from_gitlab(environ)
        assert "wrong-token" not in str(raised.value)
