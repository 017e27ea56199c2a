"""The simulator's settings, written once: the sections that shape one universe (what
`create_app` takes and tests build) and the service settings that embed them.

`SimulatorConfig` sits inline in `SimulatorSettings`, so its fields keep the service's prefix:
`seed` is `FLOTILLA_SIMULATOR_SEED`, `rate_limit.static` is `FLOTILLA_SIMULATOR_RATE_LIMIT_STATIC`
(the gateway's own pool has the same name under `FLOTILLA_GATEWAY_`), `faults.drop_rate` is
`FLOTILLA_SIMULATOR_FAULTS_DROP_RATE`, `network.latency_in_ms` is
`FLOTILLA_SIMULATOR_NETWORK_LATENCY_IN_MS`. Every default is the real game's value (and a server
next door: no latency, no clock offset).
"""

from __future__ import annotations

from typing import ClassVar, Self

from pydantic import Field, model_validator

from flotilla.settings import INLINE, ProbeSection, Section, ServiceSettings, env_name

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_PROBE_PORT",
    "FaultSection",
    "NetworkSection",
    "RateLimitSection",
    "SimulatorConfig",
    "SimulatorSettings",
]

DEFAULT_PORT = 8811
DEFAULT_PROBE_PORT = 9103
# Rates that add up to exactly 1 in decimal may sum to a hair above it in binary floating point.
_ROUNDING = 1e-9


class RateLimitSection(Section):
    """The server's two-pool rate limit, per client address and per agent token. It always runs
    in real seconds, whatever the time scale: clients must learn to live with the real one."""

    enabled: bool = Field(
        default=True, description="enforce the rate limit (switch it off for fast tests)"
    )
    static: int = Field(
        default=2, ge=1, description="points in the static pool, refilled a period after first use"
    )
    static_period_seconds: float = Field(
        default=1.0, gt=0, description="seconds before the static pool refills"
    )
    burst: int = Field(
        default=30,
        ge=0,
        description="points in the burst pool, spent when the static pool is empty",
    )
    burst_period_seconds: float = Field(
        default=60.0, gt=0, description="seconds before the burst pool refills"
    )


class FaultSection(Section):
    """The failures the real API and its edge produce, injected so that clients can be tested
    against them. Rates are fractions of requests, drawn from a generator seeded with `seed` so
    that a run is reproducible; together they may not exceed 1.

    The first rates fail a request *before* its action runs (nothing happened); the `after_`
    rates let the action run and then lose its answer (it happened, the client cannot tell).
    """

    error_500_rate: float = Field(
        default=0.0, ge=0, le=1, description="fraction of requests answered with a JSON 500 error"
    )
    error_502_rate: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="fraction of requests answered with an HTML 502 Bad Gateway",
    )
    html_429_rate: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="fraction of requests answered with a bare HTML 429 without headers",
    )
    drop_rate: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="fraction of requests whose connection is dropped without a response",
    )
    after_error_500_rate: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="fraction of requests whose action runs, then answered with a JSON 500 error",
    )
    after_error_502_rate: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="fraction of requests whose action runs, then answered with an HTML 502",
    )
    after_error_504_rate: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="fraction of requests whose action runs, then answered with an HTML 504 "
        "Gateway Timeout",
    )
    after_drop_rate: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="fraction of requests whose action runs, then whose connection is dropped "
        "without a response",
    )
    latency_ms: float = Field(
        default=0.0,
        ge=0,
        description="milliseconds added to every request before the rate limit counts it, "
        "without jitter (see the network settings for latency with jitter)",
    )
    seed: int = Field(default=0, description="seed of the fault draws, for reproducible runs")

    RATES: ClassVar[tuple[str, ...]] = (
        "error_500_rate",
        "error_502_rate",
        "html_429_rate",
        "drop_rate",
        "after_error_500_rate",
        "after_error_502_rate",
        "after_error_504_rate",
        "after_drop_rate",
    )

    @model_validator(mode="after")
    def _rates_fit_in_one(self) -> Self:
        total = sum(getattr(self, name) for name in self.RATES)
        if total > 1 + _ROUNDING:
            given = " + ".join(
                f"{env_name(SimulatorSettings, 'config', 'faults', name)} ({getattr(self, name)})"
                for name in self.RATES
                if getattr(self, name) > 0
            )
            raise ValueError(f"the fault rates {given} add up to {total:g}, more than 1")
        return self


class NetworkSection(Section):
    """A server far away: the time a request takes to reach it (spent before the rate limit
    counts the request), the time its answer takes to come back (spent after the answer is
    computed), and a clock that differs from the client's.

    Each delay is drawn per request, uniformly within `jitter` (a fraction) of its mean, from a
    generator seeded with `seed`; requests in flight together each wait their own delay.
    """

    latency_in_ms: float = Field(
        default=0.0,
        ge=0,
        description="mean milliseconds a request takes to reach the server, before the rate "
        "limit counts it",
    )
    latency_in_jitter: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="spread of the way in, a fraction of its mean: 0.3 draws each delay "
        "within ±30 %",
    )
    latency_out_ms: float = Field(
        default=0.0,
        ge=0,
        description="mean milliseconds an answer takes to come back, after it is computed",
    )
    latency_out_jitter: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="spread of the way out, a fraction of its mean: 0.3 draws each delay "
        "within ±30 %",
    )
    clock_offset_seconds: float = Field(
        default=0.0,
        description="seconds the server's clock is ahead of the machine's (negative: behind), "
        "as its Date and x-ratelimit-reset headers and game timestamps show",
    )
    seed: int = Field(default=0, description="seed of the latency draws, for reproducible runs")


class SimulatorConfig(Section):
    """One simulated universe: its seed, its speed, its size, its rate limit, its faults and
    how far away it is.

    `time_scale` divides every game duration (cooldowns, flights, contract deadlines) in real
    time, so that tests and benchmarks can play hours of game in minutes.
    """

    seed: int = Field(
        default=1, description="seed of the universe: the same seed gives the same galaxy"
    )
    time_scale: float = Field(
        default=1.0,
        gt=0,
        description="divide every cooldown and flight by this factor in real time; 60 plays an "
        "hour of game in a minute",
    )
    systems: int = Field(default=8, ge=2, le=60, description="number of star systems, 2 to 60")
    starting_credits: int = Field(
        default=175_000, ge=0, description="credits of a newly registered agent"
    )
    rate_limit: RateLimitSection = Field(default_factory=RateLimitSection)
    faults: FaultSection = Field(default_factory=FaultSection)
    network: NetworkSection = Field(default_factory=NetworkSection)
    admin_enabled: bool = Field(
        default=False,
        description="serve the admin routes: POST /admin/agents/{symbol}/ships, which gives an "
        "agent ships without spending requests, and GET /admin/rate-limit, how each client "
        "address spent the rate limit: for benchmarks and tests only, never in a normal run",
    )


def _simulator_probes() -> ProbeSection:
    return ProbeSection(port=DEFAULT_PROBE_PORT)


class SimulatorSettings(ServiceSettings):
    """Where the simulator serves the API (its probes are on a port of their own) and which
    universe it serves."""

    settings_prefix: ClassVar[str] = "FLOTILLA_SIMULATOR_"

    host: str = Field(
        default="127.0.0.1",
        min_length=1,
        description="address the API listens on (0.0.0.0 to serve other machines)",
    )
    port: int = Field(
        default=DEFAULT_PORT, ge=0, le=65535, description="port of the API; 0 picks a free one"
    )
    config: SimulatorConfig = Field(default_factory=SimulatorConfig, json_schema_extra=INLINE)
    probes: ProbeSection = Field(default_factory=_simulator_probes)
