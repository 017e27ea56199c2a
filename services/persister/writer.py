"""Writing a coalesced batch to PostgreSQL in one transaction, one statement per table.

Every statement is a multi-row `INSERT … SELECT … FROM unnest(arrays) … ON CONFLICT`, so a batch
of thousands of events costs a handful of statements:

- state tables are upserted with a guard: a ship part is replaced only by a higher part
  version, an observation only by a later `(observed_at, event_id)`. So older events never
  overwrite newer rows, and any delivery order ends in the same rows;
- append-only tables are inserted with `ON CONFLICT (event_id) DO NOTHING` (their key is the
  event UUID, so only a redelivery of the same event is skipped), and the per-minute rollups are
  incremented in the same statement from the rows that were actually inserted, so a replay adds
  nothing;
- rows are sorted by key, so concurrent batches lock rows in the same order and cannot deadlock.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from psycopg import AsyncConnection

from persister.coalesce import (
    CoalescedBatch,
    ShipMerge,
    WaypointSighting,
    sector_of,
    system_of,
)
from persister.contract import (
    OUTCOME_NAMES,
    PRIORITY_NAMES,
    TRANSACTION_KIND_NAMES,
    optional_datetime,
    to_datetime,
)

# Rollup buckets start on whole minutes, independent of the session's time zone.
MINUTE: Final = "date_bin('1 minute', {}, TIMESTAMPTZ '2000-01-01 00:00:00+00')"


@dataclass(frozen=True)
class Column:
    """A column written from one unnested array: its name, the array's element type, and the
    expression (over the unnested value `u.<name>`) stored in the column.

    Arrays travel in PostgreSQL's binary format (`%b`), which psycopg encodes about four times
    faster than text. UUIDs travel as text (the events carry them as text) and are cast here.
    """

    name: str
    array_type: str
    expr: str = ""

    @property
    def parameter(self) -> str:
        wire_type = "text" if self.array_type == "uuid" else self.array_type
        return f"%b::{wire_type}[]"

    @property
    def value(self) -> str:
        if self.expr:
            return self.expr.format(f"u.{self.name}")
        if self.array_type == "uuid":
            return f"u.{self.name}::uuid"
        return f"u.{self.name}"


def _text_array_from_json(name: str) -> Column:
    # Variable-length lists cannot travel as one rectangular SQL array, so each row's list
    # travels as JSON text and becomes text[] here.
    return Column(
        name,
        "text",
        "CASE WHEN {0} IS NULL THEN NULL"
        " ELSE ARRAY(SELECT jsonb_array_elements_text({0}::jsonb)) END",
    )


def _insert_from_arrays(table: str, columns: Sequence[Column], order_by: str) -> str:
    names = ", ".join(c.name for c in columns)
    arrays = ", ".join(c.parameter for c in columns)
    values = ", ".join(c.value for c in columns)
    return (
        f"INSERT INTO {table} AS t ({names})\n"
        f"SELECT {values}\nFROM unnest({arrays}) AS u({names})\nORDER BY {order_by}"
    )


def _newer_observation_upsert(table: str, columns: Sequence[Column], key: Sequence[str]) -> str:
    keys = ", ".join(key)
    updates = ", ".join(f"{c.name} = EXCLUDED.{c.name}" for c in columns if c.name not in key)
    return (
        _insert_from_arrays(table, columns, ", ".join(f"u.{k}" for k in key))
        + f"\nON CONFLICT ({keys}) DO UPDATE SET {updates}\n"
        "WHERE (EXCLUDED.observed_at, EXCLUDED.event_id) > (t.observed_at, t.event_id)"
    )


# --- ships: one version per part ----------------------------------------------------------

SHIP_PARTS: Final[dict[str, list[Column]]] = {
    "role": [Column("role", "text")],
    "frame": [Column("frame", "text")],
    "behaviour": [Column("behaviour", "text")],
    "nav": [
        Column("nav_system_symbol", "text"),
        Column("nav_waypoint_symbol", "text"),
        Column("nav_status", "text"),
        Column("nav_flight_mode", "text"),
        Column("nav_origin_symbol", "text"),
        Column("nav_destination_symbol", "text"),
        Column("nav_departure_time", "timestamptz"),
        Column("nav_arrival", "timestamptz"),
    ],
    "fuel": [Column("fuel_current", "int4"), Column("fuel_capacity", "int4")],
    "cargo": [
        Column("cargo_capacity", "int4"),
        Column("cargo_units", "int4"),
        Column("cargo_inventory", "text", "{}::jsonb"),
    ],
    "cooldown": [
        Column("cooldown_total_seconds", "int4"),
        Column("cooldown_expiration", "timestamptz"),
    ],
    "mounts": [_text_array_from_json("mounts")],
}
SHIP_COLUMNS: Final = [
    Column("symbol", "text"),
    Column("agent", "text"),
    Column("version", "int8"),
    Column("updated_at", "timestamptz"),
] + [
    column
    for part, part_columns in SHIP_PARTS.items()
    for column in [*part_columns, Column(f"{part}_version", "int8")]
]


def _ship_upsert() -> str:
    sets = [
        "version = GREATEST(t.version, EXCLUDED.version)",
        "updated_at = CASE WHEN EXCLUDED.version > t.version"
        " THEN EXCLUDED.updated_at ELSE t.updated_at END",
    ]
    newer = ["EXCLUDED.version > t.version"]
    for part, part_columns in SHIP_PARTS.items():
        guard = f"EXCLUDED.{part}_version > t.{part}_version"
        newer.append(guard)
        sets += [
            f"{c.name} = CASE WHEN {guard} THEN EXCLUDED.{c.name} ELSE t.{c.name} END"
            for c in part_columns
        ]
        sets.append(f"{part}_version = GREATEST(t.{part}_version, EXCLUDED.{part}_version)")
    return (
        _insert_from_arrays("ships", SHIP_COLUMNS, "u.symbol")
        + "\nON CONFLICT (symbol) DO UPDATE SET "
        + ", ".join(sets)
        + "\nWHERE "
        + " OR ".join(newer)
    )


SHIPS_SQL: Final = _ship_upsert()


def _ship_row(merge: ShipMerge) -> list[Any]:
    newest = merge.newest
    row: list[Any] = [merge.symbol, merge.agent, newest.version, to_datetime(newest.observed_at)]
    parts = merge.parts
    for part in ("role", "frame", "behaviour"):
        state = parts.get(part)
        row += [getattr(state, part), state.version] if state is not None else [None, 0]
    state = parts.get("nav")
    if state is not None:
        nav = state.nav
        row += [
            nav.system_symbol,
            nav.waypoint_symbol,
            nav.status or None,
            nav.flight_mode or None,
            nav.origin.symbol or None,
            nav.destination.symbol or None,
            optional_datetime(nav, "departure_time"),
            optional_datetime(nav, "arrival"),
            state.version,
        ]
    else:
        row += [None] * 8 + [0]
    state = parts.get("fuel")
    row += [state.fuel.current, state.fuel.capacity, state.version] if state else [None, None, 0]
    state = parts.get("cargo")
    if state is not None:
        cargo = state.cargo
        inventory = [{"symbol": i.symbol, "units": i.units} for i in cargo.inventory]
        row += [cargo.capacity, cargo.units, json.dumps(inventory), state.version]
    else:
        row += [None, None, None, 0]
    state = parts.get("cooldown")
    if state is not None:
        cooldown = state.cooldown
        row += [
            cooldown.total_seconds,
            optional_datetime(cooldown, "expiration"),
            state.version,
        ]
    else:
        row += [None, None, 0]
    state = parts.get("mounts")
    row += [json.dumps(list(state.mounts.symbols)), state.version] if state else [None, 0]
    return row


# --- places: systems and waypoints ----------------------------------------------------------

SYSTEMS_SQL: Final = (
    _insert_from_arrays(
        "systems", [Column("symbol", "text"), Column("sector_symbol", "text")], "u.symbol"
    )
    + "\nON CONFLICT (symbol) DO NOTHING"
)
# Waypoint facts only accumulate (type and coordinates do not change, flags only turn on), so
# the merge is order-independent without a version.
WAYPOINTS_SQL: Final = (
    _insert_from_arrays(
        "waypoints",
        [
            Column("symbol", "text"),
            Column("system_symbol", "text"),
            Column("type", "text"),
            Column("x", "int4"),
            Column("y", "int4"),
            Column("has_market", "bool"),
            Column("has_shipyard", "bool"),
        ],
        "u.symbol",
    )
    + "\nON CONFLICT (symbol) DO UPDATE SET"
    " type = coalesce(EXCLUDED.type, t.type),"
    " x = CASE WHEN EXCLUDED.type IS NULL THEN t.x ELSE EXCLUDED.x END,"
    " y = CASE WHEN EXCLUDED.type IS NULL THEN t.y ELSE EXCLUDED.y END,"
    " has_market = t.has_market OR EXCLUDED.has_market,"
    " has_shipyard = t.has_shipyard OR EXCLUDED.has_shipyard"
    "\nWHERE (EXCLUDED.type IS NOT NULL AND (t.type IS DISTINCT FROM EXCLUDED.type"
    " OR t.x IS DISTINCT FROM EXCLUDED.x OR t.y IS DISTINCT FROM EXCLUDED.y))"
    " OR (EXCLUDED.has_market AND NOT t.has_market)"
    " OR (EXCLUDED.has_shipyard AND NOT t.has_shipyard)"
)


class PlaceCache:
    """Systems and waypoints this process has already written, so that the same facts are not
    upserted again with every ship movement. Bounded: it forgets everything when full."""

    def __init__(self, max_entries: int = 200_000) -> None:
        self.max_entries = max_entries
        self.systems: set[str] = set()
        self.waypoints: dict[str, tuple[str | None, bool, bool]] = {}

    def is_new(self, sighting: WaypointSighting) -> bool:
        known = self.waypoints.get(sighting.symbol)
        if known is None:
            return True
        known_type, has_market, has_shipyard = known
        return (
            (sighting.type is not None and known_type is None)
            or (sighting.has_market and not has_market)
            or (sighting.has_shipyard and not has_shipyard)
        )

    def remember(self, systems: Sequence[str], sightings: Sequence[WaypointSighting]) -> None:
        if len(self.waypoints) + len(sightings) > self.max_entries:
            self.systems.clear()
            self.waypoints.clear()
        self.systems.update(systems)
        for s in sightings:
            known_type, has_market, has_shipyard = self.waypoints.get(
                s.symbol, (None, False, False)
            )
            self.waypoints[s.symbol] = (
                s.type or known_type,
                has_market or s.has_market,
                has_shipyard or s.has_shipyard,
            )


# --- observations: agents, markets, shipyards --------------------------------------------

AGENTS_SQL: Final = _newer_observation_upsert(
    "agents",
    [
        Column("symbol", "text"),
        Column("credits", "int8"),
        Column("headquarters", "text"),
        Column("starting_faction", "text"),
        Column("ship_count", "int4"),
        Column("observed_at", "timestamptz"),
        Column("event_id", "uuid"),
    ],
    ["symbol"],
)
MARKETS_SQL: Final = _newer_observation_upsert(
    "markets",
    [
        Column("waypoint_symbol", "text"),
        Column("system_symbol", "text"),
        _text_array_from_json("exports"),
        _text_array_from_json("imports"),
        _text_array_from_json("exchange"),
        Column("observed_at", "timestamptz"),
        Column("event_id", "uuid"),
    ],
    ["waypoint_symbol"],
)
MARKET_GOODS_SQL: Final = _newer_observation_upsert(
    "market_trade_goods",
    [
        Column("waypoint_symbol", "text"),
        Column("symbol", "text"),
        Column("type", "text"),
        Column("trade_volume", "int4"),
        Column("supply", "text"),
        Column("activity", "text"),
        Column("purchase_price", "int4"),
        Column("sell_price", "int4"),
        Column("observed_at", "timestamptz"),
        Column("event_id", "uuid"),
    ],
    ["waypoint_symbol", "symbol"],
)
SHIPYARDS_SQL: Final = _newer_observation_upsert(
    "shipyards",
    [
        Column("waypoint_symbol", "text"),
        Column("system_symbol", "text"),
        _text_array_from_json("ship_types"),
        Column("modifications_fee", "int4"),
        Column("observed_at", "timestamptz"),
        Column("event_id", "uuid"),
    ],
    ["waypoint_symbol"],
)
SHIPYARD_SHIPS_SQL: Final = _newer_observation_upsert(
    "shipyard_ships",
    [
        Column("waypoint_symbol", "text"),
        Column("ship_type", "text"),
        Column("purchase_price", "int4"),
        Column("observed_at", "timestamptz"),
        Column("event_id", "uuid"),
    ],
    ["waypoint_symbol", "ship_type"],
)

# --- append-only records and their rollups ------------------------------------------------


def _append(table: str, columns: Sequence[Column]) -> str:
    return _insert_from_arrays(table, columns, "u.event_id") + "\nON CONFLICT (event_id) DO NOTHING"


TRANSACTION_COLUMNS: Final = [
    Column("event_id", "uuid"),
    Column("agent", "text"),
    Column("ship_symbol", "text"),
    Column("waypoint_symbol", "text"),
    Column("kind", "text"),
    Column("trade_symbol", "text"),
    Column("units", "int4"),
    Column("price_per_unit", "int4"),
    Column("total_price", "int8"),
    Column("timestamp", "timestamptz"),
    Column("behaviour", "text"),
]
TRANSACTIONS_SQL: Final = f"""
WITH fresh AS (
{_append("transactions", TRANSACTION_COLUMNS)}
RETURNING timestamp, agent, ship_symbol, behaviour, kind, total_price
), rolled AS (
INSERT INTO credit_minutes AS m (minute, agent, ship_symbol, behaviour, kind, credits, transactions)
SELECT {MINUTE.format("timestamp")}, agent, coalesce(ship_symbol, ''), coalesce(behaviour, ''),
       kind, sum(total_price), count(*)
FROM fresh GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
ON CONFLICT (minute, agent, ship_symbol, behaviour, kind) DO UPDATE SET
    credits = m.credits + EXCLUDED.credits, transactions = m.transactions + EXCLUDED.transactions
RETURNING 1
)
SELECT (SELECT count(*) FROM fresh), (SELECT count(*) FROM rolled)
"""

EXTRACTIONS_SQL: Final = _append(
    "extractions",
    [
        Column("event_id", "uuid"),
        Column("agent", "text"),
        Column("ship_symbol", "text"),
        Column("waypoint_symbol", "text"),
        Column("trade_symbol", "text"),
        Column("units", "int4"),
        Column("survey_signature", "text"),
        Column("timestamp", "timestamptz"),
    ],
)

REQUEST_COLUMNS: Final = [
    Column("event_id", "uuid"),
    Column("agent", "text"),
    Column("ship_symbol", "text"),
    Column("endpoint", "text"),
    Column("method", "text"),
    Column("priority", "text"),
    Column("status", "int4"),
    Column("error_code", "int4"),
    Column("queued_ms", "float8"),
    Column("wire_ms", "float8"),
    Column("attempts", "int4"),
    Column("timestamp", "timestamptz"),
    Column("outcome", "text"),
]
REQUESTS_SQL: Final = f"""
WITH fresh AS (
{_append("request_log", REQUEST_COLUMNS)}
RETURNING timestamp, agent, priority, status, attempts, queued_ms, wire_ms
), rolled AS (
INSERT INTO request_minutes AS m
    (minute, agent, priority, calls, sent, attempts, throttled, non_throttled,
     queued_us_sum, wire_us_sum)
SELECT {MINUTE.format("timestamp")}, agent, priority,
       count(*),
       count(*) FILTER (WHERE attempts > 0),
       sum(attempts),
       count(*) FILTER (WHERE attempts > 0 AND status = 429),
       count(*) FILTER (WHERE attempts > 0 AND status <> 429),
       sum(round(queued_ms * 1000)::bigint),
       coalesce(sum(round(wire_ms * 1000)::bigint) FILTER (WHERE attempts > 0), 0)
FROM fresh GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
ON CONFLICT (minute, agent, priority) DO UPDATE SET
    calls = m.calls + EXCLUDED.calls,
    sent = m.sent + EXCLUDED.sent,
    attempts = m.attempts + EXCLUDED.attempts,
    throttled = m.throttled + EXCLUDED.throttled,
    non_throttled = m.non_throttled + EXCLUDED.non_throttled,
    queued_us_sum = m.queued_us_sum + EXCLUDED.queued_us_sum,
    wire_us_sum = m.wire_us_sum + EXCLUDED.wire_us_sum
RETURNING 1
)
SELECT (SELECT count(*) FROM fresh), (SELECT count(*) FROM rolled)
"""


@dataclass
class WriteResult:
    """What one batch wrote: rows inserted or updated per table, and statements sent."""

    rows: Counter[str] = field(default_factory=Counter)
    statements: int = 0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


Row = tuple[Any, ...]


def _agent_rows(batch: CoalescedBatch) -> list[Row]:
    rows: list[Row] = []
    for observed in batch.agents.values():
        a = observed.message
        rows.append(
            (
                a.symbol,
                a.credits,
                a.headquarters,
                a.starting_faction,
                a.ship_count,
                to_datetime(a.observed_at),
                observed.event_id,
            )
        )
    return rows


def _market_rows(batch: CoalescedBatch) -> list[Row]:
    rows: list[Row] = []
    for observed in batch.markets.values():
        m = observed.message
        rows.append(
            (
                m.waypoint_symbol,
                m.system_symbol or system_of(m.waypoint_symbol),
                json.dumps(list(m.exports)),
                json.dumps(list(m.imports)),
                json.dumps(list(m.exchange)),
                to_datetime(m.observed_at),
                observed.event_id,
            )
        )
    return rows


def _market_good_rows(batch: CoalescedBatch) -> list[Row]:
    rows: list[Row] = []
    for (waypoint, symbol), listed in batch.market_goods.items():
        g = listed.listing
        rows.append(
            (
                waypoint,
                symbol,
                g.type,
                g.trade_volume,
                g.supply,
                g.activity,
                g.purchase_price,
                g.sell_price,
                to_datetime(listed.observation.observed_at),
                listed.event_id,
            )
        )
    return rows


def _shipyard_rows(batch: CoalescedBatch) -> list[Row]:
    rows: list[Row] = []
    for observed in batch.shipyards.values():
        y = observed.message
        rows.append(
            (
                y.waypoint_symbol,
                y.system_symbol or system_of(y.waypoint_symbol),
                json.dumps(list(y.ship_types)),
                y.modifications_fee,
                to_datetime(y.observed_at),
                observed.event_id,
            )
        )
    return rows


def _shipyard_ship_rows(batch: CoalescedBatch) -> list[Row]:
    return [
        (
            waypoint,
            ship_type,
            listed.listing.purchase_price,
            to_datetime(listed.observation.observed_at),
            listed.event_id,
        )
        for (waypoint, ship_type), listed in batch.shipyard_ships.items()
    ]


def _transaction_rows(batch: CoalescedBatch) -> list[Row]:
    return [
        (
            event_id,
            t.agent,
            t.ship_symbol or None,
            t.waypoint_symbol or None,
            TRANSACTION_KIND_NAMES[t.kind],
            t.trade_symbol or None,
            t.units,
            t.price_per_unit,
            t.total_price,
            to_datetime(t.timestamp),
            t.behaviour or None,
        )
        for event_id, t in batch.transactions.items()
    ]


def _extraction_rows(batch: CoalescedBatch) -> list[Row]:
    return [
        (
            event_id,
            x.agent,
            x.ship_symbol,
            x.waypoint_symbol or None,
            x.trade_symbol,
            x.units,
            x.survey_signature or None,
            to_datetime(x.timestamp),
        )
        for event_id, x in batch.extractions.items()
    ]


def _request_rows(batch: CoalescedBatch) -> list[Row]:
    priorities = PRIORITY_NAMES
    outcomes = OUTCOME_NAMES
    return [
        (
            event_id,
            r.agent,
            r.ship_symbol or None,
            r.endpoint,
            r.method,
            priorities[r.priority],
            r.status,
            r.error_code,
            r.queued_ms,
            r.wire_ms,
            r.attempts,
            to_datetime(r.timestamp),
            outcomes[r.outcome],
        )
        for event_id, r in batch.requests.items()
    ]


def _columns(rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """Rows to one list per column (what `unnest` takes)."""
    return [list(column) for column in zip(*rows, strict=True)]


# Observation tables in write order (the order every batch locks them in).
OBSERVATION_WRITES: Final[list[tuple[str, str, Callable[[CoalescedBatch], list[Row]]]]] = [
    ("agents", AGENTS_SQL, _agent_rows),
    ("markets", MARKETS_SQL, _market_rows),
    ("market_trade_goods", MARKET_GOODS_SQL, _market_good_rows),
    ("shipyards", SHIPYARDS_SQL, _shipyard_rows),
    ("shipyard_ships", SHIPYARD_SHIPS_SQL, _shipyard_ship_rows),
]


class BatchWriter:
    """Writes coalesced batches; keeps the place cache across batches."""

    def __init__(self) -> None:
        self.places = PlaceCache()

    async def write(self, conn: AsyncConnection[Any], batch: CoalescedBatch) -> WriteResult:
        """Write `batch` in one transaction on `conn`; the transaction ends before this returns."""
        result = WriteResult()
        sightings = sorted(
            (s for s in batch.waypoint_sightings().values() if self.places.is_new(s)),
            key=lambda s: s.symbol,
        )
        systems = sorted(
            {s.system_symbol for s in sightings if s.system_symbol not in self.places.systems}
        )
        async with conn.transaction():
            result.statements += 2  # BEGIN and COMMIT
            cur = conn.cursor()

            async def run(table: str, sql: str, rows: Sequence[Sequence[Any]]) -> None:
                await cur.execute(sql, _columns(rows))
                result.statements += 1
                result.rows[table] += max(cur.rowcount, 0)

            async def run_with_rollup(
                table: str, rollup: str, sql: str, rows: Sequence[Sequence[Any]]
            ) -> None:
                await cur.execute(sql, _columns(rows))
                result.statements += 1
                counts = await cur.fetchone()
                assert counts is not None
                result.rows[table] += int(counts[0])
                result.rows[rollup] += int(counts[1])

            if systems:
                await run(
                    "systems", SYSTEMS_SQL, [(symbol, sector_of(symbol)) for symbol in systems]
                )
            if sightings:
                await run(
                    "waypoints",
                    WAYPOINTS_SQL,
                    [
                        (
                            s.symbol,
                            s.system_symbol,
                            s.type,
                            s.x,
                            s.y,
                            s.has_market,
                            s.has_shipyard,
                        )
                        for s in sightings
                    ],
                )
            if batch.ships:
                await run("ships", SHIPS_SQL, [_ship_row(m) for m in batch.ships.values()])
            for table, sql, make_rows in OBSERVATION_WRITES:
                rows = make_rows(batch)
                if rows:
                    await run(table, sql, rows)
            if batch.transactions:
                await run_with_rollup(
                    "transactions", "credit_minutes", TRANSACTIONS_SQL, _transaction_rows(batch)
                )
            if batch.extractions:
                await run("extractions", EXTRACTIONS_SQL, _extraction_rows(batch))
            if batch.requests:
                await run_with_rollup(
                    "request_log", "request_minutes", REQUESTS_SQL, _request_rows(batch)
                )
        self.places.remember(systems, sightings)
        return result
