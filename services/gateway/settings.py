"""The gateway's settings (`FLOTILLA_*` environment variables); the only place tokens live."""

from __future__ import annotations

from typing import Self

from pydantic import Field, SecretStr, model_validator

from flotilla.settings import ServiceSettings
from gateway.core import SchedulingConfig
from gateway.endpoints import BACKGROUND, COOLDOWN_START, FLEET, SHIP_UNBLOCK
from gateway.ratelimit import RateLimitConfig
from gateway.retry import RetryPolicy
from gateway.upstream import HttpConfig

REAL_API = "https://api.spacetraders.io/v2"


class GatewaySettings(ServiceSettings):
    """Where the API is, whose tokens to use, and how to spend the rate limit."""

    spacetraders_base_url: str = Field(default=REAL_API, min_length=1)
    # One agent's token (the chart's Secret provides it) ...
    spacetraders_token: SecretStr | None = None
    # ... and/or several agents as JSON {"SYMBOL": "token", ...}.
    agent_tokens: dict[str, SecretStr] = Field(default_factory=dict)
    # Agents whose requests leave from another local address, as JSON {"SYMBOL": "10.0.0.7"};
    # agents on the same address share one rate limit (the API limits per IP).
    gateway_agent_local_addresses: dict[str, str] = Field(default_factory=dict)

    # With no token configured, register an agent at start and keep its token in memory only
    # (the local run against the simulator). The real API needs an account token for that.
    gateway_register_agent: bool = True
    gateway_register_symbol: str = Field(default="", max_length=14)
    gateway_register_faction: str = "COSMIC"
    spacetraders_account_token: SecretStr | None = None

    gateway_rate_limit_static: int = Field(default=2, ge=1)
    gateway_rate_limit_static_period_seconds: float = Field(default=1.0, gt=0)
    gateway_rate_limit_burst: int = Field(default=30, ge=0)
    gateway_rate_limit_burst_period_seconds: float = Field(default=60.0, gt=0)
    gateway_rate_limit_margin_seconds: float = Field(default=0.005, ge=0)
    gateway_rate_limit_default_pause_seconds: float = Field(default=2.0, gt=0)
    # Low classes leave the static pool's second point to ship actions until this fraction of
    # its window, and the last burst points until the last seconds of the burst window.
    gateway_rate_limit_pace_fraction: float = Field(default=0.8, ge=0, le=0.95)
    gateway_rate_limit_burst_reserve: int = Field(default=29, ge=0)
    gateway_rate_limit_reserve_release_seconds: float = Field(default=3.0, ge=0)

    gateway_http_max_in_flight: int = Field(default=8, ge=1, le=256)
    gateway_http_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    gateway_http_read_timeout_seconds: float = Field(default=20.0, gt=0)

    gateway_retry_max_attempts: int = Field(default=4, ge=1, le=10)
    gateway_retry_base_delay_seconds: float = Field(default=0.25, ge=0)
    gateway_retry_max_delay_seconds: float = Field(default=8.0, ge=0)
    gateway_retry_max_rate_limited: int = Field(default=5, ge=0, le=20)

    gateway_queue_limit_cooldown_start: int = Field(default=1000, ge=1)
    gateway_queue_limit_ship_unblock: int = Field(default=1000, ge=1)
    gateway_queue_limit_fleet: int = Field(default=200, ge=1)
    gateway_queue_limit_background: int = Field(default=2000, ge=1)
    gateway_aging_after_grants: int = Field(default=8, ge=1)

    gateway_metrics_host: str = "0.0.0.0"
    gateway_metrics_port: int = Field(default=9102, ge=0, le=65535)

    @model_validator(mode="after")
    def _every_agent_has_a_token(self) -> Self:
        for symbol, token in self.agent_tokens.items():
            if not symbol or not token.get_secret_value():
                raise ValueError("FLOTILLA_AGENT_TOKENS needs a symbol and a token for each agent")
        return self

    def has_tokens(self) -> bool:
        return bool(self.agent_tokens) or self.spacetraders_token is not None

    def http_config(self) -> HttpConfig:
        return HttpConfig(
            base_url=self.spacetraders_base_url,
            max_in_flight=self.gateway_http_max_in_flight,
            connect_timeout_seconds=self.gateway_http_connect_timeout_seconds,
            read_timeout_seconds=self.gateway_http_read_timeout_seconds,
        )

    def rate_limit_config(self) -> RateLimitConfig:
        return RateLimitConfig(
            static_limit=self.gateway_rate_limit_static,
            static_period_seconds=self.gateway_rate_limit_static_period_seconds,
            burst_limit=self.gateway_rate_limit_burst,
            burst_period_seconds=self.gateway_rate_limit_burst_period_seconds,
            margin_seconds=self.gateway_rate_limit_margin_seconds,
            default_pause_seconds=self.gateway_rate_limit_default_pause_seconds,
            pace_fraction=self.gateway_rate_limit_pace_fraction,
            burst_reserve=self.gateway_rate_limit_burst_reserve,
            reserve_release_seconds=self.gateway_rate_limit_reserve_release_seconds,
        )

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.gateway_retry_max_attempts,
            base_delay_seconds=self.gateway_retry_base_delay_seconds,
            max_delay_seconds=self.gateway_retry_max_delay_seconds,
            max_rate_limited=self.gateway_retry_max_rate_limited,
        )

    def scheduling_config(self) -> SchedulingConfig:
        return SchedulingConfig(
            queue_limits={
                COOLDOWN_START: self.gateway_queue_limit_cooldown_start,
                SHIP_UNBLOCK: self.gateway_queue_limit_ship_unblock,
                FLEET: self.gateway_queue_limit_fleet,
                BACKGROUND: self.gateway_queue_limit_background,
            },
            aging_after=self.gateway_aging_after_grants,
        )
