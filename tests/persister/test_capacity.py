"""The contract refuses what the schema cannot hold, with limits read from the schema's column
types: every stored field is mapped to its columns, every key that an event fills is bounded,
an event with every field at its limit is written by the real writer, and one character (or
one integer) more in any field is refused with the field and the column named."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from flotilla.db.schema import SYMBOL_LENGTH, metadata
from flotilla.v1 import events_pb2
from persister.capacity import (
    STORED_FIELDS,
    Overflow,
    capacity_check,
    column_limit,
)
from persister.coalesce import coalesce_batch
from persister.contract import EVENT_TYPES, Rejected, decode_event
from persister.writes import BatchWriter

# A field whose column has no length still gets a long value, to show it is not bounded.
UNBOUNDED_SAMPLE = 300
LATER = datetime(2026, 1, 5, 12, 5, tzinfo=UTC)


def _messages(descriptor: Any) -> Iterator[Any]:
    # Any: the protobuf stubs type nested descriptors as optional and as two classes.
    yield descriptor
    for field in descriptor.fields:
        if field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.file.package == (
            "flotilla.v1"
        ):
            yield from _messages(field.message_type)


STORED_BY_NAME = {t.DESCRIPTOR.full_name: (t, fields) for t, fields in STORED_FIELDS.items()}
EVENT_MESSAGES = sorted(
    {d.full_name for t in EVENT_TYPES.values() for d in _messages(t.message.DESCRIPTOR)}
)


@pytest.mark.parametrize("name", EVENT_MESSAGES)
def test_every_field_of_every_event_says_where_it_is_stored(name: str) -> None:
    assert name in STORED_BY_NAME, f"{name} has no entry in STORED_FIELDS"
    message_type, stored = STORED_BY_NAME[name]
    scalars = {
        f.name for f in message_type.DESCRIPTOR.fields if f.type != FieldDescriptor.TYPE_MESSAGE
    }
    assert set(stored) == scalars
    for columns in stored.values():
        for column in columns or ():
            table, _, name_ = column.partition(".")
            assert name_ in metadata.tables[table].c, column


def _keyed(column: str) -> bool:
    table_name, _, name = column.partition(".")
    table = metadata.tables[table_name]
    indexed = {c.name for index in table.indexes for c in index.columns}
    return name in indexed or name in {c.name for c in table.primary_key.columns}


def test_every_text_field_that_lands_in_a_key_or_an_index_is_bounded() -> None:
    """The failure this prevents: a 4 KB value in an indexed column ("index row size exceeds
    btree maximum", SQLSTATE 54000)."""
    for message_type, stored in STORED_FIELDS.items():
        fields = message_type.DESCRIPTOR.fields_by_name
        for field, columns in stored.items():
            if columns is None or fields[field].type != FieldDescriptor.TYPE_STRING:
                continue
            lengths = [column_limit(c).max_length for c in columns]
            if any(_keyed(c) for c in columns):
                assert any(length is not None for length in lengths), (message_type, field)


def test_the_limits_are_the_schemas_column_types() -> None:
    assert column_limit("ships.symbol").max_length == SYMBOL_LENGTH
    assert column_limit("request_log.endpoint").max_length is None
    assert (column_limit("ships.fuel_current").low, column_limit("ships.fuel_current").high) == (
        -(2**31),
        2**31 - 1,
    )
    assert column_limit("agents.credits").high == 2**63 - 1


def test_an_integer_field_wider_than_its_column_is_range_checked() -> None:
    """No stored field is wider than its column today; the check is derived when one is."""
    stored: dict[type[Message], dict[str, Sequence[str] | None]] = {
        events_pb2.RequestLog: {"fence_token": ["request_log.status"]}
    }
    check = capacity_check(events_pb2.RequestLog, stored)
    check(events_pb2.RequestLog(fence_token=2**31 - 1))
    with pytest.raises(Overflow, match=r"fence_token 2147483648 does not fit request_log.status"):
        check(events_pb2.RequestLog(fence_token=2**31))


# --- every field at its limit, then one past it ---------------------------------------------


def _limit(columns: list[str]) -> int | None:
    lengths = [column_limit(c).max_length for c in columns]
    bounded = [length for length in lengths if length is not None]
    return min(bounded) if bounded else None


def _fill(message: Message, path: str = "") -> list[tuple[str, int]]:
    """Set every stored text field of `message` (and of the messages in it) to its column's
    limit; return (field path, limit) of the bounded ones."""
    _, stored = STORED_BY_NAME[message.DESCRIPTOR.full_name]
    bounded: list[tuple[str, int]] = []
    descriptor: Any = message.DESCRIPTOR
    for field in descriptor.fields:
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            if field.message_type.full_name not in STORED_BY_NAME:
                continue
            if field.is_repeated:
                for n, item in enumerate(getattr(message, field.name)):
                    bounded += _fill(item, f"{path}{field.name}[{n}].")
            elif message.HasField(field.name):
                bounded += _fill(getattr(message, field.name), f"{path}{field.name}.")
            continue
        columns = stored[field.name]
        if columns is None or field.type != FieldDescriptor.TYPE_STRING:
            continue
        limit = _limit(list(columns))
        length = limit if limit is not None else UNBOUNDED_SAMPLE
        if field.is_repeated:
            values = getattr(message, field.name)
            for n in range(len(values)):
                values[n] = f"{n}".ljust(length, "A")
                if limit is not None:
                    bounded.append((f"{path}{field.name}[{n}]", limit))
        else:
            setattr(message, field.name, "".ljust(length, "A"))
            if limit is not None:
                bounded.append((f"{path}{field.name}", limit))
    return bounded


def _full_events(events: Any) -> list[Any]:
    """One event of every kind with every part, list and sub-message present."""
    return [
        events.ship(
            "AGENT-1",
            1,
            nav={"waypoint": "X1-AA-A1", "destination": "X1-AA-B2", "arrival": LATER},
            fuel=(10, 100),
            cargo=[("IRON_ORE", 3), ("ICE_WATER", 2)],
            cooldown=LATER,
            mounts=["MOUNT_A", "MOUNT_B"],
            role="EXCAVATOR",
            frame="FRAME_DRONE",
            behaviour="mine",
        ),
        events.market("X1-AA-A1", goods=[("IRON_ORE", 5, 4)], exports=["FUEL"]),
        events.shipyard("X1-AA-A1", prices=[("SHIP_PROBE", 9)]),
        events.transaction(1, 10, ship="AGENT-1", behaviour="mine"),
        events.extraction("AGENT-1", 3),
        events.agent(100),
        events.request(call_id="c-1"),
    ]


def _maximal(outgoing: Any) -> tuple[str, Message, list[tuple[str, int]]]:
    event_type = EVENT_TYPES[outgoing.subject]
    message = event_type.message.FromString(outgoing.payload)
    if isinstance(message, events_pb2.ShipState):
        message.nav.origin.symbol = "X1-AA-A1"  # the factory sets only the destination
        message.nav.origin.system_symbol = "X1-AA"
        message.nav.origin.type = "PLANET"
    if isinstance(message, events_pb2.MarketObservation):
        message.imports.append("FOOD")
        message.exchange.append("FUEL")
    bounded = _fill(message)
    return outgoing.subject, message, bounded


async def test_an_event_of_every_kind_with_every_field_at_its_limit_is_written(
    migrated_url: str, events: Any
) -> None:
    maximal = [_maximal(o) for o in _full_events(events)]
    decoded = [decode_event(subject, m.SerializeToString()) for subject, m, _ in maximal]
    batch = coalesce_batch(decoded)
    async with await psycopg.AsyncConnection.connect(migrated_url, autocommit=True) as conn:
        result = await BatchWriter().write(conn, batch)
        cur = await conn.execute("SELECT length(symbol) FROM ships")
        row = await cur.fetchone()
    assert row == (SYMBOL_LENGTH,)
    for table in ("ships", "markets", "shipyards", "transactions", "extractions", "agents"):
        assert result.rows[table] >= 1, table
    assert result.rows["request_log"] == 1


def _one_past(events: Any) -> Iterator[tuple[str, str, bytes]]:
    for outgoing in _full_events(events):
        subject, message, bounded = _maximal(outgoing)
        for path, limit in bounded:
            longer = type(message).FromString(message.SerializeToString())
            _set(longer, path, "".ljust(limit + 1, "A"))
            yield path, subject, longer.SerializeToString()


def _set(message: Message, path: str, value: str) -> None:
    *parents, leaf = path.split(".")
    target: Any = message
    for part in parents:
        target = _step(target, part)
    if leaf.endswith("]"):
        name, _, index = leaf[:-1].partition("[")
        getattr(target, name)[int(index)] = value
    else:
        setattr(target, leaf, value)


def _step(target: Any, part: str) -> Any:
    if part.endswith("]"):
        name, _, index = part[:-1].partition("[")
        return getattr(target, name)[int(index)]
    return getattr(target, part)


def test_one_character_past_the_limit_in_any_field_is_refused_naming_it(events: Any) -> None:
    cases = list(_one_past(events))
    assert {path for path, _, _ in cases} >= {"ship_symbol", "nav.origin.symbol", "agent"}
    assert len(cases) >= 40  # every bounded field of every kind
    for path, subject, payload in cases:
        with pytest.raises(Rejected) as refused:
            decode_event(subject, payload)
        reason = refused.value.reason
        label = path.replace("[0]", "").replace("[1]", "")
        assert refused.value.category == "contract", path
        assert f"{label} is {SYMBOL_LENGTH + 1} characters long" in reason, (path, reason)


def test_a_nul_character_anywhere_is_refused_even_where_text_is_unbounded(events: Any) -> None:
    request = events_pb2.RequestLog.FromString(events.request().payload)
    request.endpoint = "/my/ships/\x00"
    with pytest.raises(Rejected, match="endpoint contains a NUL character"):
        decode_event(events.request().subject, request.SerializeToString())
