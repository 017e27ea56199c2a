"""What shapes one simulated universe: its seed, its speed, its rate limit and its faults."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class SimulatorConfig(BaseModel):
    """Settings of one simulator instance; every field has the real game's value by default.

    `time_scale` divides every game duration (cooldowns, flights, contract deadlines) in real
    time; the rate limit always runs in real seconds. Fault rates are fractions of requests
    (0 to 1) drawn from a generator seeded with `fault_seed`, so a run is reproducible.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = 1
    time_scale: float = Field(default=1.0, gt=0)
    systems: int = Field(default=8, ge=2, le=60)
    starting_credits: int = Field(default=175_000, ge=0)

    rate_limit_enabled: bool = True
    static_limit: int = Field(default=2, ge=1)
    static_period_seconds: float = Field(default=1.0, gt=0)
    burst_limit: int = Field(default=30, ge=0)
    burst_period_seconds: float = Field(default=60.0, gt=0)

    fault_500_rate: float = Field(default=0.0, ge=0, le=1)
    fault_502_rate: float = Field(default=0.0, ge=0, le=1)
    fault_html_429_rate: float = Field(default=0.0, ge=0, le=1)
    fault_drop_rate: float = Field(default=0.0, ge=0, le=1)
    latency_ms: float = Field(default=0.0, ge=0)
    fault_seed: int = 0

    @model_validator(mode="after")
    def _faults_fit_in_one(self) -> Self:
        total = (
            self.fault_500_rate
            + self.fault_502_rate
            + self.fault_html_429_rate
            + self.fault_drop_rate
        )
        if total > 1:
            raise ValueError(f"the fault rates add up to {total}, more than 1")
        return self
