"""Fixtures for the persister's tests: event builders, migrated databases, a persister started
through the service kit (`flotilla.kit.open_service`, as in production), publishing to
JetStream, and table dumps to compare final states.

Helpers are handed out as fixtures (the tests run with --import-mode=importlib, where a
conftest is not importable by name).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

import nats
import psycopg
import pytest

from flotilla import names
from flotilla.clock import Clock, SystemClock
from flotilla.db import migrate
from flotilla.kit import RunningService, open_service
from flotilla.topology import ensure_topology
from flotilla.v1 import api_pb2, events_pb2
from persister.coalesce import coalesce_batch
from persister.contract import decode_event
from persister.declaration import SERVICE
from persister.metrics import PersisterMetrics
from persister.service import Persister
from persister.settings import PersisterSettings
from persister.writes import BatchWriter

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)

# Every table the writer fills, with an ORDER BY that makes a dump deterministic.
TABLES = {
    "agents": "symbol",
    "systems": "symbol",
    "waypoints": "symbol",
    "ships": "symbol",
    "markets": "waypoint_symbol",
    "market_trade_goods": "waypoint_symbol, symbol",
    "shipyards": "waypoint_symbol",
    "shipyard_ships": "waypoint_symbol, ship_type",
    "transactions": "event_id",
    "extractions": "event_id",
    "request_log": "event_id",
    "credit_minutes": "minute, agent, ship_symbol, behaviour, kind",
    "request_minutes": "minute, agent, priority",
    "surveys": "signature",
}


class Outgoing(NamedTuple):
    """One event as a publisher sends it."""

    subject: str
    payload: bytes
    event_id: str


def _stamp(ts: Any, at: datetime) -> None:
    ts.FromDatetime(at)


class EventFactory:
    """Builds wire events with deterministic UUIDs (from `seed`) and times (from T0)."""

    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)

    def event_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def ship(
        self,
        symbol: str,
        version: int,
        *,
        at: datetime = T0,
        agent: str = "AGENT",
        nav: dict[str, Any] | None = None,
        fuel: tuple[int, int] | None = None,
        cargo: list[tuple[str, int]] | None = None,
        cargo_capacity: int = 40,
        cooldown: datetime | None = None,
        mounts: list[str] | None = None,
        role: str | None = None,
        frame: str | None = None,
        behaviour: str = "",
    ) -> Outgoing:
        m = events_pb2.ShipState(
            event_id=self.event_id(),
            agent=agent,
            ship_symbol=symbol,
            version=version,
            behaviour=behaviour,
        )
        _stamp(m.observed_at, at)
        if nav is not None:
            m.changed.append("nav")
            waypoint = nav["waypoint"]
            m.nav.waypoint_symbol = waypoint
            m.nav.system_symbol = waypoint.rpartition("-")[0]
            m.nav.status = nav.get("status", "IN_ORBIT")
            m.nav.flight_mode = nav.get("flight_mode", "CRUISE")
            if "destination" in nav:
                dest = nav["destination"]
                m.nav.destination.symbol = dest
                m.nav.destination.system_symbol = dest.rpartition("-")[0]
                m.nav.destination.type = nav.get("destination_type", "ASTEROID")
                m.nav.destination.x, m.nav.destination.y = nav.get("xy", (3, 4))
            if "arrival" in nav:
                _stamp(m.nav.arrival, nav["arrival"])
                _stamp(m.nav.departure_time, at)
        if fuel is not None:
            m.changed.append("fuel")
            m.fuel.current, m.fuel.capacity = fuel
        if cargo is not None:
            m.changed.append("cargo")
            m.cargo.capacity = cargo_capacity
            m.cargo.units = sum(units for _, units in cargo)
            for symbol_, units in cargo:
                m.cargo.inventory.add(symbol=symbol_, units=units)
        if cooldown is not None:
            m.changed.append("cooldown")
            m.cooldown.total_seconds = 70
            _stamp(m.cooldown.expiration, cooldown)
        if mounts is not None:
            m.changed.append("mounts")
            m.mounts.symbols.extend(mounts)
        if role is not None:
            m.changed.append("role")
            m.role = role
        if frame is not None:
            m.changed.append("frame")
            m.frame = frame
        return Outgoing(names.SHIP_STATE_SUBJECT, m.SerializeToString(), m.event_id)

    def market(
        self,
        waypoint: str,
        *,
        at: datetime = T0,
        goods: Sequence[tuple[str, int, int]] = (),
        exports: Sequence[str] = (),
    ) -> Outgoing:
        m = events_pb2.MarketObservation(
            event_id=self.event_id(),
            waypoint_symbol=waypoint,
            system_symbol=waypoint.rpartition("-")[0],
            exports=list(exports),
        )
        _stamp(m.observed_at, at)
        for symbol, purchase, sell in goods:
            m.goods.add(
                symbol=symbol,
                type="EXPORT",
                trade_volume=60,
                supply="MODERATE",
                activity="GROWING",
                purchase_price=purchase,
                sell_price=sell,
            )
        return Outgoing(names.MARKET_SUBJECT, m.SerializeToString(), m.event_id)

    def shipyard(
        self, waypoint: str, *, at: datetime = T0, prices: Sequence[tuple[str, int]] = ()
    ) -> Outgoing:
        m = events_pb2.ShipyardObservation(
            event_id=self.event_id(),
            waypoint_symbol=waypoint,
            ship_types=[t for t, _ in prices],
            modifications_fee=100,
        )
        _stamp(m.observed_at, at)
        for ship_type, price in prices:
            m.ships.add(ship_type=ship_type, purchase_price=price)
        return Outgoing(names.SHIPYARD_SUBJECT, m.SerializeToString(), m.event_id)

    def transaction(
        self,
        kind: int,
        total: int,
        *,
        at: datetime = T0,
        ship: str = "",
        behaviour: str = "",
        agent: str = "AGENT",
        units: int = 1,
    ) -> Outgoing:
        m = events_pb2.Transaction(
            event_id=self.event_id(),
            agent=agent,
            ship_symbol=ship,
            waypoint_symbol="X1-AA-A1",
            kind=kind,  # type: ignore[arg-type]
            trade_symbol="IRON_ORE",
            units=units,
            price_per_unit=total // max(units, 1),
            total_price=total,
            behaviour=behaviour,
        )
        _stamp(m.timestamp, at)
        return Outgoing(names.TRANSACTION_SUBJECT, m.SerializeToString(), m.event_id)

    def extraction(self, ship: str, units: int, *, at: datetime = T0) -> Outgoing:
        m = events_pb2.Extraction(
            event_id=self.event_id(),
            agent="AGENT",
            ship_symbol=ship,
            waypoint_symbol="X1-AA-B2",
            trade_symbol="IRON_ORE",
            units=units,
        )
        _stamp(m.timestamp, at)
        return Outgoing(names.EXTRACTION_SUBJECT, m.SerializeToString(), m.event_id)

    def agent(self, credits: int, *, at: datetime = T0, symbol: str = "AGENT") -> Outgoing:
        m = events_pb2.AgentState(
            event_id=self.event_id(),
            symbol=symbol,
            credits=credits,
            headquarters="X1-AA-A1",
            starting_faction="COSMIC",
            ship_count=2,
        )
        _stamp(m.observed_at, at)
        return Outgoing(names.AGENT_SUBJECT, m.SerializeToString(), m.event_id)

    def request(
        self,
        *,
        at: datetime = T0,
        priority: int = api_pb2.PRIORITY_CLASS_COOLDOWN_START,
        status: int = 201,
        queued_ms: float = 0.0,
        wire_ms: float = 100.0,
        attempts: int = 1,
        outcome: int = api_pb2.CALL_OUTCOME_COMPLETED,
        agent: str = "AGENT",
        call_id: str = "",
        node: str = "",
        fence_token: int = 0,
    ) -> Outgoing:
        m = events_pb2.RequestLog(
            event_id=self.event_id(),
            call_id=call_id,
            node=node,
            fence_token=fence_token,
            agent=agent,
            ship_symbol="AGENT-1",
            endpoint="/my/ships/{shipSymbol}/extract",
            method="POST",
            priority=priority,  # type: ignore[arg-type]
            status=status,
            queued_ms=queued_ms,
            wire_ms=wire_ms,
            attempts=attempts,
            outcome=outcome,  # type: ignore[arg-type]
        )
        _stamp(m.timestamp, at)
        return Outgoing(names.REQUEST_LOG_SUBJECT, m.SerializeToString(), m.event_id)

    def survey(
        self,
        signature: str,
        waypoint: str = "X1-AA-W0",
        *,
        at: datetime = T0,
        deposits: Sequence[str] = ("IRON_ORE", "COPPER_ORE"),
        size: str = "SMALL",
        ship: str = "AGENT-1",
    ) -> Outgoing:
        m = events_pb2.SurveyObservation(
            event_id=self.event_id(),
            agent="AGENT",
            ship_symbol=ship,
            waypoint_symbol=waypoint,
            signature=signature,
            size=size,
        )
        for symbol in deposits:
            m.deposits.add(symbol=symbol)
        _stamp(m.expiration, at + timedelta(minutes=30))
        _stamp(m.observed_at, at)
        return Outgoing(names.SURVEY_SUBJECT, m.SerializeToString(), m.event_id)

    def waypoint(
        self,
        symbol: str,
        *,
        at: datetime = T0,
        type: str = "ASTEROID",
        xy: tuple[int, int] = (3, 4),
        traits: Sequence[str] = ("COMMON_METAL_DEPOSITS",),
        orbits: str = "",
        charted: bool = True,
    ) -> Outgoing:
        m = events_pb2.WaypointObservation(
            event_id=self.event_id(),
            waypoint_symbol=symbol,
            system_symbol=symbol.rpartition("-")[0],
            type=type,
            x=xy[0],
            y=xy[1],
            traits=list(traits),
            orbits=orbits,
            charted=charted,
            observed_by="AGENT-1",
        )
        _stamp(m.observed_at, at)
        return Outgoing(names.WAYPOINT_SUBJECT, m.SerializeToString(), m.event_id)

    def mixed(self, count: int, *, ships: int = 12) -> list[Outgoing]:
        """A realistic mix of every event type, with many versions per ship and repeated
        observations of the same markets (some at the same instant)."""
        rng = self.rng
        versions = [0] * ships
        waypoints = [f"X1-AA-W{n}" for n in range(4)]
        out: list[Outgoing] = []
        for i in range(count):
            at = T0 + timedelta(seconds=7 * i)
            roll = rng.random()
            if roll < 0.55:
                n = rng.randrange(ships)
                versions[n] += 1
                parts: dict[str, Any] = {}
                for part in rng.sample(["nav", "fuel", "cargo", "cooldown", "mounts"], 2):
                    if part == "nav":
                        parts["nav"] = {
                            "waypoint": rng.choice(waypoints),
                            "destination": rng.choice(waypoints),
                            "status": rng.choice(["IN_ORBIT", "IN_TRANSIT", "DOCKED"]),
                            "arrival": at + timedelta(seconds=rng.randrange(30, 300)),
                        }
                    elif part == "fuel":
                        parts["fuel"] = (rng.randrange(400), 400)
                    elif part == "cargo":
                        parts["cargo"] = [("IRON_ORE", rng.randrange(1, 20))]
                    elif part == "cooldown":
                        parts["cooldown"] = at + timedelta(seconds=70)
                    else:
                        parts["mounts"] = rng.sample(["MOUNT_A", "MOUNT_B", "MOUNT_C"], 2)
                out.append(
                    self.ship(
                        f"AGENT-{n + 1}",
                        versions[n],
                        at=at,
                        behaviour=rng.choice(["", "mine", "haul"]),
                        **parts,
                    )
                )
            elif roll < 0.75:
                out.append(
                    self.request(
                        at=at,
                        priority=rng.randrange(1, 5),
                        status=rng.choice([200, 201, 429]),
                        queued_ms=rng.uniform(0, 500),
                        wire_ms=rng.uniform(50, 300),
                    )
                )
            elif roll < 0.83:
                # Observation times repeat, so that ties are broken by the event UUID.
                seen = T0 + timedelta(seconds=60 * rng.randrange(count // 10 + 1))
                goods = [("IRON_ORE", rng.randrange(10, 90), rng.randrange(10, 90))]
                goods.append(("COPPER_ORE", rng.randrange(10, 90), rng.randrange(10, 90)))
                out.append(self.market(rng.choice(waypoints), at=seen, goods=goods))
            elif roll < 0.86:
                seen = T0 + timedelta(seconds=60 * rng.randrange(count // 10 + 1))
                prices = [("SHIP_PROBE", rng.randrange(20_000, 30_000))]
                out.append(self.shipyard(rng.choice(waypoints), at=seen, prices=prices))
            elif roll < 0.94:
                kind = rng.choice([1, 1, 2, 3, 4, 6])
                ship = f"AGENT-{rng.randrange(ships) + 1}"
                out.append(
                    self.transaction(
                        kind, rng.randrange(10, 5000), at=at, ship=ship, behaviour="mine"
                    )
                )
            elif roll < 0.98:
                out.append(self.extraction(f"AGENT-{rng.randrange(ships) + 1}", 5, at=at))
            else:
                out.append(self.agent(rng.randrange(10**6), at=at))
        # The world view: each waypoint observed a few times (traits change, it gets charted;
        # type and coordinates are the ones the routes give), and surveys, some seen twice.
        for i in range(max(1, count // 50)):
            at = T0 + timedelta(seconds=11 * i)
            traits = rng.sample(["MARKETPLACE", "SHIPYARD", "COMMON_METAL_DEPOSITS"], 2)
            charted = rng.random() < 0.5
            out.append(self.waypoint(rng.choice(waypoints), at=at, traits=traits, charted=charted))
            signature = f"X1-AA-W0-SIG{rng.randrange(count // 100 + 1)}"
            out.append(self.survey(signature, at=T0))
        return out


@pytest.fixture
def events() -> EventFactory:
    return EventFactory()


def _with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


@pytest.fixture
def migrated_url(database_url: str) -> str:
    """A fresh database with the schema at head."""
    migrate.upgrade(database_url)
    return database_url


@pytest.fixture
def reference_url(postgres_url: str) -> Iterator[str]:
    """A second fresh, migrated database, for the expected state."""
    name = f"ref_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(postgres_url, name)
    try:
        migrate.upgrade(url)
        yield url
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _merged(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        known = out.get(key)
        out[key] = _merged(known, value) if isinstance(known, Mapping) else value
    return out


def settings_for_tests(nats_url: str, database_url: str, **overrides: Any) -> PersisterSettings:
    """Settings sized for tests; `overrides` are merged section by section, e.g.
    `batch={"size": 37}` keeps the other batch settings."""
    values: dict[str, Any] = {
        "nats_url": nats_url,
        "database": {"url": database_url},
        "batch": {"size": 100, "max_wait_seconds": 0.1},
        "consumer": {"ack_wait_seconds": 3.0},
        "retry": {"base_seconds": 0.05, "max_seconds": 0.5},
        "pool": {"timeout_seconds": 2.0},
        "probes": {"host": "127.0.0.1", "port": 0},
        "shutdown_grace_seconds": 5.0,
    }
    return PersisterSettings(**_merged(values, overrides))


@pytest.fixture
def make_settings() -> Callable[..., PersisterSettings]:
    """`make_settings(nats_url, database_url, **overrides)`: settings sized for tests."""
    return settings_for_tests


@dataclass
class RunningPersister:
    """A persister started by the kit, with what tests look at."""

    service: RunningService[PersisterSettings, PersisterMetrics]

    @property
    def persister(self) -> Persister:
        """The core object the body runs (its stats, its readiness state)."""
        persister: Persister = self.service.exposed["persister"]
        return persister

    @property
    def task(self) -> asyncio.Task[None]:
        """The service's task: it ends when the body returns or fails."""
        return self.service.task

    @property
    def probe_url(self) -> str:
        """`http://127.0.0.1:<port>` of its probes and metrics."""
        assert self.service.probe_url is not None
        return self.service.probe_url

    def sample(self, name: str, **labels: str) -> float:
        """The current value of one metric sample (0 when it has none yet)."""
        value = self.service.ctx.registry.registry.get_sample_value(name, labels or None)
        return float(value or 0.0)


@asynccontextmanager
async def running_persister(
    settings: PersisterSettings,
    *,
    clock: Clock | None = None,
    seams: Mapping[str, Any] | None = None,
) -> AsyncIterator[RunningPersister]:
    """The persister's declaration run by `flotilla.kit.open_service` in this event loop,
    until its body has built the persister; drained on exit as on SIGTERM."""
    async with open_service(SERVICE, settings, clock=clock or SystemClock(), seams=seams) as svc:
        running = RunningPersister(svc)
        await wait_until(
            lambda: "persister" in svc.exposed or svc.task.done(),
            within=30,
            what="the persister body to start",
        )
        yield running


@pytest.fixture
def start_persister() -> Callable[..., Any]:
    """`async with start_persister(settings, clock=..., seams=...) as running:`."""
    return running_persister


async def publish_events(
    nats_url: str, outgoing: Sequence[Outgoing], *, msg_id: bool = True
) -> None:
    """Publish `outgoing` in order; with `msg_id`, Nats-Msg-Id is the event UUID (as services
    do, so JetStream drops a publisher's retry); without it, duplicates are stored twice."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await ensure_topology(js)
        for out in outgoing:
            headers = {"Nats-Msg-Id": out.event_id} if msg_id else None
            await js.publish(out.subject, out.payload, headers=headers)
    finally:
        await nc.close()


@pytest.fixture
def publish() -> Callable[..., Awaitable[None]]:
    """`await publish(nats_url, outgoing, msg_id=True)`."""
    return publish_events


Condition = Callable[[], Awaitable[bool]] | Callable[[], bool]


async def _holds(condition: Condition) -> bool:
    result = condition()
    if asyncio.iscoroutine(result):
        result = await result
    return bool(result)


async def wait_until(
    condition: Condition,
    *,
    within: float = 30.0,
    interval: float = 0.05,
    what: str = "condition",
) -> None:
    """Poll `condition` until it is true; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while not await _holds(condition):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(interval)


async def stays_true(
    condition: Condition, *, for_seconds: float, interval: float = 0.5, what: str = "condition"
) -> None:
    """Check `condition` every `interval` for `for_seconds`; fail the first time it is false."""
    ends = time.monotonic() + for_seconds
    while time.monotonic() < ends:
        if not await _holds(condition):
            raise AssertionError(f"{what} stopped holding")
        await asyncio.sleep(interval)


@pytest.fixture
def eventually() -> Callable[..., Awaitable[None]]:
    """`await eventually(condition, within=..., what=...)`: poll until true."""
    return wait_until


@pytest.fixture
def throughout() -> Callable[..., Awaitable[None]]:
    """`await throughout(condition, for_seconds=..., what=...)`: true at every check."""
    return stays_true


async def dump_tables(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table the writer fills, in key order."""
    async with await psycopg.AsyncConnection.connect(url) as conn:
        dump = {}
        for table, order in TABLES.items():
            cur = await conn.execute(f"SELECT * FROM {table} ORDER BY {order}")
            dump[table] = await cur.fetchall()
        return dump


@pytest.fixture
def dump() -> Callable[[str], Awaitable[dict[str, list[tuple[Any, ...]]]]]:
    return dump_tables


async def write_directly(url: str, outgoing: Sequence[Outgoing]) -> None:
    """Write `outgoing` as one batch with the writer alone (no NATS): the expected state."""
    batch = coalesce_batch(decode_event(o.subject, o.payload) for o in outgoing)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await BatchWriter().write(conn, batch)


@pytest.fixture
def write_reference() -> Callable[[str, Sequence[Outgoing]], Awaitable[None]]:
    return write_directly


async def count_rows(url: str, table: str) -> int:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute(f"SELECT count(*) FROM {table}")
        row = await cur.fetchone()
        assert row is not None
        return int(row[0])


@pytest.fixture
def rows_in() -> Callable[[str, str], Awaitable[int]]:
    """`await rows_in(url, table)`: the table's row count."""
    return count_rows


async def consumer_drained(nats_url: str) -> bool:
    """True when the persister consumer has delivered and had acked every event."""
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().consumer_info(names.EVENTS_STREAM, names.PERSISTER_CONSUMER)
        return bool(info.num_pending == 0 and info.num_ack_pending == 0)
    except nats.js.errors.NotFoundError:
        return False  # the persister has not created its consumer yet
    finally:
        await nc.close()


@pytest.fixture
def drained() -> Callable[[str], Awaitable[bool]]:
    """`await drained(nats_url)`: every event delivered and acked."""
    return consumer_drained
