"""What the database can hold, read from the schema: each stored field of an event is checked
against the column (or columns) it lands in — a length (`varchar(64)`), an integer range
(`integer`, `bigint`), and no NUL character in any text (PostgreSQL's text and JSON cannot hold
one) — so that a value the schema cannot hold is refused by the contract, with the field and the
column named, instead of failing the batch it came in.

`STORED_FIELDS` says where every field goes; the limits themselves come from the column types
in `flotilla.db.schema`, so changing a column changes the check.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from flotilla.db.schema import metadata
from flotilla.v1 import events_pb2

__all__ = [
    "STORED_FIELDS",
    "Check",
    "ColumnLimit",
    "Overflow",
    "capacity_check",
    "check_capacity",
    "column_limit",
]

# Field -> the "table.column"s it is written to (the strictest limit applies); None for a field
# that is not stored as it is (the event UUID, part names, enums spelled by `flotilla.semconv`,
# fields no table has). Sub-messages are checked with their own entry.
STORED_FIELDS: Final[Mapping[type[Message], Mapping[str, Sequence[str] | None]]] = {
    events_pb2.ShipState: {
        "event_id": None,
        "agent": ["ships.agent"],
        "ship_symbol": ["ships.symbol"],
        "version": ["ships.version"],
        "changed": None,
        "role": ["ships.role"],
        "frame": ["ships.frame"],
        "behaviour": ["ships.behaviour"],
    },
    events_pb2.ShipNav: {
        "system_symbol": ["ships.nav_system_symbol", "systems.symbol"],
        "waypoint_symbol": ["ships.nav_waypoint_symbol", "waypoints.symbol"],
        "status": ["ships.nav_status"],
        "flight_mode": ["ships.nav_flight_mode"],
    },
    events_pb2.ShipRoutePoint: {
        "symbol": ["ships.nav_origin_symbol", "ships.nav_destination_symbol", "waypoints.symbol"],
        "type": ["waypoints.type"],
        "system_symbol": ["waypoints.system_symbol", "systems.symbol"],
        "x": ["waypoints.x"],
        "y": ["waypoints.y"],
    },
    events_pb2.ShipFuel: {
        "current": ["ships.fuel_current"],
        "capacity": ["ships.fuel_capacity"],
    },
    events_pb2.ShipCargo: {
        "capacity": ["ships.cargo_capacity"],
        "units": ["ships.cargo_units"],
    },
    events_pb2.CargoItem: {
        "symbol": ["ships.cargo_inventory"],
        "units": ["ships.cargo_inventory"],
    },
    events_pb2.ShipCooldown: {"total_seconds": ["ships.cooldown_total_seconds"]},
    events_pb2.ShipMounts: {"symbols": ["ships.mounts"]},
    events_pb2.MarketObservation: {
        "event_id": None,
        "waypoint_symbol": ["markets.waypoint_symbol", "waypoints.symbol"],
        "system_symbol": ["markets.system_symbol", "systems.symbol"],
        "exports": ["markets.exports"],
        "imports": ["markets.imports"],
        "exchange": ["markets.exchange"],
    },
    events_pb2.MarketGood: {
        "symbol": ["market_trade_goods.symbol"],
        "type": ["market_trade_goods.type"],
        "trade_volume": ["market_trade_goods.trade_volume"],
        "supply": ["market_trade_goods.supply"],
        "activity": ["market_trade_goods.activity"],
        "purchase_price": ["market_trade_goods.purchase_price"],
        "sell_price": ["market_trade_goods.sell_price"],
    },
    events_pb2.ShipyardObservation: {
        "event_id": None,
        "waypoint_symbol": [
            "shipyards.waypoint_symbol",
            "shipyard_ships.waypoint_symbol",
            "waypoints.symbol",
        ],
        "system_symbol": ["shipyards.system_symbol", "systems.symbol"],
        "ship_types": ["shipyards.ship_types"],
        "modifications_fee": ["shipyards.modifications_fee"],
    },
    events_pb2.ShipyardListing: {
        "ship_type": ["shipyard_ships.ship_type"],
        "purchase_price": ["shipyard_ships.purchase_price"],
    },
    events_pb2.Transaction: {
        "event_id": None,
        "agent": ["transactions.agent", "credit_minutes.agent"],
        "ship_symbol": ["transactions.ship_symbol", "credit_minutes.ship_symbol"],
        "waypoint_symbol": ["transactions.waypoint_symbol"],
        "kind": None,
        "trade_symbol": ["transactions.trade_symbol"],
        "units": ["transactions.units"],
        "price_per_unit": ["transactions.price_per_unit"],
        "total_price": ["transactions.total_price", "credit_minutes.credits"],
        "behaviour": ["transactions.behaviour", "credit_minutes.behaviour"],
    },
    events_pb2.Extraction: {
        "event_id": None,
        "agent": ["extractions.agent"],
        "ship_symbol": ["extractions.ship_symbol"],
        "waypoint_symbol": ["extractions.waypoint_symbol"],
        "trade_symbol": ["extractions.trade_symbol"],
        "units": ["extractions.units"],
        "survey_signature": ["extractions.survey_signature"],
    },
    events_pb2.AgentState: {
        "event_id": None,
        "symbol": ["agents.symbol"],
        "credits": ["agents.credits"],
        "headquarters": ["agents.headquarters"],
        "starting_faction": ["agents.starting_faction"],
        "ship_count": ["agents.ship_count"],
    },
    events_pb2.SurveyObservation: {
        "event_id": None,
        "agent": ["surveys.agent"],
        "ship_symbol": ["surveys.ship_symbol"],
        "waypoint_symbol": ["surveys.waypoint_symbol"],
        "signature": ["surveys.signature"],
        "size": ["surveys.size"],
    },
    events_pb2.SurveyDeposit: {"symbol": ["surveys.deposits"]},
    events_pb2.WaypointObservation: {
        "event_id": None,
        "waypoint_symbol": ["waypoints.symbol"],
        "system_symbol": ["waypoints.system_symbol", "systems.symbol"],
        "type": ["waypoints.type"],
        "x": ["waypoints.x"],
        "y": ["waypoints.y"],
        "traits": ["waypoints.traits"],
        "orbitals": None,
        "orbits": ["waypoints.orbits"],
        "charted": ["waypoints.charted"],
        "under_construction": None,
        "observed_by": None,
    },
    events_pb2.RequestLog: {
        "event_id": None,
        "agent": ["request_log.agent", "request_minutes.agent"],
        "ship_symbol": ["request_log.ship_symbol"],
        "endpoint": ["request_log.endpoint"],
        "method": ["request_log.method"],
        "priority": None,
        "status": ["request_log.status"],
        "error_code": ["request_log.error_code"],
        "queued_ms": ["request_log.queued_ms"],
        "wire_ms": ["request_log.wire_ms"],
        "attempts": ["request_log.attempts", "request_minutes.attempts"],
        "outcome": None,
        "node": ["request_log.node"],
        "fence_token": ["request_log.fence_token"],
        "call_id": ["request_log.call_id"],
    },
}


class Overflow(ValueError):
    """A field holds a value its column cannot: the message names the field and the column."""


@dataclass(frozen=True)
class ColumnLimit:
    """What a column can hold: at most `max_length` characters (None: any), integers within
    `[low, high]` (None: not an integer column)."""

    column: str
    max_length: int | None = None
    low: int | None = None
    high: int | None = None


# Integer column types, narrowest first (BigInteger and SmallInteger subclass Integer).
_INTEGER_RANGES: Final[tuple[tuple[type[sa.types.TypeEngine[Any]], int], ...]] = (
    (sa.SmallInteger, 16),
    (sa.BigInteger, 64),
    (sa.Integer, 32),
)

_PROTO_INTEGER_RANGES: Final[dict[int, tuple[int, int]]] = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}


def _underlying(type_: sa.types.TypeEngine[Any]) -> sa.types.TypeEngine[Any]:
    """The type a decorated type (SQLModel's `AutoString`) is stored as."""
    while isinstance(type_, sa.types.TypeDecorator):
        type_ = type_.impl_instance
    return type_


def column_limit(name: str) -> ColumnLimit:
    """The limit of column `table.column`, from its type in `flotilla.db.schema`."""
    table, _, column = name.partition(".")
    type_ = _underlying(metadata.tables[table].c[column].type)
    if isinstance(type_, sa.ARRAY):
        type_ = _underlying(type_.item_type)
    if isinstance(type_, sa.String):
        return ColumnLimit(name, max_length=type_.length)
    for integer_type, bits in _INTEGER_RANGES:
        if isinstance(type_, integer_type):
            return ColumnLimit(name, low=-(2 ** (bits - 1)), high=2 ** (bits - 1) - 1)
    return ColumnLimit(name)


# A compiled check of one message: raises `Overflow`.
Check = Callable[[Message], None]


@dataclass(frozen=True)
class _Text:
    """A text field, its label in reasons, and the strictest of its columns' lengths
    (`sys.maxsize`: unbounded, only a NUL is refused)."""

    name: str
    label: str
    longest: int
    column: str

    @classmethod
    def of(cls, name: str, label: str, limits: Sequence[ColumnLimit]) -> _Text:
        bounded = [limit for limit in limits if limit.max_length is not None]
        if not bounded:
            return cls(name, label, sys.maxsize, "")
        strictest = min(bounded, key=lambda limit: limit.max_length or 0)
        return cls(name, label, strictest.max_length or 0, strictest.column)

    def refuse(self, value: str) -> Overflow:
        """Why `value` cannot be stored (it is too long or holds a NUL)."""
        if len(value) > self.longest:
            return Overflow(
                f"{self.label} is {len(value)} characters long, longer than the "
                f"{self.longest} {self.column} holds"
            )
        return Overflow(f"{self.label} contains a NUL character, which the database cannot hold")


def _text_list_check(text: _Text) -> Check:
    name, longest = text.name, text.longest

    def check(message: Message) -> None:
        for value in getattr(message, name):
            if len(value) > longest or "\x00" in value:
                raise text.refuse(value)

    return check


def _integer_check(
    name: str,
    label: str,
    repeated: bool,
    proto_range: tuple[int, int],
    limits: Sequence[ColumnLimit],
) -> Check | None:
    ranges = [limit for limit in limits if limit.low is not None and limit.high is not None]
    low = max([proto_range[0], *(limit.low for limit in ranges if limit.low is not None)])
    high = min([proto_range[1], *(limit.high for limit in ranges if limit.high is not None)])
    if (low, high) == proto_range:
        return None  # every value the field can carry fits: nothing to check
    columns = ", ".join(limit.column for limit in ranges)

    def check(message: Message) -> None:
        values = getattr(message, name)
        for value in values if repeated else (values,):
            if not low <= value <= high:
                raise Overflow(f"{label} {value} does not fit {columns} ({low} to {high})")

    return check


def _message_check(name: str, repeated: bool, inner: Check) -> Check:
    if repeated:

        def check_each(message: Message) -> None:
            for item in getattr(message, name):
                inner(item)

        return check_each

    def check_set(message: Message) -> None:
        if message.HasField(name):
            inner(getattr(message, name))

    return check_set


def _compile(
    message_type: type[Message],
    prefix: str,
    stored_fields: Mapping[type[Message], Mapping[str, Sequence[str] | None]],
    by_name: Mapping[str, type[Message]],
) -> Check | None:
    """The check of one message type, or None when none of its values can overflow."""
    stored = stored_fields.get(message_type, {})
    # Single text fields are checked in one loop (most of the work, kept cheap); lists,
    # integers that may not fit and sub-messages by checks of their own.
    texts: list[_Text] = []
    checks: list[Check] = []
    for field in message_type.DESCRIPTOR.fields:
        repeated = bool(field.is_repeated)
        label = prefix + field.name
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            described = field.message_type
            inner_type = by_name.get(described.full_name) if described is not None else None
            inner = (
                _compile(inner_type, label + ".", stored_fields, by_name)
                if inner_type is not None
                else None
            )
            if inner is not None:
                checks.append(_message_check(field.name, repeated, inner))
            continue
        columns = stored.get(field.name)
        if columns is None:
            continue
        limits = [column_limit(column) for column in columns]
        if field.type == FieldDescriptor.TYPE_STRING:
            text = _Text.of(field.name, label, limits)
            if repeated:
                checks.append(_text_list_check(text))
            else:
                texts.append(text)
        elif field.type in _PROTO_INTEGER_RANGES:
            check = _integer_check(
                field.name, label, repeated, _PROTO_INTEGER_RANGES[field.type], limits
            )
            if check is not None:
                checks.append(check)
    if not texts and not checks:
        return None
    fields = tuple((text, text.name, text.longest) for text in texts)
    others = tuple(checks)

    def check_all(message: Message) -> None:
        for text, name, longest in fields:
            value = getattr(message, name)
            if len(value) > longest or "\x00" in value:
                raise text.refuse(value)
        for check in others:
            check(message)

    return check_all


def _nothing(message: Message) -> None:
    """The check of a message none of whose values can overflow."""


def capacity_check(
    message_type: type[Message],
    stored: Mapping[type[Message], Mapping[str, Sequence[str] | None]] = STORED_FIELDS,
) -> Check:
    """The check of `message_type` (and of the messages inside it) against the columns `stored`
    names; `check(message)` raises `Overflow`."""
    by_name = {t.DESCRIPTOR.full_name: t for t in stored}
    return _compile(message_type, "", stored, by_name) or _nothing


_CHECKS: Final[dict[type[Message], Check]] = {
    message_type: capacity_check(message_type)
    for message_type in STORED_FIELDS
    if message_type.DESCRIPTOR.fields_by_name.get("event_id") is not None
}


def check_capacity(message: Message) -> None:
    """Raise `Overflow` when a field of event `message` holds a value its column cannot."""
    check = _CHECKS.get(type(message))
    if check is not None:
        check(message)
