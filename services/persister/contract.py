"""Decoding events from the wire and checking them against the contract in
`proto/flotilla/v1/events.proto`.

A message that fails here is rejected with a reason and goes to the dead-letter subject; it never
reaches the database. The checks are the ones whose failure would corrupt a row or make the
writer's guards meaningless: a missing key, an event id that is not a UUID, a part named in
`changed` but not sent, a timestamp outside the representable range, a negative amount — and a
value the schema cannot hold (too long for its column, out of its integer range, a NUL
character: `persister.capacity`).
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from google.protobuf.message import DecodeError, Message
from google.protobuf.timestamp_pb2 import Timestamp

from flotilla import names
from flotilla.semconv import OUTCOME_NAMES, PRIORITY_NAMES, TRANSACTION_KIND_NAMES
from flotilla.timestamps import to_datetime
from flotilla.v1 import events_pb2
from persister.capacity import Overflow, check_capacity

__all__ = [
    "EVENT_TYPES",
    "SHIP_PARTS",
    "Event",
    "EventType",
    "Rejected",
    "canonical_event_id",
    "check_timestamp",
    "decode_event",
    "newness",
    "optional_datetime",
    "violation",
]


class Rejected(Exception):
    """A message the persister will not write; `category` is a short label for metrics."""

    def __init__(self, category: str, reason: str) -> None:
        super().__init__(reason)
        self.category = category
        self.reason = reason


def violation(reason: str) -> Rejected:
    """A rejection for an event that breaks the contract, with the broken rule as reason."""
    return Rejected("contract", f"contract violation: {reason}")


# Parts of a ship that `ShipState.changed` may name. `behaviour` is not among them: it rides on
# every event that knows it (non-empty) and is versioned like a part.
SHIP_PARTS: Final = frozenset({"nav", "fuel", "cargo", "cooldown", "mounts", "role", "frame"})

# The range google.protobuf.Timestamp allows: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
_MIN_SECONDS: Final = -62_135_596_800
_MAX_SECONDS: Final = 253_402_300_799
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def canonical_event_id(value: str) -> str:
    """The event id in canonical UUID form (lower case, hyphenated), or a contract violation."""
    if _CANONICAL_UUID.fullmatch(value):
        return value
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise violation(f"event_id {value[:64]!r} is not a UUID") from None


def check_timestamp(parent: Message, field: str, *, required: bool, label: str = "") -> None:
    """Reject a missing required timestamp, or one that neither protobuf nor PostgreSQL can hold."""
    label = label or field
    if not parent.HasField(field):
        if required:
            raise violation(f"{label} is not set")
        return
    ts: Timestamp = getattr(parent, field)
    if not (_MIN_SECONDS <= ts.seconds <= _MAX_SECONDS and 0 <= ts.nanos < 1_000_000_000):
        raise violation(f"{label} is out of range")


def optional_datetime(parent: Message, field: str) -> datetime | None:
    """`to_datetime` of `parent.field`, or None when the timestamp is not set."""
    if not parent.HasField(field):
        return None
    ts: Timestamp = getattr(parent, field)
    return to_datetime(ts)


def newness(ts: Timestamp, event_id: str) -> tuple[int, int, str]:
    """Sort key of an observation: later `observed_at` wins, then the larger event UUID.

    Microseconds, because PostgreSQL stores no finer; the UUID's canonical text sorts like its
    bytes, which is how PostgreSQL compares `uuid`. So this order is the one the SQL guards use.
    """
    return (ts.seconds, ts.nanos // 1000, event_id)


def _require(value: str, field: str) -> None:
    if not value:
        raise violation(f"{field} is empty")


def _non_negative(value: float, field: str) -> None:
    if value < 0:
        raise violation(f"{field} is negative")


# --- per-type checks -----------------------------------------------------------------------


def _check_nav(nav: events_pb2.ShipNav) -> None:
    _require(nav.waypoint_symbol, "nav.waypoint_symbol")
    _require(nav.system_symbol, "nav.system_symbol")
    check_timestamp(nav, "departure_time", required=False, label="nav.departure_time")
    check_timestamp(nav, "arrival", required=False, label="nav.arrival")


def _check_fuel(fuel: events_pb2.ShipFuel) -> None:
    _non_negative(fuel.current, "fuel.current")
    _non_negative(fuel.capacity, "fuel.capacity")


def _check_cargo(cargo: events_pb2.ShipCargo) -> None:
    _non_negative(cargo.units, "cargo.units")
    _non_negative(cargo.capacity, "cargo.capacity")
    for item in cargo.inventory:
        _require(item.symbol, "cargo.inventory.symbol")
        _non_negative(item.units, "cargo.inventory.units")


def _check_cooldown(cooldown: events_pb2.ShipCooldown) -> None:
    _non_negative(cooldown.total_seconds, "cooldown.total_seconds")
    check_timestamp(cooldown, "expiration", required=False, label="cooldown.expiration")


def _check_mounts(mounts: events_pb2.ShipMounts) -> None:
    for symbol in mounts.symbols:
        _require(symbol, "mounts.symbols")


_PART_CHECKS: Final[dict[str, Callable[[Any], None]]] = {
    "nav": _check_nav,
    "fuel": _check_fuel,
    "cargo": _check_cargo,
    "cooldown": _check_cooldown,
    "mounts": _check_mounts,
}


def _check_ship_state(m: events_pb2.ShipState) -> None:
    _require(m.ship_symbol, "ship_symbol")
    _require(m.agent, "agent")
    if m.version <= 0:
        raise violation("version must be positive")
    check_timestamp(m, "observed_at", required=True)
    for part in m.changed:
        check = _PART_CHECKS.get(part)
        if check is not None:
            if not m.HasField(part):
                raise violation(f"changed names {part} but {part} is not set")
            check(getattr(m, part))
        elif part not in SHIP_PARTS:
            raise violation(f"changed names unknown part {part[:32]!r}")


def _check_market(m: events_pb2.MarketObservation) -> None:
    _require(m.waypoint_symbol, "waypoint_symbol")
    check_timestamp(m, "observed_at", required=True)
    seen: set[str] = set()
    for good in m.goods:
        _require(good.symbol, "goods.symbol")
        if good.symbol in seen:
            raise violation(f"good {good.symbol[:32]} is listed twice")
        seen.add(good.symbol)
        _non_negative(good.purchase_price, "goods.purchase_price")
        _non_negative(good.sell_price, "goods.sell_price")
        _non_negative(good.trade_volume, "goods.trade_volume")


def _check_shipyard(m: events_pb2.ShipyardObservation) -> None:
    _require(m.waypoint_symbol, "waypoint_symbol")
    check_timestamp(m, "observed_at", required=True)
    seen: set[str] = set()
    for listing in m.ships:
        _require(listing.ship_type, "ships.ship_type")
        if listing.ship_type in seen:
            raise violation(f"ship type {listing.ship_type[:32]} is listed twice")
        seen.add(listing.ship_type)
        _non_negative(listing.purchase_price, "ships.purchase_price")
    _non_negative(m.modifications_fee, "modifications_fee")


def _check_transaction(m: events_pb2.Transaction) -> None:
    _require(m.agent, "agent")
    if m.kind not in TRANSACTION_KIND_NAMES:
        raise violation(f"kind {m.kind} is not a known transaction kind")
    _non_negative(m.units, "units")
    _non_negative(m.price_per_unit, "price_per_unit")
    _non_negative(m.total_price, "total_price")
    check_timestamp(m, "timestamp", required=True)


def _check_extraction(m: events_pb2.Extraction) -> None:
    _require(m.agent, "agent")
    _require(m.ship_symbol, "ship_symbol")
    _require(m.trade_symbol, "trade_symbol")
    _non_negative(m.units, "units")
    check_timestamp(m, "timestamp", required=True)


def _check_agent(m: events_pb2.AgentState) -> None:
    _require(m.symbol, "symbol")
    _non_negative(m.ship_count, "ship_count")
    check_timestamp(m, "observed_at", required=True)


def _check_request(m: events_pb2.RequestLog) -> None:
    # `agent` may be empty: calls without a token (registration, server status) belong to none.
    _require(m.endpoint, "endpoint")
    _require(m.method, "method")
    if m.priority not in PRIORITY_NAMES:
        raise violation(f"priority {m.priority} is not a known class")
    if m.outcome not in OUTCOME_NAMES:
        raise violation(f"outcome {m.outcome} is not a known outcome")
    if not 0 <= m.status <= 999:
        raise violation(f"status {m.status} is not an HTTP status")
    _non_negative(m.attempts, "attempts")
    for value, field in ((m.queued_ms, "queued_ms"), (m.wire_ms, "wire_ms")):
        if not math.isfinite(value) or value < 0:
            raise violation(f"{field} must be a finite, non-negative number")
    check_timestamp(m, "timestamp", required=True)


def _check_survey(m: events_pb2.SurveyObservation) -> None:
    _require(m.signature, "signature")
    _require(m.waypoint_symbol, "waypoint_symbol")
    _require(m.size, "size")
    for deposit in m.deposits:
        _require(deposit.symbol, "deposits.symbol")
    check_timestamp(m, "expiration", required=True)
    check_timestamp(m, "observed_at", required=True)


def _check_waypoint(m: events_pb2.WaypointObservation) -> None:
    _require(m.waypoint_symbol, "waypoint_symbol")
    _require(m.type, "type")
    for trait in m.traits:
        _require(trait, "traits")
    check_timestamp(m, "observed_at", required=True)


@dataclass(frozen=True)
class EventType:
    """What arrives on one events subject: the kind (a short name) and how to check it."""

    kind: str
    message: type[Message]
    check: Callable[[Message], None]


def _event_type(kind: str, message: type[Message], check: Callable[..., None]) -> EventType:
    return EventType(kind, message, check)


EVENT_TYPES: Final[dict[str, EventType]] = {
    names.SHIP_STATE_SUBJECT: _event_type("ship", events_pb2.ShipState, _check_ship_state),
    names.MARKET_SUBJECT: _event_type("market", events_pb2.MarketObservation, _check_market),
    names.SHIPYARD_SUBJECT: _event_type(
        "shipyard", events_pb2.ShipyardObservation, _check_shipyard
    ),
    names.TRANSACTION_SUBJECT: _event_type(
        "transaction", events_pb2.Transaction, _check_transaction
    ),
    names.EXTRACTION_SUBJECT: _event_type("extraction", events_pb2.Extraction, _check_extraction),
    names.AGENT_SUBJECT: _event_type("agent", events_pb2.AgentState, _check_agent),
    names.REQUEST_LOG_SUBJECT: _event_type("request", events_pb2.RequestLog, _check_request),
    names.SURVEY_SUBJECT: _event_type("survey", events_pb2.SurveyObservation, _check_survey),
    names.WAYPOINT_SUBJECT: _event_type(
        "waypoint", events_pb2.WaypointObservation, _check_waypoint
    ),
}


@dataclass(slots=True)
class Event:
    """A decoded event that satisfies the contract; `event_id` is canonical."""

    kind: str
    event_id: str
    message: Message


def decode_event(subject: str, payload: bytes) -> Event:
    """Decode and check one message from the events stream, or raise `Rejected`."""
    event_type = EVENT_TYPES.get(subject)
    if event_type is None:
        raise Rejected("unknown_subject", f"unknown subject {subject[:128]!r}")
    message = event_type.message()
    try:
        message.ParseFromString(payload)
    except DecodeError as exc:
        raise Rejected(
            "undecodable", f"cannot decode as {message.DESCRIPTOR.full_name}: {exc}"
        ) from None
    event_id = canonical_event_id(message.event_id)  # type: ignore[attr-defined]
    try:
        event_type.check(message)
        check_capacity(message)
    except Overflow as exc:
        raise violation(str(exc)) from None
    except Rejected:
        raise
    except Exception as exc:
        # A check that cannot even run on this message must not stop the stream either.
        raise Rejected("contract", f"contract violation: the check failed: {exc!r}") from None
    return Event(event_type.kind, event_id, message)
