"""The gateway's settings: where the API is and whose tokens to use (`FLOTILLA_SPACETRADERS_*`,
the only place tokens live), and how to spend the rate limit (`FLOTILLA_GATEWAY_*`). Each
section is the typed configuration of the part that uses it: the limiter takes `rate_limit`,
the clients `http`, the retry loop `retry`, the scheduler `queue`."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr, field_validator

from flotilla.settings import ProbeSection, Section, ServiceSettings
from gateway.ratelimit import RateLimitConfig
from gateway.retry import RetryPolicy
from gateway.scheduler import QueueConfig
from gateway.upstream import HttpConfig

__all__ = [
    "GATEWAY_PROBE_PORT",
    "REAL_API",
    "GatewaySettings",
    "RegistrationSection",
    "SpaceTradersSection",
]

REAL_API = "https://api.spacetraders.io/v2"
GATEWAY_PROBE_PORT = 9102


class SpaceTradersSection(Section):
    """Where the SpaceTraders API is, and the tokens of the agents the gateway plays."""

    env_prefix: ClassVar[str | None] = "FLOTILLA_SPACETRADERS_"

    base_url: str = Field(
        default=REAL_API,
        min_length=1,
        description="the API (or a simulator), ending in /v2; flotilla up points it at its "
        "simulator",
    )
    token: SecretStr | None = Field(
        default=None, description="one agent's token (the agent symbol is read from it)"
    )
    agent_tokens: dict[str, SecretStr] = Field(
        default_factory=dict, description='several agents as JSON {"SYMBOL": "token", ...}'
    )
    account_token: SecretStr | None = Field(
        default=None, description="account token for registering an agent at the real API"
    )

    @field_validator("agent_tokens")
    @classmethod
    def _every_agent_has_a_token(cls, tokens: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for symbol, token in tokens.items():
            if not symbol or not token.get_secret_value():
                raise ValueError("needs a symbol and a token for each agent")
        return tokens


class RegistrationSection(Section):
    """The agent the gateway registers at start when no token is configured (the local run
    against the simulator); its token is kept in memory only."""

    # Spelled out because "register" cannot be a settings field (pydantic models have a
    # `register` attribute already); the variables keep their names.
    env_prefix: ClassVar[str | None] = "FLOTILLA_GATEWAY_REGISTER_"

    agent: bool = Field(
        default=True,
        description="with no token configured, register an agent at start (token kept in "
        "memory only)",
    )
    symbol: str | None = Field(
        default=None, max_length=14, description="its symbol (none: a random FLOT-XXXXXX)"
    )
    faction: str = Field(default="COSMIC", description="its faction")


class GatewaySettings(ServiceSettings):
    """Where the API is, whose tokens to use, and how to spend the rate limit."""

    settings_prefix: ClassVar[str] = "FLOTILLA_GATEWAY_"

    spacetraders: SpaceTradersSection = Field(
        default_factory=SpaceTradersSection, description="the API and the agents' tokens"
    )
    registration: RegistrationSection = Field(
        default_factory=RegistrationSection,
        description="the agent registered when none is configured",
    )
    agent_local_addresses: dict[str, str] = Field(
        default_factory=dict,
        description='agents whose requests leave from another local address, as JSON {"SYMBOL": '
        '"10.0.0.7"}; agents on one address share one rate limit (the API limits per IP)',
    )
    rate_limit: RateLimitConfig = Field(
        default_factory=RateLimitConfig, description="the model of the API's rate limit"
    )
    http: HttpConfig = Field(default_factory=HttpConfig, description="connections and timeouts")
    retry: RetryPolicy = Field(default_factory=RetryPolicy, description="attempts and waits")
    queue: QueueConfig = Field(default_factory=QueueConfig, description="the priority queue")
    probes: ProbeSection = Field(
        default_factory=lambda: ProbeSection(port=GATEWAY_PROBE_PORT),
        description="the probe and metrics endpoint, on the gateway's own port by default",
    )
