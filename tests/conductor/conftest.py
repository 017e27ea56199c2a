"""Helpers of the conductor's tests, handed out as fixtures (with --import-mode=importlib a
conftest is not importable by name): waiting on a condition, migrated databases, a small fleet
written through the persister's writer, and the conductor state the API runs over."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import psycopg
import pytest
from pydantic import BaseModel, ConfigDict, Field

from conductor.api.control import DryRun, Override, PauseState, PlanRevision
from conductor.saturation import Load, LoadMonitor, SaturationController, SaturationSection
from flotilla.clock import ManualClock
from flotilla.v1 import api_pb2, events_pb2
from persister.coalesce import coalesce_batch
from persister.contract import decode_event
from persister.writes import BatchWriter

Eventually = Callable[..., Awaitable[None]]
# The fleet's "now": its rows are written relative to it.
FLEET_NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
NOW = FLEET_NOW
SUBJECTS = {
    events_pb2.ShipState: "flotilla.events.ship",
    events_pb2.Transaction: "flotilla.events.transaction",
    events_pb2.RequestLog: "flotilla.events.request",
    events_pb2.AgentState: "flotilla.events.agent",
}


async def _eventually(condition: Callable[[], Any], within: float = 15.0, what: str = "") -> None:
    """Wait until `condition()` (or the awaitable it returns) is true, or fail."""
    deadline = time.monotonic() + within
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within}s: {what}")
        await asyncio.sleep(0.02)


@pytest.fixture
def eventually() -> Eventually:
    """`await eventually(condition, within=…, what=…)`: wait on a condition with a timeout."""
    return _eventually


@pytest.fixture
def migrated_url(database_url: str) -> str:
    """A fresh database with the schema at head."""
    from flotilla.db import migrate

    migrate.upgrade(database_url)
    return database_url


def _ship(symbol: str, status: str, behaviour: str) -> events_pb2.ShipState:
    state = events_pb2.ShipState(
        event_id=str(uuid.uuid4()),
        agent="AGENT",
        ship_symbol=symbol,
        version=1,
        changed=["nav", "mounts", "role"],
        role="EXCAVATOR",
        behaviour=behaviour,
    )
    state.observed_at.FromDatetime(NOW - timedelta(minutes=30))
    state.nav.system_symbol = "X1-AA"
    state.nav.waypoint_symbol = "X1-AA-A1"
    state.nav.status = status
    state.nav.flight_mode = "CRUISE"
    state.mounts.symbols.extend(["MOUNT_MINING_LASER_I"])
    return state


def _sale(ship: str, total: int, minutes_ago: float) -> events_pb2.Transaction:
    tx = events_pb2.Transaction(
        event_id=str(uuid.uuid4()),
        agent="AGENT",
        ship_symbol=ship,
        waypoint_symbol="X1-AA-A1",
        kind=events_pb2.TRANSACTION_KIND_SELL,
        trade_symbol="IRON_ORE",
        units=10,
        price_per_unit=total // 10,
        total_price=total,
        behaviour="mine",
    )
    tx.timestamp.FromDatetime(NOW - timedelta(minutes=minutes_ago))
    return tx


def _call(ship: str, minutes_ago: float, queued_ms: float) -> events_pb2.RequestLog:
    log = events_pb2.RequestLog(
        event_id=str(uuid.uuid4()),
        agent="AGENT",
        ship_symbol=ship,
        endpoint="/my/ships/{shipSymbol}/extract",
        method="POST",
        priority=api_pb2.PRIORITY_CLASS_COOLDOWN_START,
        status=201,
        queued_ms=queued_ms,
        wire_ms=100.0,
        attempts=1,
        outcome=api_pb2.CALL_OUTCOME_COMPLETED,
    )
    log.timestamp.FromDatetime(NOW - timedelta(minutes=minutes_ago))
    return log


def _agent() -> events_pb2.AgentState:
    agent = events_pb2.AgentState(
        event_id=str(uuid.uuid4()),
        symbol="AGENT",
        credits=175_000,
        headquarters="X1-AA-A1",
        starting_faction="COSMIC",
        ship_count=3,
    )
    agent.observed_at.FromDatetime(NOW - timedelta(minutes=1))
    return agent


def _fleet() -> list[Any]:
    return [
        _agent(),
        _ship("AGENT-1", "IN_ORBIT", "mine"),
        _ship("AGENT-2", "DOCKED", "mine"),
        _ship("AGENT-3", "IN_TRANSIT", "explore"),
        _sale("AGENT-1", 1_000, 50),
        _sale("AGENT-1", 2_000, 20),
        _sale("AGENT-2", 600, 10),
        *(_call("AGENT-1", m, 250.0) for m in (40, 30, 5)),
        _call("AGENT-2", 5, 750.0),
    ]


async def _write(url: str, messages: Sequence[Any]) -> None:
    batch = coalesce_batch(decode_event(SUBJECTS[type(m)], m.SerializeToString()) for m in messages)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await BatchWriter().write(conn, batch)


class _Role(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    ship_type: Literal["SHIP_MINING_DRONE", "SHIP_PROBE"]
    count: int = Field(ge=0)
    behaviour: Literal["mine", "explore", "idle"]


class _Plan(BaseModel):
    model_config = ConfigDict(extra="forbid")
    roles: list[_Role]
    credit_reserve: int = Field(default=0, ge=0)


class StandInControl:
    """Stands in for the conductor's state object (not yet on this branch): it keeps the plan,
    overrides and pauses in memory with the same protocol. Replaced by the real one on merge."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.saturation = SaturationController(SaturationSection(), clock)
        self.load_monitor = LoadMonitor(SaturationSection())
        self.revisions: list[PlanRevision] = []
        self._overrides: dict[str, Override] = {}
        self.paused = PauseState(False, False, False)

    def now_load(self) -> Load:
        return self.load_monitor.load(self.clock.time())

    def validate_plan(self, document: Any) -> Any:
        return _Plan.model_validate(document)

    async def current_plan(self) -> PlanRevision | None:
        return self.revisions[-1] if self.revisions else None

    async def plan_history(self, limit: int) -> list[PlanRevision]:
        return self.revisions[::-1][:limit]

    async def replace_plan(self, plan: Any, *, updated_by: str) -> PlanRevision:
        revision = PlanRevision(
            len(self.revisions) + 1, plan.model_dump(), self.clock.now(), updated_by
        )
        self.revisions.append(revision)
        return revision

    async def dry_run(self, plan: Any) -> DryRun:
        return DryRun(
            purchases=[{"ship_type": r.ship_type, "count": r.count} for r in plan.roles],
            assignments=[],
        )

    async def overrides(self) -> Mapping[str, Override]:
        return dict(self._overrides)

    async def set_override(
        self,
        ship_symbol: str,
        *,
        behaviour: str,
        params: Mapping[str, str],
        waypoint_symbol: str,
        expires_at: datetime | None,
    ) -> Override:
        if not ship_symbol.startswith("AGENT-"):
            raise KeyError(ship_symbol)
        if behaviour not in ("mine", "explore", "idle"):
            raise ValueError(f"unknown behaviour {behaviour!r}")
        override = Override(
            ship_symbol, behaviour, dict(params), waypoint_symbol, expires_at, self.clock.now()
        )
        self._overrides[ship_symbol] = override
        return override

    async def clear_override(self, ship_symbol: str) -> bool:
        return self._overrides.pop(ship_symbol, None) is not None

    def pause_state(self) -> PauseState:
        return self.paused

    async def pause(self, *, everything: bool) -> PauseState:
        self.paused = PauseState(
            True, everything or self.paused.everything, self.saturation.purchases_paused
        )
        return self.paused

    async def resume(self, *, everything: bool) -> PauseState:
        self.paused = (
            PauseState(self.paused.purchases, False, self.saturation.purchases_paused)
            if everything
            else PauseState(False, self.paused.everything, self.saturation.purchases_paused)
        )
        return self.paused


@pytest.fixture
def filled_url(migrated_url: str) -> str:
    """A migrated database holding a small fleet (see `_fleet`), written by the persister's
    writer: agent AGENT (175,000 credits); AGENT-1 in orbit and AGENT-2 docked, both mining,
    AGENT-3 in transit exploring; sales of 1,000 (50 min before `FLEET_NOW`) and 2,000 (20 min)
    by AGENT-1 and 600 (10 min) by AGENT-2; calls of AGENT-1 40, 30 and 5 min before (250 ms
    queued) and of AGENT-2 5 min before (750 ms)."""
    asyncio.run(_write(migrated_url, _fleet()))
    return migrated_url


@pytest.fixture
def make_control() -> Callable[[ManualClock], Any]:
    """Builds the conductor state the API runs over, on a clock."""
    return StandInControl
