"""The database schema as SQLModel tables: the newest state per key, the append-only records,
the per-minute rollups behind the analytics, and the fleet plan the conductor records.

The Alembic migrations in `flotilla.db.migrations` create exactly these tables (a test compares
them). Design notes:

- State tables hold the newest state per key and carry what decides "newer": `ships` has one
  version per part (nav, fuel, cargo, …), because a `ShipState` event carries only the parts
  that changed and parts may arrive out of order; observations carry `observed_at` plus the
  event UUID as a tie-break.
- Append-only tables (`transactions`, `extractions`, `request_log`) are keyed by the event
  UUID, so a redelivered event is recognised and simultaneous events are all kept.
- Rollups (`credit_minutes`, `request_minutes`) are updated in the same statement that inserts
  the append-only rows, from the rows actually inserted, so a replay never counts twice.
- No foreign keys between event tables: events about one ship may arrive in any order (a
  transaction before the ship's first state), and the writer must accept every order.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Final

from sqlalchemy import BigInteger, DateTime, Index, String
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel

__all__ = [
    "SYMBOL_LENGTH",
    "TABLES",
    "TABLE_NAMES",
    "Agent",
    "ConductorDecision",
    "CreditMinute",
    "ExtractionRecord",
    "FleetPlanRecord",
    "FleetRoleRecord",
    "Market",
    "MarketTradeGood",
    "PlanDocument",
    "RequestMinute",
    "RequestRecord",
    "Ship",
    "ShipAssignmentRecord",
    "ShipOverride",
    "Shipyard",
    "ShipyardShip",
    "Survey",
    "System",
    "TransactionRecord",
    "Waypoint",
    "metadata",
]

TIMESTAMP = DateTime(timezone=True)
TEXT_ARRAY = ARRAY(String())
# The longest symbol or name an event table holds (agents, ships, waypoints, goods, types,
# statuses, behaviours, classes). The game's are far shorter; the bound keeps every key small
# enough for its index, and the persister's contract reads it from the columns to refuse longer
# values before they reach the database.
SYMBOL_LENGTH: Final = 64

# --- state: the newest value per key ----------------------------------------------------------


class Agent(SQLModel, table=True):
    """An agent's newest observed state."""

    __tablename__ = "agents"

    symbol: str = Field(primary_key=True, max_length=SYMBOL_LENGTH)
    credits: int = Field(sa_type=BigInteger)
    headquarters: str = Field(max_length=SYMBOL_LENGTH)
    starting_faction: str = Field(max_length=SYMBOL_LENGTH)
    ship_count: int
    observed_at: datetime = Field(sa_type=TIMESTAMP)
    event_id: uuid.UUID


class System(SQLModel, table=True):
    """A star system some event mentioned."""

    __tablename__ = "systems"

    symbol: str = Field(primary_key=True, max_length=SYMBOL_LENGTH)
    sector_symbol: str = Field(max_length=SYMBOL_LENGTH)


class Waypoint(SQLModel, table=True):
    """A waypoint some event mentioned; type and coordinates come from ship routes and waypoint
    observations, traits, the body it orbits and whether it is charted from the newest
    observation (`observed_at`; all None while only routes and markets mentioned it)."""

    __tablename__ = "waypoints"

    symbol: str = Field(primary_key=True, max_length=SYMBOL_LENGTH)
    system_symbol: str = Field(index=True, max_length=SYMBOL_LENGTH)
    type: str | None = Field(default=None, max_length=SYMBOL_LENGTH)
    x: int | None = None
    y: int | None = None
    has_market: bool = False
    has_shipyard: bool = False
    traits: list[str] | None = Field(default=None, sa_type=TEXT_ARRAY)
    orbits: str | None = Field(default=None, max_length=SYMBOL_LENGTH)
    charted: bool | None = None
    observed_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)


class Ship(SQLModel, table=True):
    """A ship's newest state, part by part; each part has the version of the event that set it."""

    __tablename__ = "ships"

    symbol: str = Field(primary_key=True, max_length=SYMBOL_LENGTH)
    agent: str = Field(index=True, max_length=SYMBOL_LENGTH)
    version: int = Field(default=0, sa_type=BigInteger)
    updated_at: datetime = Field(sa_type=TIMESTAMP)

    role: str | None = Field(default=None, max_length=SYMBOL_LENGTH)
    role_version: int = Field(default=0, sa_type=BigInteger)
    frame: str | None = Field(default=None, max_length=SYMBOL_LENGTH)
    frame_version: int = Field(default=0, sa_type=BigInteger)
    behaviour: str | None = Field(default=None, index=True, max_length=SYMBOL_LENGTH)
    behaviour_version: int = Field(default=0, sa_type=BigInteger)

    nav_system_symbol: str | None = Field(default=None, max_length=SYMBOL_LENGTH)
    nav_waypoint_symbol: str | None = Field(default=None, max_length=SYMBOL_LENGTH)
    nav_status: str | None = Field(default=None, max_length=SYMBOL_LENGTH)
    nav_flight_mode: str | None = Field(default=None, max_length=SYMBOL_LENGTH)
    nav_origin_symbol: str | None = Field(default=None, max_length=SYMBOL_LENGTH)
    nav_destination_symbol: str | None = Field(default=None, max_length=SYMBOL_LENGTH)
    nav_departure_time: datetime | None = Field(default=None, sa_type=TIMESTAMP)
    nav_arrival: datetime | None = Field(default=None, sa_type=TIMESTAMP)
    nav_version: int = Field(default=0, sa_type=BigInteger)

    fuel_current: int | None = None
    fuel_capacity: int | None = None
    fuel_version: int = Field(default=0, sa_type=BigInteger)

    cargo_capacity: int | None = None
    cargo_units: int | None = None
    # [{"symbol": "IRON_ORE", "units": 12}, ...]
    cargo_inventory: list[dict[str, Any]] | None = Field(default=None, sa_type=JSONB)
    cargo_version: int = Field(default=0, sa_type=BigInteger)

    cooldown_total_seconds: int | None = None
    cooldown_expiration: datetime | None = Field(default=None, sa_type=TIMESTAMP)
    cooldown_version: int = Field(default=0, sa_type=BigInteger)

    mounts: list[str] | None = Field(default=None, sa_type=TEXT_ARRAY)
    mounts_version: int = Field(default=0, sa_type=BigInteger)


class Market(SQLModel, table=True):
    """A market's newest observation: what it trades."""

    __tablename__ = "markets"

    waypoint_symbol: str = Field(primary_key=True, max_length=SYMBOL_LENGTH)
    system_symbol: str = Field(index=True, max_length=SYMBOL_LENGTH)
    exports: list[str] = Field(sa_type=TEXT_ARRAY)
    imports: list[str] = Field(sa_type=TEXT_ARRAY)
    exchange: list[str] = Field(sa_type=TEXT_ARRAY)
    observed_at: datetime = Field(sa_type=TIMESTAMP)
    event_id: uuid.UUID


class MarketTradeGood(SQLModel, table=True):
    """One trade-good listing of a market, as last observed (only seen with a ship present)."""

    __tablename__ = "market_trade_goods"
    __table_args__ = (
        Index("ix_market_trade_goods_symbol_sell_price", "symbol", "sell_price"),
        Index("ix_market_trade_goods_symbol_purchase_price", "symbol", "purchase_price"),
    )

    waypoint_symbol: str = Field(primary_key=True, max_length=SYMBOL_LENGTH)
    symbol: str = Field(primary_key=True, max_length=SYMBOL_LENGTH)
    type: str = Field(max_length=SYMBOL_LENGTH)
    trade_volume: int
    supply: str = Field(max_length=SYMBOL_LENGTH)
    activity: str = Field(max_length=SYMBOL_LENGTH)
    purchase_price: int
    sell_price: int
    observed_at: datetime = Field(sa_type=TIMESTAMP)
    event_id: uuid.UUID


class Shipyard(SQLModel, table=True):
    """A shipyard's newest observation."""

    __tablename__ = "shipyards"

    waypoint_symbol: str = Field(primary_key=True, max_length=SYMBOL_LENGTH)
    system_symbol: str = Field(index=True, max_length=SYMBOL_LENGTH)
    ship_types: list[str] = Field(sa_type=TEXT_ARRAY)
    modifications_fee: int
    observed_at: datetime = Field(sa_type=TIMESTAMP)
    event_id: uuid.UUID


class ShipyardShip(SQLModel, table=True):
    """The price of one ship type at one shipyard, as last observed."""

    __tablename__ = "shipyard_ships"
    __table_args__ = (
        Index("ix_shipyard_ships_ship_type_purchase_price", "ship_type", "purchase_price"),
    )

    waypoint_symbol: str = Field(primary_key=True, max_length=SYMBOL_LENGTH)
    ship_type: str = Field(primary_key=True, max_length=SYMBOL_LENGTH)
    purchase_price: int
    observed_at: datetime = Field(sa_type=TIMESTAMP)
    event_id: uuid.UUID


class Survey(SQLModel, table=True):
    """A survey of a waypoint's deposits, usable until it expires; who made it, when known."""

    __tablename__ = "surveys"

    signature: str = Field(primary_key=True, max_length=SYMBOL_LENGTH)
    waypoint_symbol: str = Field(index=True, max_length=SYMBOL_LENGTH)
    size: str = Field(max_length=SYMBOL_LENGTH)
    agent: str | None = Field(default=None, max_length=SYMBOL_LENGTH)
    ship_symbol: str | None = Field(default=None, max_length=SYMBOL_LENGTH)
    deposits: list[str] = Field(sa_type=TEXT_ARRAY)
    expiration: datetime = Field(sa_type=TIMESTAMP)
    observed_at: datetime = Field(sa_type=TIMESTAMP)


# --- append-only records, keyed by the event UUID ----------------------------------------------


class TransactionRecord(SQLModel, table=True):
    """Credits in or out; `total_price` is positive and `kind` says the direction."""

    __tablename__ = "transactions"
    __table_args__ = (
        Index("ix_transactions_timestamp", "timestamp"),
        Index("ix_transactions_ship_symbol_timestamp", "ship_symbol", "timestamp"),
    )

    event_id: uuid.UUID = Field(primary_key=True)
    agent: str = Field(max_length=SYMBOL_LENGTH)
    ship_symbol: str | None = Field(default=None, max_length=SYMBOL_LENGTH)
    waypoint_symbol: str | None = Field(default=None, max_length=SYMBOL_LENGTH)
    # flotilla.semconv: sell, purchase, fuel, ship, mount, contract, other
    kind: str = Field(max_length=SYMBOL_LENGTH)
    trade_symbol: str | None = Field(default=None, max_length=SYMBOL_LENGTH)
    units: int
    price_per_unit: int
    total_price: int = Field(sa_type=BigInteger)
    timestamp: datetime = Field(sa_type=TIMESTAMP)
    behaviour: str | None = Field(default=None, max_length=SYMBOL_LENGTH)


class ExtractionRecord(SQLModel, table=True):
    """One extraction's yield."""

    __tablename__ = "extractions"
    __table_args__ = (
        Index("ix_extractions_timestamp", "timestamp"),
        Index("ix_extractions_ship_symbol_timestamp", "ship_symbol", "timestamp"),
    )

    event_id: uuid.UUID = Field(primary_key=True)
    agent: str = Field(max_length=SYMBOL_LENGTH)
    ship_symbol: str = Field(max_length=SYMBOL_LENGTH)
    waypoint_symbol: str | None = Field(default=None, max_length=SYMBOL_LENGTH)
    trade_symbol: str = Field(max_length=SYMBOL_LENGTH)
    units: int
    survey_signature: str | None = Field(default=None, max_length=SYMBOL_LENGTH)
    timestamp: datetime = Field(sa_type=TIMESTAMP)


class RequestRecord(SQLModel, table=True):
    """One API call as the gateway handled it (the request log)."""

    __tablename__ = "request_log"
    __table_args__ = (Index("ix_request_log_timestamp", "timestamp"),)

    event_id: uuid.UUID = Field(primary_key=True)
    agent: str = Field(max_length=SYMBOL_LENGTH)
    ship_symbol: str | None = Field(default=None, max_length=SYMBOL_LENGTH)
    endpoint: str
    method: str = Field(max_length=SYMBOL_LENGTH)
    # flotilla.semconv: cooldown_start, ship_unblock, fleet, background, unspecified
    priority: str = Field(max_length=SYMBOL_LENGTH)
    status: int
    error_code: int
    queued_ms: float
    wire_ms: float
    attempts: int
    timestamp: datetime = Field(sa_type=TIMESTAMP)
    # flotilla.semconv: completed, expired, overloaded, unknown, failed, rejected, …
    outcome: str = Field(max_length=SYMBOL_LENGTH)
    # The caller's own id of the call (any text it chose); the event's UUID is `event_id`.
    call_id: str | None = None
    # The dispatcher node that sent the call, and the lease revision it was sent under (its
    # fencing token); NULL for calls of other callers, and for calls without a fence.
    node: str | None = Field(default=None, max_length=SYMBOL_LENGTH)
    fence_token: int | None = Field(default=None, sa_type=BigInteger)


# --- per-minute rollups, maintained by the writer ---------------------------------------------


class CreditMinute(SQLModel, table=True):
    """Credits moved per minute, agent, ship, behaviour and transaction kind.

    `ship_symbol` and `behaviour` are '' when the transaction named none.
    """

    __tablename__ = "credit_minutes"

    minute: datetime = Field(primary_key=True, sa_type=TIMESTAMP)
    agent: str = Field(primary_key=True)
    ship_symbol: str = Field(primary_key=True)
    behaviour: str = Field(primary_key=True)
    kind: str = Field(primary_key=True)
    credits: int = Field(sa_type=BigInteger)
    transactions: int


class RequestMinute(SQLModel, table=True):
    """API calls per minute, agent and priority class.

    `calls`: every logged call; `sent`: calls that reached the API (attempts > 0); `attempts`:
    HTTP requests sent (what the rate limit counts); `throttled`: sent calls whose last answer
    was 429; `non_throttled`: the other sent calls. `queued_us_sum` (over all calls) and
    `wire_us_sum` (over sent calls) are whole microseconds, so that sums are exact and do not
    depend on the order events arrive in.
    """

    __tablename__ = "request_minutes"

    minute: datetime = Field(primary_key=True, sa_type=TIMESTAMP)
    agent: str = Field(primary_key=True)
    priority: str = Field(primary_key=True)
    calls: int
    sent: int
    attempts: int
    throttled: int
    non_throttled: int
    queued_us_sum: int = Field(sa_type=BigInteger)
    wire_us_sum: int = Field(sa_type=BigInteger)


# --- the fleet plan and assignments, recorded by the conductor --------------------------------


class FleetPlanRecord(SQLModel, table=True):
    """One version of the fleet plan (its roles are in `fleet_roles`)."""

    __tablename__ = "fleet_plans"

    version: int = Field(
        primary_key=True, sa_type=BigInteger, sa_column_kwargs={"autoincrement": False}
    )
    working_capital_floor: int = Field(sa_type=BigInteger)
    updated_at: datetime = Field(sa_type=TIMESTAMP)
    updated_by: str


class FleetRoleRecord(SQLModel, table=True):
    """One role of one plan version."""

    __tablename__ = "fleet_roles"

    plan_version: int = Field(primary_key=True, sa_type=BigInteger)
    name: str = Field(primary_key=True)
    ship_type: str
    count: int
    behaviour: str
    waypoint_symbol: str | None = None
    mount_spec: list[str] = Field(sa_type=TEXT_ARRAY)
    params: dict[str, str] = Field(sa_type=JSONB)
    priority: int


class ShipAssignmentRecord(SQLModel, table=True):
    """The behaviour a ship is assigned, as last recorded."""

    __tablename__ = "ship_assignments"

    ship_symbol: str = Field(primary_key=True)
    role: str
    behaviour: str = Field(index=True)
    params: dict[str, str] = Field(sa_type=JSONB)
    plan_version: int = Field(sa_type=BigInteger)
    parked: bool
    manual: bool
    assigned_at: datetime = Field(sa_type=TIMESTAMP)


# --- the conductor's own records ---------------------------------------------------------------


class PlanDocument(SQLModel, table=True):
    """One revision of the fleet plan as written (YAML/JSON data), with who wrote it; revision N
    is also `fleet_plans` version N (whose columns cannot hold an `auto` role's choices)."""

    __tablename__ = "conductor_plans"

    revision: int = Field(
        primary_key=True, sa_type=BigInteger, sa_column_kwargs={"autoincrement": False}
    )
    document: dict[str, Any] = Field(sa_type=JSONB)
    created_at: datetime = Field(sa_type=TIMESTAMP)
    author: str


class ShipOverride(SQLModel, table=True):
    """An operator's manual assignment of one ship, held until it expires or is removed."""

    __tablename__ = "conductor_overrides"

    ship_symbol: str = Field(primary_key=True)
    behaviour: str
    params: dict[str, str] = Field(sa_type=JSONB)
    waypoint_symbol: str
    reason: str
    set_at: datetime = Field(sa_type=TIMESTAMP)
    expires_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)


class ConductorDecision(SQLModel, table=True):
    """One decision of the conductor with its reason and figures: a purchase, an `auto`
    choice, a park or unpark, a pause."""

    __tablename__ = "conductor_decisions"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger)
    at: datetime = Field(sa_type=TIMESTAMP, index=True)
    kind: str
    ship_symbol: str | None = None
    role: str | None = None
    reason: str
    figures: dict[str, Any] = Field(sa_type=JSONB)


TABLES = (
    Agent,
    System,
    Waypoint,
    Ship,
    Market,
    MarketTradeGood,
    Shipyard,
    ShipyardShip,
    Survey,
    TransactionRecord,
    ExtractionRecord,
    RequestRecord,
    CreditMinute,
    RequestMinute,
    FleetPlanRecord,
    FleetRoleRecord,
    ShipAssignmentRecord,
    PlanDocument,
    ShipOverride,
    ConductorDecision,
)
# The names Flotilla's migrations own. SQLModel keeps every package's tables in one shared
# metadata; Alembic compares only these.
TABLE_NAMES = frozenset(str(table.__tablename__) for table in TABLES)
metadata = SQLModel.metadata
