"""Settings come from APP_* variables of the mapping given, never from anywhere else."""

import pytest

from app.settings import Settings, SettingsError, get_settings


def test_defaults() -> None:
    assert get_settings({}) == Settings.model_validate(
        {
            "version": "dev",
            "revision": "",
            "log_format": "text",
            "log_level": "info",
            "access_log": False,
            "echo_max_length": 4096,
            "shutdown_delay_seconds": 5.0,
        }
    )


def test_reads_prefixed_variables_case_insensitively() -> None:
    settings = get_settings(
        {
            "APP_VERSION": "0a1b2c3d",
            "app_revision": "0a1b2c3d" * 5,
            "APP_LOG_FORMAT": "json",
            "APP_ACCESS_LOG": "true",
            "APP_ECHO_MAX_LENGTH": "10",
            "APP_SHUTDOWN_DELAY_SECONDS": "0.5",
            "VERSION": "ignored without the prefix",
        }
    )
    assert (settings.version, settings.revision) == ("0a1b2c3d", "0a1b2c3d" * 5)
    assert (settings.log_format, settings.access_log) == ("json", True)
    assert (settings.echo_max_length, settings.shutdown_delay_seconds) == (10, 0.5)


def test_ignores_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_VERSION", "from-os-environ")
    assert get_settings({}).version == "dev"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"APP_ECHO_MAX_LENGTH": "lots"},
            "invalid setting APP_ECHO_MAX_LENGTH='lots': Input should be a valid integer, "
            "unable to parse string as an integer",
        ),
        (
            {"APP_ECHO_MAX_LENGTH": "0"},
            "invalid setting APP_ECHO_MAX_LENGTH='0': Input should be greater than or equal to 1",
        ),
        (
            {"APP_LOG_FORMAT": "xml"},
            "invalid setting APP_LOG_FORMAT='xml': Input should be 'text' or 'json'",
        ),
        (
            {"APP_SHUTDOWN_DELAY_SECONDS": "-1"},
            "invalid setting APP_SHUTDOWN_DELAY_SECONDS='-1': "
            "Input should be greater than or equal to 0",
        ),
        (
            {"APP_ACCESS_LOG": "maybe"},
            "invalid setting APP_ACCESS_LOG='maybe': Input should be a valid boolean, "
            "unable to interpret input",
        ),
    ],
)
def test_invalid_setting_is_one_line_naming_it(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        get_settings(environ)
    assert str(raised.value) == message


def test_several_invalid_settings_stay_on_one_line() -> None:
    with pytest.raises(SettingsError) as raised:
        get_settings({"APP_LOG_LEVEL": "loud", "APP_ECHO_MAX_LENGTH": "x"})
    assert "\n" not in str(raised.value)
    assert "APP_LOG_LEVEL='loud'" in str(raised.value)
    assert "APP_ECHO_MAX_LENGTH='x'" in str(raised.value)
