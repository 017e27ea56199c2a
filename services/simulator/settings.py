"""The simulator service's settings: `FLOTILLA_SIMULATOR_*` variables, overridable from the
command line."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, InitSettingsSource, PydanticBaseSettingsSource

from flotilla.settings import ServiceSettings
from simulator.config import SimulatorConfig

DEFAULT_PORT = 8811


class SimulatorSettings(ServiceSettings):
    """Where the simulator listens and which universe it serves."""

    simulator_host: str = Field(default="127.0.0.1", min_length=1)
    simulator_port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    # When set, the service writes its base URL (…/v2) there once it listens.
    simulator_url_file: str | None = None

    simulator_seed: int = 1
    simulator_time_scale: float = Field(default=1.0, gt=0)
    simulator_systems: int = Field(default=8, ge=2, le=60)
    simulator_starting_credits: int = Field(default=175_000, ge=0)

    simulator_rate_limit: bool = True
    simulator_static_limit: int = Field(default=2, ge=1)
    simulator_static_period_seconds: float = Field(default=1.0, gt=0)
    simulator_burst_limit: int = Field(default=30, ge=0)
    simulator_burst_period_seconds: float = Field(default=60.0, gt=0)

    simulator_fault_500_rate: float = Field(default=0.0, ge=0, le=1)
    simulator_fault_502_rate: float = Field(default=0.0, ge=0, le=1)
    simulator_fault_html_429_rate: float = Field(default=0.0, ge=0, le=1)
    simulator_fault_drop_rate: float = Field(default=0.0, ge=0, le=1)
    simulator_latency_ms: float = Field(default=0.0, ge=0)
    simulator_fault_seed: int = 0

    def simulator_config(self) -> SimulatorConfig:
        return SimulatorConfig(
            seed=self.simulator_seed,
            time_scale=self.simulator_time_scale,
            systems=self.simulator_systems,
            starting_credits=self.simulator_starting_credits,
            rate_limit_enabled=self.simulator_rate_limit,
            static_limit=self.simulator_static_limit,
            static_period_seconds=self.simulator_static_period_seconds,
            burst_limit=self.simulator_burst_limit,
            burst_period_seconds=self.simulator_burst_period_seconds,
            fault_500_rate=self.simulator_fault_500_rate,
            fault_502_rate=self.simulator_fault_502_rate,
            fault_html_429_rate=self.simulator_fault_html_429_rate,
            fault_drop_rate=self.simulator_fault_drop_rate,
            latency_ms=self.simulator_latency_ms,
            fault_seed=self.simulator_fault_seed,
        )


def settings_with(overrides: dict[str, Any]) -> type[SimulatorSettings]:
    """`SimulatorSettings` whose values in `overrides` (from the command line) win over the
    environment."""

    class CommandLineSimulatorSettings(SimulatorSettings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            command_line = InitSettingsSource(settings_cls, init_kwargs=overrides)
            return (
                command_line,
                init_settings,
                env_settings,
                dotenv_settings,
                file_secret_settings,
            )

    return CommandLineSimulatorSettings
