"""The API's response and request bodies (pydantic models, so the OpenAPI document describes
every field). Fleet and stats bodies are built from the shared database views
(`flotilla.db.fleet_views`, `flotilla.db.analytics`)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from conductor.core import ShipInfo
from conductor.store import Decision as StoredDecision
from conductor.store import Override
from flotilla.db import analytics, fleet_views

__all__ = [
    "AgentOut",
    "DecisionOut",
    "Earnings",
    "MinuteOut",
    "NavStatus",
    "OverrideOut",
    "RequestOut",
    "SaturationOut",
    "Scope",
    "ScopeIn",
    "ShipDetailOut",
    "ShipOut",
    "ShipStateOut",
    "StatsOut",
    "TimingOut",
]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class NavStatus(StrEnum):
    """A ship's navigation status."""

    DOCKED = "DOCKED"
    IN_ORBIT = "IN_ORBIT"
    IN_TRANSIT = "IN_TRANSIT"


class ShipStateOut(_Out):
    """A ship's newest state as the persister wrote it (null fields: not reported yet)."""

    agent: str
    frame: str | None
    nav_status: str | None
    waypoint: str | None
    flight_mode: str | None
    arrival: datetime | None
    fuel_current: int | None
    fuel_capacity: int | None
    cargo_units: int | None
    cargo_capacity: int | None
    cooldown_expiration: datetime | None
    mounts: list[str]
    updated_at: datetime

    @classmethod
    def of(cls, ship: fleet_views.ShipView) -> ShipStateOut:
        """From the database view."""
        return cls.model_validate(ship, from_attributes=True)


class OverrideOut(_Out):
    """An operator's assignment of one ship, held until it expires (null: until removed)."""

    ship_symbol: str
    behaviour: str
    params: dict[str, str]
    waypoint_symbol: str
    reason: str
    set_at: datetime | None
    expires_at: datetime | None

    @classmethod
    def of(cls, override: Override) -> OverrideOut:
        """From the conductor's record."""
        return cls(
            ship_symbol=override.ship,
            behaviour=override.behaviour,
            params=dict(override.params),
            waypoint_symbol=override.waypoint,
            reason=override.reason,
            set_at=override.set_at,
            expires_at=override.expires_at,
        )


class ShipOut(_Out):
    """A ship as the conductor sees it (type, place, assignment) with its database state."""

    symbol: str
    ship_type: str
    system: str
    waypoint: str
    status: str = Field(description="navigation status: DOCKED, IN_ORBIT or IN_TRANSIT")
    mounts: list[str] | None = Field(description="null: not known yet")
    role: str = Field(description="the plan role it is assigned to ('': none)")
    behaviour: str
    params: dict[str, str]
    parked: bool = Field(description="parked by saturation control (runs `idle`)")
    manual: bool = Field(description="held by an operator's override")
    override: OverrideOut | None
    state: ShipStateOut | None = Field(description="null: the database has no row yet")

    @classmethod
    def of(cls, info: ShipInfo, row: fleet_views.ShipView | None) -> ShipOut:
        """From the conductor's view of the ship and its database row."""
        return cls(
            symbol=info.symbol,
            ship_type=info.ship_type,
            system=info.system,
            waypoint=info.waypoint,
            status=info.status,
            mounts=info.mounts,
            role=info.role,
            behaviour=info.behaviour,
            params=dict(info.params),
            parked=info.parked,
            manual=info.manual,
            override=OverrideOut.of(info.override) if info.override else None,
            state=ShipStateOut.of(row) if row else None,
        )


class RequestOut(_Out):
    """One call the gateway logged."""

    timestamp: datetime
    method: str
    endpoint: str
    priority: str
    status: int
    outcome: str
    queued_ms: float
    wire_ms: float
    attempts: int


class Earnings(_Out):
    """Credits over a window, and per hour."""

    key: str
    gross: int
    spent: int
    net: int
    cph_gross: float
    cph_net: float

    @classmethod
    def of(cls, earnings: analytics.Earnings) -> Earnings:
        """From the analytics."""
        return cls(
            key=earnings.key,
            gross=earnings.gross,
            spent=earnings.spent,
            net=earnings.net,
            cph_gross=earnings.cph_gross,
            cph_net=earnings.cph_net,
        )


class ShipDetailOut(_Out):
    """One ship: state, assignment, recent calls (newest first) and earnings."""

    ship: ShipOut
    requests: list[RequestOut]
    earnings: Earnings
    window_minutes: int


class AgentOut(_Out):
    """An agent's newest observed state."""

    symbol: str
    credits: int
    headquarters: str
    starting_faction: str
    ship_count: int
    observed_at: datetime


class TimingOut(_Out):
    """Calls of one priority class and their mean times."""

    priority: str
    calls: int
    sent: int
    attempts: int
    throttled: int
    queue_wait_seconds: float | None
    wire_seconds: float | None
    seconds_per_request: float | None


class StatsOut(_Out):
    """The fleet's figures over one window."""

    start: datetime
    end: datetime
    gross: int
    spent: int
    net: int
    cph_gross: float
    cph_net: float
    cpr_gross: float | None
    cpr_net: float | None
    requests: int
    requests_per_minute: float
    saturation: float
    ships: int
    active_ships: int
    timing: list[TimingOut]
    top_ships: list[Earnings]
    behaviours: list[Earnings]

    @classmethod
    def of(
        cls,
        stats: analytics.FleetStats,
        ships: list[analytics.Earnings],
        behaviours: list[analytics.Earnings],
    ) -> StatsOut:
        """From the analytics."""
        return cls(
            start=stats.window.start,
            end=stats.window.end,
            gross=stats.credits.gross,
            spent=stats.credits.spent,
            net=stats.credits.net,
            cph_gross=stats.cph_gross,
            cph_net=stats.cph_net,
            cpr_gross=stats.cpr_gross,
            cpr_net=stats.cpr_net,
            requests=stats.requests,
            requests_per_minute=stats.requests_per_minute,
            saturation=stats.saturation,
            ships=stats.active_ships.total,
            active_ships=stats.active_ships.active,
            timing=[
                TimingOut(
                    priority=t.priority,
                    calls=t.calls,
                    sent=t.sent,
                    attempts=t.attempts,
                    throttled=t.throttled,
                    queue_wait_seconds=t.queue_wait_seconds,
                    wire_seconds=t.wire_seconds,
                    seconds_per_request=t.seconds_per_request,
                )
                for t in stats.timing.values()
            ],
            top_ships=[Earnings.of(e) for e in ships],
            behaviours=[Earnings.of(e) for e in behaviours],
        )


class MinuteOut(_Out):
    """One minute of the fleet."""

    minute: datetime
    gross: int
    spent: int
    net: int
    requests: int
    saturation: float
    cpr_gross: float | None

    @classmethod
    def of(cls, minute: analytics.MinuteStats) -> MinuteOut:
        """From the analytics."""
        return cls(
            minute=minute.minute,
            gross=minute.gross,
            spent=minute.spent,
            net=minute.net,
            requests=minute.requests,
            saturation=minute.saturation,
            cpr_gross=minute.cpr_gross,
        )


class DecisionOut(_Out):
    """One decision of the conductor: what (`kind`), about which ship or role, why, with what
    figures."""

    id: int
    at: datetime
    kind: str
    reason: str
    ship: str | None
    role: str | None
    figures: dict[str, Any]

    @classmethod
    def of(cls, decision: StoredDecision) -> DecisionOut:
        """From the decisions log."""
        return cls(
            id=decision.id,
            at=decision.at,
            kind=decision.kind,
            reason=decision.reason,
            ship=decision.ship,
            role=decision.role,
            figures=dict(decision.figures),
        )


class SaturationOut(_Out):
    """Saturation control now: the load, what it holds, and its latest decisions."""

    enabled: bool
    top_class: str
    top_class_wait: float | None
    utilisation: float
    purchases_held: bool = Field(description="saturation control holds purchases")
    parked: dict[str, str] = Field(description="parked ships with the reason of each")
    decisions: list[DecisionOut] = Field(description="its decisions, newest first")


class Scope(StrEnum):
    """What a pause holds: purchases only, or every action of the conductor."""

    PURCHASES = "purchases"
    ALL = "all"


class ScopeIn(BaseModel):
    """The body of pause and resume."""

    model_config = ConfigDict(extra="forbid")

    scope: Literal["purchases", "all"] = "all"
