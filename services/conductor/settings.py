"""The conductor's settings: the agent, its REST API, the reconcile loop, purchases, the leader
lease and the plan applied when none is stored.

Every variable follows the naming rule of `flotilla.settings`: `FLOTILLA_CONDUCTOR_` plus the
section and the field, e.g. `api.port` is `FLOTILLA_CONDUCTOR_API_PORT`.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, SecretStr, model_validator

from conductor.saturation import SaturationSection
from flotilla.db.pool import PoolSection
from flotilla.settings import DatabaseSettings, Section

__all__ = [
    "ApiSection",
    "ConductorSettings",
    "LeaderSection",
    "PlanSection",
    "PurchaseSection",
    "ReconcileSection",
]


class ApiSection(Section):
    """The REST API (OpenAPI at /docs): where it listens and the bearer token writes need."""

    host: str = Field(default="127.0.0.1", min_length=1, description="address the API binds")
    port: int = Field(default=8600, ge=0, le=65535, description="its port (0: a free one)")
    token: SecretStr | None = Field(
        default=None, description="bearer token every write needs (none: writes are refused)"
    )


class ReconcileSection(Section):
    """The level-triggered loop comparing the plan with the fleet."""

    interval_seconds: float = Field(
        default=2.0, gt=0, description="how often the leader compares the plan with the fleet"
    )
    earnings_window_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="the window of measured earnings that `auto` roles choose ship types by",
    )
    earnings_refresh_seconds: float = Field(
        default=60.0, gt=0, description="how often the measured earnings are read again"
    )


class PurchaseSection(Section):
    """How ships are bought: one at a time, journalled before the call is sent."""

    deadline_seconds: float = Field(
        default=30.0, gt=0, description="how long a purchase may wait in the gateway's queue"
    )
    settle_seconds: float = Field(
        default=30.0,
        gt=0,
        description="after a purchase's deadline, how long its answer may still be on the way"
        " (the API's timeout): a purchase of unknown outcome is looked up only after both",
    )
    list_deadline_seconds: float = Field(
        default=60.0, gt=0, description="how long a listing of the fleet may wait in the queue"
    )


class LeaderSection(Section):
    """The leader lease in NATS KV: only its holder reconciles and buys."""

    ttl_seconds: int = Field(
        default=6,
        ge=2,
        le=3600,
        description="whole seconds after its last renewal that the server expires the lease",
    )
    renew_seconds: float = Field(
        default=1.5, gt=0, description="how often the leader renews, and a standby retries"
    )

    @model_validator(mode="after")
    def _renewal_fits(self) -> Self:
        if self.renew_seconds * 2 > self.ttl_seconds:
            raise ValueError("the renew interval must be at most half the leader lease TTL")
        return self


class PlanSection(Section):
    """The plan applied when the database holds none yet."""

    initial_file: str = Field(
        default="",
        description="a YAML or JSON plan stored as revision 1 when no plan is stored ('': an"
        " empty plan, or the default plan with `simulator_default`)",
    )
    simulator_default: bool = Field(
        default=False,
        description="with no initial file, store the default plan for the simulator's starting"
        " agent (what `flotilla up` does)",
    )


class ConductorSettings(DatabaseSettings):
    """Settings of `flotilla conductor`."""

    settings_prefix = "FLOTILLA_CONDUCTOR_"

    agent: str = Field(
        default="", description="the agent whose fleet is conducted ('': the gateway's first)"
    )
    api: ApiSection = Field(default_factory=ApiSection)
    reconcile: ReconcileSection = Field(default_factory=ReconcileSection)
    purchases: PurchaseSection = Field(default_factory=PurchaseSection)
    leader: LeaderSection = Field(default_factory=LeaderSection)
    plan: PlanSection = Field(default_factory=PlanSection)
    pool: PoolSection = Field(default_factory=PoolSection)
    saturation: SaturationSection = Field(default_factory=SaturationSection)
