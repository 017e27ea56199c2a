"""Persister benchmark: 200,000 synthetic events through JetStream into PostgreSQL, against the
operator's baseline (one SQLModel session, full-row upsert and commit per event), in one run.

Run: `.venv/bin/python bench/persister.py` (or `make bench`). It starts its own NATS and
PostgreSQL (durable, fsync on, for both sides) in a temporary directory and prints a table.

Workload (seeded, deterministic): ≈70% ship state changes over 1,000 ships (each changes one or
two parts: nav, fuel, cargo, cooldown), 20% request-log events, 10% market observations (eight
goods each, 50 markets) and transactions. Publishers set Nats-Msg-Id to the event UUID, as the
services do.

Three measurements:
1. the persister drains a stream that already holds the 200,000 events (fetch, decode,
   coalesce, write, ack: JetStream to PostgreSQL);
2. the persister runs while another process publishes a second set of 200,000 events (the clock
   runs from the first publish to the last ack; on a small machine the publisher competes for
   the same cores);
3. the baseline writes a sample of the first set (`--baseline-events`); its rate per event does
   not depend on the size of the set.
`--check` exits 1 unless run 1 reaches 20,000 events/s and 10× the baseline.

The persister runs from its declaration through `flotilla.kit.open_service`, exactly as
`flotilla persister` runs it (probes off).
"""

from __future__ import annotations

import sys
from pathlib import Path

# This script is named like the package it measures; Python puts the script's folder first on
# the import path, where `persister` would resolve to this file. Keep that folder off it.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import contextlib  # noqa: E402
import multiprocessing  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from typing import Any  # noqa: E402

import nats  # noqa: E402
import psycopg  # noqa: E402
from sqlalchemy import create_engine, event  # noqa: E402
from sqlmodel import Session  # noqa: E402

from flotilla import names  # noqa: E402
from flotilla.clock import SystemClock  # noqa: E402
from flotilla.db import migrate, schema  # noqa: E402
from flotilla.db.urls import sqlalchemy_url  # noqa: E402
from flotilla.kit import open_service  # noqa: E402
from flotilla.local_servers import NatsServer, PostgresServer  # noqa: E402
from flotilla.semconv import (  # noqa: E402
    BACKGROUND,
    COOLDOWN_START,
    FLEET,
    SHIP_UNBLOCK,
    outcome_name,
    priority_name,
    transaction_kind_name,
)
from flotilla.settings import DatabaseSection, ProbeSection  # noqa: E402
from flotilla.timestamps import to_datetime  # noqa: E402
from flotilla.topology import ensure_topology  # noqa: E402
from flotilla.v1 import api_pb2, events_pb2  # noqa: E402
from persister.contract import decode_event, optional_datetime  # noqa: E402
from persister.declaration import SERVICE  # noqa: E402
from persister.service import Persister  # noqa: E402
from persister.settings import BatchSection, PersisterSettings  # noqa: E402

SHIPS = 1000
MARKETS = 50
GOODS = [
    "IRON_ORE",
    "COPPER_ORE",
    "ALUMINUM_ORE",
    "SILICON_CRYSTALS",
    "QUARTZ_SAND",
    "ICE_WATER",
    "AMMONIA_ICE",
    "PRECIOUS_STONES",
]
START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
SELL = events_pb2.TRANSACTION_KIND_SELL
PURCHASE = events_pb2.TRANSACTION_KIND_PURCHASE
FUEL = events_pb2.TRANSACTION_KIND_FUEL


@dataclass
class Workload:
    messages: list[tuple[str, bytes]]
    event_ids: list[str]
    kinds: Counter[str]


def _stamp(ts: Any, at: datetime) -> None:
    ts.FromDatetime(at)


def generate(total: int, seed: int = 7) -> Workload:
    """The synthetic event set: (subject, payload) in publish order."""
    rng = random.Random(seed)
    versions = [0] * SHIPS
    messages: list[tuple[str, bytes]] = []
    event_ids: list[str] = []
    kinds: Counter[str] = Counter()
    waypoints = [f"X1-BN{m // 10}-{m:04d}Z" for m in range(MARKETS)]
    for i in range(total):
        at = START + timedelta(milliseconds=5 * i)
        event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        event_ids.append(event_id)
        roll = rng.random()
        if roll < 0.70:
            n = rng.randrange(SHIPS)
            versions[n] += 1
            state = events_pb2.ShipState(
                event_id=event_id,
                agent="BENCH",
                ship_symbol=f"BENCH-{n + 1:X}",
                version=versions[n],
                behaviour="mine" if n % 3 else "haul",
            )
            _stamp(state.observed_at, at)
            for part in rng.sample(["nav", "fuel", "cargo", "cooldown"], rng.choice([1, 1, 2])):
                state.changed.append(part)
                if part == "nav":
                    nav = state.nav
                    wp = rng.choice(waypoints)
                    nav.system_symbol = wp.rpartition("-")[0]
                    nav.waypoint_symbol = wp
                    nav.status = rng.choice(["IN_ORBIT", "DOCKED", "IN_TRANSIT"])
                    nav.flight_mode = "CRUISE"
                    nav.destination.symbol = wp
                    nav.destination.system_symbol = nav.system_symbol
                    nav.destination.type = "ASTEROID"
                    nav.destination.x = rng.randrange(-500, 500)
                    nav.destination.y = rng.randrange(-500, 500)
                    _stamp(nav.departure_time, at)
                    _stamp(nav.arrival, at + timedelta(seconds=rng.randrange(10, 200)))
                elif part == "fuel":
                    state.fuel.current = rng.randrange(0, 400)
                    state.fuel.capacity = 400
                elif part == "cargo":
                    state.cargo.capacity = 30
                    units = rng.randrange(0, 31)
                    state.cargo.units = units
                    if units:
                        state.cargo.inventory.add(symbol=rng.choice(GOODS), units=units)
                else:
                    state.cooldown.total_seconds = 70
                    _stamp(state.cooldown.expiration, at + timedelta(seconds=70))
            messages.append((names.SHIP_STATE_SUBJECT, state.SerializeToString()))
            kinds["ship"] += 1
        elif roll < 0.90:
            request = events_pb2.RequestLog(
                event_id=event_id,
                agent="BENCH",
                ship_symbol=f"BENCH-{rng.randrange(SHIPS) + 1:X}",
                endpoint="/my/ships/{shipSymbol}/extract",
                method="POST",
                priority=rng.choice(
                    [COOLDOWN_START, COOLDOWN_START, SHIP_UNBLOCK, FLEET, BACKGROUND]
                ),
                status=rng.choice([201, 201, 201, 200, 429]),
                attempts=1,
                queued_ms=rng.uniform(0, 2000),
                wire_ms=rng.uniform(80, 400),
                outcome=api_pb2.CALL_OUTCOME_COMPLETED,
            )
            _stamp(request.timestamp, at)
            messages.append((names.REQUEST_LOG_SUBJECT, request.SerializeToString()))
            kinds["request"] += 1
        elif roll < 0.95:
            wp = rng.choice(waypoints)
            market = events_pb2.MarketObservation(
                event_id=event_id,
                waypoint_symbol=wp,
                system_symbol=wp.rpartition("-")[0],
                exports=GOODS[:4],
                imports=GOODS[4:],
            )
            _stamp(market.observed_at, at)
            for good in GOODS:
                price = rng.randrange(20, 200)
                market.goods.add(
                    symbol=good,
                    type="EXPORT",
                    trade_volume=60,
                    supply=rng.choice(["SCARCE", "LIMITED", "MODERATE", "HIGH", "ABUNDANT"]),
                    activity="STRONG",
                    purchase_price=price + 4,
                    sell_price=price,
                )
            messages.append((names.MARKET_SUBJECT, market.SerializeToString()))
            kinds["market"] += 1
        else:
            units = rng.randrange(1, 31)
            price = rng.randrange(20, 200)
            n = rng.randrange(SHIPS)
            transaction = events_pb2.Transaction(
                event_id=event_id,
                agent="BENCH",
                ship_symbol=f"BENCH-{n + 1:X}",
                waypoint_symbol=rng.choice(waypoints),
                kind=rng.choice([SELL, SELL, SELL, PURCHASE, FUEL]),
                trade_symbol=rng.choice(GOODS),
                units=units,
                price_per_unit=price,
                total_price=units * price,
                behaviour="mine" if n % 3 else "haul",
            )
            _stamp(transaction.timestamp, at)
            messages.append((names.TRANSACTION_SUBJECT, transaction.SerializeToString()))
            kinds["transaction"] += 1
    return Workload(messages, event_ids, kinds)


async def publish(url: str, workload: Workload) -> float:
    """Publish every event with Nats-Msg-Id = its UUID, as the services do; returns seconds."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await ensure_topology(js)
        started = time.perf_counter()
        window: list[asyncio.Future[Any]] = []
        for (subject, payload), event_id in zip(workload.messages, workload.event_ids, strict=True):
            window.append(
                await js.publish_async(subject, payload, headers={"Nats-Msg-Id": event_id})
            )
            if len(window) >= 4000:
                await asyncio.gather(*window)
                window.clear()
        await asyncio.gather(*window)
        return time.perf_counter() - started
    finally:
        await nc.close()


@dataclass
class Result:
    events: int
    seconds: float
    statements: int
    rows: int

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    @property
    def statements_per_1000(self) -> float:
        return 1000 * self.statements / self.events


async def drain(
    nats_url: str,
    database_url: str,
    total: int,
    args: argparse.Namespace,
    *,
    publisher: PublisherProcess | None = None,
) -> Result:
    """Run one persister until `total` events are committed and acked.

    With a `publisher` (another process, like the services that publish events) the
    persister starts first and the clock runs from the moment publishing starts (end to end);
    otherwise the stream already holds the events and the clock runs from the persister's start.
    """
    settings = PersisterSettings(
        nats_url=nats_url,
        database=DatabaseSection(url=database_url),
        batch=BatchSection(
            size=args.batch_size, max_wait_seconds=0.2, concurrency=args.concurrency
        ),
        probes=ProbeSection(port="off"),
    )
    async with open_service(SERVICE, settings, clock=SystemClock()) as running:
        if publisher is not None:
            publisher.start_publishing()
        started = time.perf_counter()
        deadline = started + 240
        persister: Persister | None = None
        while persister is None or persister.stats.acked + persister.stats.dead_letters < total:
            if running.task.done():
                running.task.result()
                raise RuntimeError("the persister stopped early")
            if time.perf_counter() > deadline:
                raise RuntimeError(f"not drained in time: {persister and persister.stats}")
            await asyncio.sleep(0.01)
            persister = running.exposed.get("persister")
        seconds = time.perf_counter() - started
    stats = persister.stats
    return Result(total, seconds, stats.statements, sum(stats.rows.values()))


def _publisher_main(url: str, events: int, seed: int, go: Any, done: Any) -> None:
    workload = generate(events, seed=seed)
    go.wait()
    asyncio.run(publish(url, workload))
    done.set()


class PublisherProcess:
    """Publishes a generated workload from a separate process (as dispatchers and the gateway
    do), so that publishing and persisting do not share one event loop."""

    def __init__(self, url: str, events: int, seed: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.go = context.Event()
        self.done = context.Event()
        self.process = context.Process(
            target=_publisher_main, args=(url, events, seed, self.go, self.done), daemon=True
        )
        self.process.start()

    def start_publishing(self) -> None:
        self.go.set()

    def join(self) -> None:
        self.process.join(60)
        if self.process.exitcode != 0:
            raise RuntimeError(f"the publisher process failed ({self.process.exitcode})")


async def reset_stream(url: str) -> None:
    """Empty the events stream and drop the consumer, for the second run."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.delete_consumer(names.EVENTS_STREAM, names.PERSISTER_CONSUMER)
        await js.purge_stream(names.EVENTS_STREAM)
    finally:
        await nc.close()


class FullShip:
    """The baseline's in-memory ship: every field, written whole on every event."""

    def __init__(self, symbol: str, agent: str) -> None:
        self.fields: dict[str, Any] = {"symbol": symbol, "agent": agent}

    def apply(self, s: events_pb2.ShipState) -> schema.Ship:
        f = self.fields
        f["version"] = s.version
        f["updated_at"] = to_datetime(s.observed_at)
        f["behaviour"] = s.behaviour or f.get("behaviour")
        if "nav" in s.changed:
            n = s.nav
            f.update(
                nav_system_symbol=n.system_symbol,
                nav_waypoint_symbol=n.waypoint_symbol,
                nav_status=n.status,
                nav_flight_mode=n.flight_mode,
                nav_destination_symbol=n.destination.symbol,
                nav_departure_time=optional_datetime(n, "departure_time"),
                nav_arrival=optional_datetime(n, "arrival"),
            )
        if "fuel" in s.changed:
            f.update(fuel_current=s.fuel.current, fuel_capacity=s.fuel.capacity)
        if "cargo" in s.changed:
            f.update(
                cargo_capacity=s.cargo.capacity,
                cargo_units=s.cargo.units,
                cargo_inventory=[{"symbol": i.symbol, "units": i.units} for i in s.cargo.inventory],
            )
        if "cooldown" in s.changed:
            f.update(
                cooldown_total_seconds=s.cooldown.total_seconds,
                cooldown_expiration=optional_datetime(s.cooldown, "expiration"),
            )
        return schema.Ship(**f)


def baseline(database_url: str, workload: Workload, count: int) -> Result:
    """The operator's bot: each event's full row(s) in its own session and commit."""
    engine = create_engine(sqlalchemy_url(database_url), pool_size=1)
    statements = 0
    rows = 0

    @event.listens_for(engine, "after_cursor_execute")
    def count_statement(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        nonlocal statements, rows
        statements += 1
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE")):
            rows += max(cursor.rowcount, 0)

    ships: dict[str, FullShip] = {}
    events = [decode_event(subject, payload) for subject, payload in workload.messages[:count]]
    started = time.perf_counter()
    for ev in events:
        with Session(engine) as session:
            m: Any = ev.message
            if ev.kind == "ship":
                ship = ships.setdefault(m.ship_symbol, FullShip(m.ship_symbol, m.agent))
                session.merge(ship.apply(m))
            elif ev.kind == "request":
                session.add(
                    schema.RequestRecord(
                        event_id=uuid.UUID(ev.event_id),
                        agent=m.agent,
                        ship_symbol=m.ship_symbol or None,
                        endpoint=m.endpoint,
                        method=m.method,
                        priority=priority_name(m.priority),
                        status=m.status,
                        error_code=m.error_code,
                        queued_ms=m.queued_ms,
                        wire_ms=m.wire_ms,
                        attempts=m.attempts,
                        timestamp=to_datetime(m.timestamp),
                        outcome=outcome_name(m.outcome),
                    )
                )
            elif ev.kind == "market":
                observed = to_datetime(m.observed_at)
                session.merge(
                    schema.Market(
                        waypoint_symbol=m.waypoint_symbol,
                        system_symbol=m.system_symbol,
                        exports=list(m.exports),
                        imports=list(m.imports),
                        exchange=list(m.exchange),
                        observed_at=observed,
                        event_id=uuid.UUID(ev.event_id),
                    )
                )
                for g in m.goods:
                    session.merge(
                        schema.MarketTradeGood(
                            waypoint_symbol=m.waypoint_symbol,
                            symbol=g.symbol,
                            type=g.type,
                            trade_volume=g.trade_volume,
                            supply=g.supply,
                            activity=g.activity,
                            purchase_price=g.purchase_price,
                            sell_price=g.sell_price,
                            observed_at=observed,
                            event_id=uuid.UUID(ev.event_id),
                        )
                    )
            else:
                session.add(
                    schema.TransactionRecord(
                        event_id=uuid.UUID(ev.event_id),
                        agent=m.agent,
                        ship_symbol=m.ship_symbol,
                        waypoint_symbol=m.waypoint_symbol,
                        kind=transaction_kind_name(m.kind),
                        trade_symbol=m.trade_symbol,
                        units=m.units,
                        price_per_unit=m.price_per_unit,
                        total_price=m.total_price,
                        timestamp=to_datetime(m.timestamp),
                        behaviour=m.behaviour,
                    )
                )
            session.commit()
            statements += 2  # BEGIN and COMMIT, sent by the driver
    seconds = time.perf_counter() - started
    engine.dispose()
    return Result(count, seconds, statements, rows)


def _create_database(admin_url: str, name: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def _table_rows(url: str) -> dict[str, int]:
    tables = ["ships", "request_log", "request_minutes", "markets", "market_trade_goods"]
    tables += ["transactions", "credit_minutes", "waypoints"]
    with psycopg.connect(url) as conn:
        return {
            t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])  # type: ignore[index]
            for t in tables
        }


@contextlib.contextmanager
def _servers(root: Path) -> Iterator[tuple[NatsServer, PostgresServer]]:
    nats_server = NatsServer(root / "nats")
    postgres = PostgresServer(root / "postgres", durable=True)
    try:
        nats_server.start()
        postgres.start()
        yield nats_server, postgres
    finally:
        nats_server.stop()
        postgres.stop()


async def run(args: argparse.Namespace) -> int:
    root = Path(tempfile.mkdtemp(prefix="flotilla-bench-"))
    try:
        with _servers(root) as (nats_server, postgres):
            print(f"generating {args.events:,} events ...", flush=True)
            workload = generate(args.events, seed=7)
            urls = {
                name: _create_database(postgres.url, name)
                for name in ("bench_prefilled", "bench_live", "bench_baseline")
            }
            for url in urls.values():
                migrate.upgrade(url)

            print("publishing to JetStream ...", flush=True)
            publish_seconds = await publish(nats_server.url, workload)
            print("draining the filled stream with the persister ...", flush=True)
            prefilled = await drain(nats_server.url, urls["bench_prefilled"], args.events, args)
            table_rows = _table_rows(urls["bench_prefilled"])
            await reset_stream(nats_server.url)
            print("publishing (another process) and persisting at the same time ...", flush=True)
            publisher = PublisherProcess(nats_server.url, args.events, seed=8)
            live = await drain(
                nats_server.url, urls["bench_live"], args.events, args, publisher=publisher
            )
            publisher.join()
            print(f"baseline on {args.baseline_events:,} events ...", flush=True)
            base = baseline(urls["bench_baseline"], workload, args.baseline_events)
        _print_table(args, workload, publish_seconds, prefilled, live, base, table_rows)
        ok = prefilled.rate >= 20_000 and prefilled.rate >= 10 * base.rate
        return 0 if ok or not args.check else 1
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _print_table(
    args: argparse.Namespace,
    workload: Workload,
    publish_seconds: float,
    prefilled: Result,
    live: Result,
    base: Result,
    table_rows: dict[str, int],
) -> None:
    mix = ", ".join(f"{k} {v:,}" for k, v in sorted(workload.kinds.items()))
    print()
    print(f"workload: {len(workload.messages):,} events ({mix}); {SHIPS:,} ships")
    print(
        f"publishing alone: {len(workload.messages) / publish_seconds:,.0f} events/s "
        f"({publish_seconds:.1f}s)"
    )
    print()
    rows = [
        ("persister, stream filled first (JetStream → PostgreSQL)", prefilled),
        ("persister, publishing meanwhile (first publish → last ack)", live),
        ("baseline: SQLModel session + commit per event *", base),
    ]
    width = max(len(label) for label, _ in rows)
    header = (
        f"| {'writer':<{width}} | {'events':>8} | {'events/s':>9} "
        f"| {'SQL statements / 1k events':>26} | {'rows written':>12} |"
    )
    print(header)
    print("|" + "|".join("-" * len(cell) for cell in header.split("|")[1:-1]) + "|")
    for label, r in rows:
        print(
            f"| {label:<{width}} | {r.events:>8,} | {r.rate:>9,.0f} "
            f"| {r.statements_per_1000:>26.1f} | {r.rows:>12,} |"
        )
    print()
    print(
        f"speed-up over the baseline: {prefilled.rate / base.rate:.0f}× (stream filled first), "
        f"{live.rate / base.rate:.0f}× (publishing meanwhile); targets: ≥ 10× and "
        "≥ 20,000 events/s"
    )
    print(
        f"* the baseline writes the first {base.events:,} events of the same set (its cost per "
        "event does not grow with the set) and reads nothing from JetStream."
    )
    print(f"persister settings: batch {args.batch_size}, concurrency {args.concurrency}")
    print("rows after the first run: " + ", ".join(f"{t} {n:,}" for t, n in table_rows.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--baseline-events", type=int, default=5_000)
    parser.add_argument("--batch-size", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--check", action="store_true", help="exit 1 when the targets are not met")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
