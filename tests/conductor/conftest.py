"""Helpers of the conductor's tests, handed out as fixtures (with --import-mode=importlib a
conftest is not importable by name): waiting on a condition, migrated databases, and the API's
stack — the simulator over real HTTP, a gateway and a conductor started by the service kit
(its API on a free port), with rows of the fleet written through the persister's writer."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from flotilla.kit import RunningService, open_service
from flotilla.settings import load_settings
from flotilla.v1 import api_pb2, events_pb2
from persister.coalesce import coalesce_batch
from persister.contract import decode_event
from persister.writes import BatchWriter

Eventually = Callable[..., Awaitable[None]]
API_TOKEN = "s3cret-token"
SUBJECTS = {
    events_pb2.ShipState: "flotilla.events.ship",
    events_pb2.Transaction: "flotilla.events.transaction",
    events_pb2.RequestLog: "flotilla.events.request",
    events_pb2.AgentState: "flotilla.events.agent",
}
# Quick leader lease and reconcile passes, so tests need not wait.
FAST = {
    "leader": {"ttl_seconds": 2, "renew_seconds": 0.5},
    "reconcile": {"interval_seconds": 0.3},
    "purchases": {"deadline_seconds": 5.0, "settle_seconds": 3.0, "list_deadline_seconds": 30.0},
}


async def _eventually(condition: Callable[[], Any], within: float = 30.0, what: str = "") -> None:
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


# --- rows of the fleet, written as the persister writes them --------------------------------


def ship_state(agent: str, symbol: str, status: str, behaviour: str) -> events_pb2.ShipState:
    """A ship's state event: nav, mounts and role."""
    state = events_pb2.ShipState(
        event_id=str(uuid.uuid4()),
        agent=agent,
        ship_symbol=symbol,
        version=1_000_000,
        changed=["nav", "mounts", "role"],
        role="EXCAVATOR",
        behaviour=behaviour,
    )
    state.observed_at.FromDatetime(datetime.now(UTC) - timedelta(minutes=30))
    state.nav.system_symbol = "X1-AA"
    state.nav.waypoint_symbol = "X1-AA-A1"
    state.nav.status = status
    state.nav.flight_mode = "CRUISE"
    state.mounts.symbols.extend(["MOUNT_MINING_LASER_I"])
    return state


def sale(agent: str, ship: str, total: int, at: datetime) -> events_pb2.Transaction:
    """A sale of ore by `ship` while mining."""
    tx = events_pb2.Transaction(
        event_id=str(uuid.uuid4()),
        agent=agent,
        ship_symbol=ship,
        waypoint_symbol="X1-AA-A1",
        kind=events_pb2.TRANSACTION_KIND_SELL,
        trade_symbol="IRON_ORE",
        units=10,
        price_per_unit=total // 10,
        total_price=total,
        behaviour="mine",
    )
    tx.timestamp.FromDatetime(at)
    return tx


def call(agent: str, ship: str, at: datetime, queued_ms: float) -> events_pb2.RequestLog:
    """An extraction call the gateway logged."""
    log = events_pb2.RequestLog(
        event_id=str(uuid.uuid4()),
        agent=agent,
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
    log.timestamp.FromDatetime(at)
    return log


def agent_state(symbol: str, credits: int) -> events_pb2.AgentState:
    """The agent's state."""
    agent = events_pb2.AgentState(
        event_id=str(uuid.uuid4()),
        symbol=symbol,
        credits=credits,
        headquarters="X1-AA-A1",
        starting_faction="COSMIC",
        ship_count=2,
    )
    agent.observed_at.FromDatetime(datetime.now(UTC) - timedelta(minutes=1))
    return agent


async def write_rows(url: str, messages: Sequence[Any]) -> None:
    """Write events to the database through the persister's writer."""
    batch = coalesce_batch(decode_event(SUBJECTS[type(m)], m.SerializeToString()) for m in messages)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await BatchWriter().write(conn, batch)


# --- the stack ------------------------------------------------------------------------------


@dataclass
class ApiStack:
    """A running conductor (with its API) over the simulator and a gateway."""

    database_url: str
    running: RunningService[Any, Any]
    base_url: str  # the API's root, e.g. http://127.0.0.1:43123

    @property
    def conductor(self) -> Any:
        """The `conductor.core.Conductor`."""
        return self.running.exposed["conductor"]

    @property
    def saturation(self) -> Any:
        """The `conductor.saturation.SaturationLoop`."""
        return self.running.exposed["saturation"]

    @property
    def agent(self) -> str:
        """The simulator's agent the conductor conducts."""
        return str(self.conductor.agent)

    def ships(self) -> list[str]:
        """The fleet's ship symbols as the conductor sees them."""
        return sorted(self.conductor.view.ships())


@contextlib.asynccontextmanager
async def api_stack(
    nats_url: str, database_url: str, *, plan: str = "roles: []\n", **more: Any
) -> AsyncIterator[ApiStack]:
    """The simulator (rate limit off), a gateway against it, and a conductor with its API on a
    free port and `API_TOKEN`, started once it knows the agent and its fleet."""
    from conductor.declaration import SERVICE as CONDUCTOR
    from conductor.settings import ConductorSettings
    from gateway.declaration import SERVICE as GATEWAY
    from gateway.settings import GatewaySettings
    from simulator.config import RateLimitSection, SimulatorConfig
    from simulator.server import running_simulator_async

    config = SimulatorConfig(time_scale=20, rate_limit=RateLimitSection(enabled=False))
    with tempfile.TemporaryDirectory(prefix="flotilla-conductor-api-") as folder:
        plan_file = Path(folder) / "plan.yaml"
        plan_file.write_text(plan)
        async with running_simulator_async(config) as simulator_url:
            gateway_settings = load_settings(
                GatewaySettings,
                nats_url=nats_url,
                probes={"port": "off"},
                spacetraders={"base_url": simulator_url},
            )
            async with open_service(GATEWAY, gateway_settings) as gateway:
                await _eventually(lambda: "service" in gateway.exposed, 30, "the gateway")
                settings = load_settings(
                    ConductorSettings,
                    nats_url=nats_url,
                    database={"url": database_url},
                    probes={"port": "off"},
                    plan={"initial_file": str(plan_file)},
                    api={"host": "127.0.0.1", "port": 0, "token": API_TOKEN},
                    **{**FAST, **more},
                )
                async with open_service(CONDUCTOR, settings) as running:
                    await _eventually(
                        lambda: "api_url" in running.exposed, 30, "the conductor's API"
                    )
                    stack = ApiStack(database_url, running, running.exposed["api_url"])
                    await _eventually(
                        lambda: stack.conductor.agent and len(stack.ships()) >= 2,
                        60,
                        "the conductor knowing the agent and its fleet",
                    )
                    yield stack


@pytest.fixture
def open_api_stack(nats_url: str, migrated_url: str) -> Callable[..., Any]:
    """`async with open_api_stack(plan=…, **settings) as stack:` (see `api_stack`)."""
    return lambda **kwargs: api_stack(nats_url, migrated_url, **kwargs)


@pytest.fixture
async def stack(nats_url: str, migrated_url: str) -> AsyncIterator[ApiStack]:
    """The API's stack with an empty plan, and rows of its fleet in the database: the agent's
    state; both its ships' states (the first in orbit, the second docked, both mining); sales of
    1,000 (50 minutes ago) and 2,000 (20 minutes ago) by the first ship and 600 (10 minutes ago)
    by the second; calls of the first ship 40, 30 and 5 minutes ago (250 ms queued) and of the
    second 5 minutes ago (750 ms)."""
    async with api_stack(nats_url, migrated_url) as running:
        agent = running.agent
        first, second = running.ships()[:2]
        now = datetime.now(UTC)
        ago = [now - timedelta(minutes=m) for m in (50, 40, 30, 20, 10, 5)]
        await write_rows(
            migrated_url,
            [
                agent_state(agent, 175_000),
                ship_state(agent, first, "IN_ORBIT", "mine"),
                ship_state(agent, second, "DOCKED", "mine"),
                sale(agent, first, 1_000, ago[0]),
                sale(agent, first, 2_000, ago[3]),
                sale(agent, second, 600, ago[4]),
                call(agent, first, ago[1], 250.0),
                call(agent, first, ago[2], 250.0),
                call(agent, first, ago[5], 250.0),
                call(agent, second, ago[5], 750.0),
            ],
        )
        yield running
