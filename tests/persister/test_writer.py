"""The writer against a real PostgreSQL: older never overwrites newer, any delivery order and
any duplication end in the same rows, a replay counts nothing twice, and a batch costs one
statement per table."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from flotilla.db import migrate
from flotilla.v1 import api_pb2, events_pb2
from persister.coalesce import coalesce_batch
from persister.contract import decode_event
from persister.writes import BatchWriter, WriteResult

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


async def _write(
    url: str, outgoing: Sequence[Any], writer: BatchWriter | None = None
) -> WriteResult:
    batch = coalesce_batch(decode_event(o.subject, o.payload) for o in outgoing)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        return await (writer or BatchWriter()).write(conn, batch)


async def _one(url: str, sql: str) -> tuple[Any, ...]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        row = await (await conn.execute(sql)).fetchone()
        assert row is not None
        return tuple(row)


async def _all(url: str, sql: str) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        return [tuple(row) for row in await (await conn.execute(sql)).fetchall()]


def _reset(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    migrate.upgrade(url)


async def test_an_older_ship_event_never_overwrites_a_newer_part(
    migrated_url: str, events: Any
) -> None:
    await _write(
        migrated_url,
        [events.ship("AGENT-1", 5, nav={"waypoint": "X1-AA-C3"}, fuel=(50, 100), mounts=["M1"])],
    )
    # Version 4 arrives late: its nav and fuel are older than what is stored, but its cargo is
    # the only cargo ever reported, so cargo is written and nothing else changes.
    await _write(
        migrated_url,
        [
            events.ship(
                "AGENT-1", 4, nav={"waypoint": "X1-AA-A1"}, fuel=(1, 100), cargo=[("ICE", 3)]
            )
        ],
    )
    row = await _one(
        migrated_url,
        "SELECT version, nav_waypoint_symbol, nav_version, fuel_current, cargo_units,"
        " cargo_version, mounts FROM ships WHERE symbol = 'AGENT-1'",
    )
    assert row == (5, "X1-AA-C3", 5, 50, 3, 4, ["M1"])


async def test_only_the_changed_parts_are_written(migrated_url: str, events: Any) -> None:
    await _write(migrated_url, [events.ship("AGENT-1", 1, fuel=(50, 100), mounts=["M1", "M2"])])
    await _write(migrated_url, [events.ship("AGENT-1", 2, fuel=(40, 100))])
    row = await _one(
        migrated_url, "SELECT fuel_current, fuel_version, mounts, mounts_version FROM ships"
    )
    assert row == (40, 2, ["M1", "M2"], 1)


async def test_an_older_market_observation_never_overwrites_a_newer_listing(
    migrated_url: str, events: Any
) -> None:
    newer = events.market("X1-AA-A1", at=T0 + timedelta(minutes=5), goods=[("IRON_ORE", 30, 25)])
    older = events.market("X1-AA-A1", at=T0, goods=[("IRON_ORE", 10, 8)])
    await _write(migrated_url, [newer])
    result = await _write(migrated_url, [older])
    assert result.rows["market_trade_goods"] == 0
    assert await _one(migrated_url, "SELECT sell_price FROM market_trade_goods") == (25,)


async def test_any_order_batching_and_duplication_end_in_the_same_rows(
    migrated_url: str, reference_url: str, events: Any, dump: Any
) -> None:
    outgoing = events.mixed(400)
    await _write(reference_url, outgoing)
    expected = await dump(reference_url)
    assert all(expected[table] for table in ("ships", "market_trade_goods", "request_minutes"))

    rng = random.Random(5)
    reversed_in_sevens = list(reversed(outgoing))
    shuffled_with_duplicates = outgoing + rng.sample(outgoing, 120)
    rng.shuffle(shuffled_with_duplicates)
    for variant, size in ((reversed_in_sevens, 7), (shuffled_with_duplicates, 50), (outgoing, 1)):
        _reset(migrated_url)
        writer = BatchWriter()
        for start in range(0, len(variant), size):
            await _write(migrated_url, variant[start : start + size], writer)
        assert await dump(migrated_url) == expected


async def test_a_replayed_batch_changes_no_row_and_counts_nothing_twice(
    migrated_url: str, events: Any, dump: Any
) -> None:
    outgoing = events.mixed(200)
    await _write(migrated_url, outgoing)
    before = await dump(migrated_url)
    again = await _write(migrated_url, outgoing)  # a fresh writer: no cache hides the replay
    assert again.total_rows == 0
    assert await dump(migrated_url) == before


async def test_simultaneous_events_of_one_ship_are_all_kept(migrated_url: str, events: Any) -> None:
    sales = [
        events.transaction(events_pb2.TRANSACTION_KIND_SELL, 100 * n, ship="AGENT-1")
        for n in (1, 2, 3)
    ]
    await _write(migrated_url, sales)
    assert await _one(migrated_url, "SELECT count(*), sum(total_price) FROM transactions") == (
        3,
        600,
    )
    assert await _one(migrated_url, "SELECT credits, transactions FROM credit_minutes") == (600, 3)


async def test_a_batch_costs_one_statement_per_table(migrated_url: str, events: Any) -> None:
    outgoing = events.mixed(1000)
    result = await _write(migrated_url, outgoing)
    tables_written = len([t for t in result.rows if not t.endswith("_minutes")])
    # BEGIN and COMMIT, one statement per table; rollups ride in their records' statement.
    assert result.statements == 2 + tables_written
    assert result.statements <= 15


async def test_rows_spell_classes_outcomes_and_kinds_as_every_service_does(
    migrated_url: str, events: Any
) -> None:
    await _write(
        migrated_url,
        [
            events.request(
                priority=api_pb2.PRIORITY_CLASS_SHIP_UNBLOCK,
                outcome=api_pb2.CALL_OUTCOME_EXPIRED,
                attempts=0,
                status=0,
            ),
            events.transaction(events_pb2.TRANSACTION_KIND_PURCHASE, 300, ship="AGENT-1"),
        ],
    )
    assert await _one(migrated_url, "SELECT priority, outcome FROM request_log") == (
        "ship_unblock",
        "expired",
    )
    assert await _one(migrated_url, "SELECT priority FROM request_minutes") == ("ship_unblock",)
    assert await _one(migrated_url, "SELECT kind FROM transactions") == ("purchase",)
    assert await _one(migrated_url, "SELECT kind FROM credit_minutes") == ("purchase",)


async def test_the_callers_call_id_is_written_beside_the_event_uuid(
    migrated_url: str, events: Any
) -> None:
    named = events.request(call_id="dispatcher U: extract #17")
    unnamed = events.request(at=T0 + timedelta(seconds=1))
    await _write(migrated_url, [named, unnamed])
    rows = await _all(migrated_url, "SELECT event_id::text, call_id FROM request_log")
    assert sorted(rows) == sorted(
        [(named.event_id, "dispatcher U: extract #17"), (unnamed.event_id, None)]
    )


async def test_the_sending_node_and_fence_token_are_written_null_when_absent(
    migrated_url: str, events: Any
) -> None:
    fenced = events.request(node="U", fence_token=2**40, outcome=api_pb2.CALL_OUTCOME_FENCED)
    plain = events.request(at=T0 + timedelta(seconds=1))
    await _write(migrated_url, [fenced, plain])
    rows = await _all(
        migrated_url, "SELECT event_id::text, node, fence_token, outcome FROM request_log"
    )
    assert sorted(rows) == sorted(
        [(fenced.event_id, "U", 2**40, "fenced"), (plain.event_id, None, None, "completed")]
    )
