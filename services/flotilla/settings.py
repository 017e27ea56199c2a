"""Typed settings: one class per service on a shared base, read from `FLOTILLA_*` variables.

Settings are built when a service starts (never at import); `load_settings` turns a missing or
invalid value into a `SettingsError` whose message names the environment variable to fix.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "FLOTILLA_"

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LogFormat = Literal["json", "text"]


class SettingsError(Exception):
    """A setting is missing or invalid; the message names the variable(s) to fix."""


class ServiceSettings(BaseSettings):
    """What every service reads: logging, NATS, telemetry."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    log_level: LogLevel = "INFO"
    log_format: LogFormat = "json"
    nats_url: str = Field(default="nats://127.0.0.1:4222", min_length=1)
    # Seconds a service waits for in-flight work to finish after SIGTERM before it gives up.
    shutdown_grace_seconds: float = Field(default=10.0, gt=0)

    # Standard OpenTelemetry variables (no FLOTILLA_ prefix).
    otel_service_name: str | None = Field(default=None, validation_alias="OTEL_SERVICE_NAME")
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None, validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT"
    )


class DatabaseSettings(ServiceSettings):
    """Settings of a service that talks to PostgreSQL."""

    database_url: str = Field(min_length=1)


S = TypeVar("S", bound=BaseSettings)


def env_name(settings_cls: type[BaseSettings], field: str) -> str:
    """The environment variable that sets `field` of `settings_cls`."""
    info = settings_cls.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    if isinstance(alias, str):
        return alias
    prefix = str(settings_cls.model_config.get("env_prefix", ""))
    return f"{prefix}{field}".upper()


def load_settings(settings_cls: type[S], **overrides: Any) -> S:
    """Build `settings_cls` from the environment (and `overrides`), or raise `SettingsError`."""
    try:
        return settings_cls(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            problems.append(f"{env_name(settings_cls, field)}: {error['msg']}")
        raise SettingsError("invalid settings — " + "; ".join(problems)) from None
