"""Settings: environment variables prefixed APP_, read into one pydantic-settings object."""

from collections.abc import Mapping
from typing import Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ENV_PREFIX = "APP_"


class Settings(BaseSettings):
    """Every setting of the service; docs/service.md's settings table lists the same names."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True)

    version: str = Field("dev", description="Which build runs (the image tag); in /-/health.")
    revision: str = Field("", description="The full git SHA of the build; in /-/health.")
    log_format: Literal["text", "json"] = Field("text", description="text or json (one per line).")
    log_level: Literal["debug", "info", "warning", "error"] = Field("info")
    access_log: bool = Field(False, description="One log line per request.")
    metrics: bool = Field(True, description="Prometheus metrics at /-/metrics.")
    echo_max_length: int = Field(4096, ge=1, le=1_000_000, description="Longest accepted text.")
    shutdown_delay_seconds: float = Field(
        5.0,
        ge=0,
        le=300,
        description="Seconds the app keeps serving, readiness 503, after SIGTERM.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        **_: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only what get_settings() passes in: never os.environ or files behind its back."""
        return (init_settings,)


class SettingsError(ValueError):
    """An invalid setting; str() is one line naming the environment variable."""


def environ_values(environ: Mapping[str, str]) -> dict[str, str]:
    """The APP_* variables of `environ` by field name; names match in any case, as
    pydantic-settings' environment source matches them. The strings are left to the model's
    validation, which parses numbers and booleans from text as that source does."""
    by_name = {key.upper(): value for key, value in environ.items()}
    variables = {name: ENV_PREFIX + name.upper() for name in Settings.model_fields}
    return {name: by_name[var] for name, var in variables.items() if var in by_name}


def get_settings(environ: Mapping[str, str]) -> Settings:
    """Build the settings from `environ` (os.environ in production, a dict in tests)."""
    try:
        return Settings(**environ_values(environ))
    except ValidationError as exc:
        raise SettingsError(_one_line(exc, environ)) from None


def _one_line(exc: ValidationError, environ: Mapping[str, str]) -> str:
    problems = []
    for error in exc.errors():
        name = ENV_PREFIX + str(error["loc"][0]).upper() if error["loc"] else ENV_PREFIX
        value = {key.upper(): val for key, val in environ.items()}.get(name)
        shown = f"={value!r}" if value is not None else ""
        problems.append(f"{name}{shown}: {error['msg']}")
    return "invalid setting " + "; ".join(problems)
