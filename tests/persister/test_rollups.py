"""The writer's per-minute rollups, from a known event set, are the rows worked out by hand,
spelled as every service spells them, and are what `flotilla.db.analytics` reads.

The set (all times on 2026-01-05, UTC):

transactions of AGENT           kind      credits  ship   behaviour
  11:59                         sell       99,999  A-1    mine
  12:05                         sell        1,000  A-1    mine
  12:05 (same instant)          sell          500  A-1    mine    (one row with the one above)
  12:10                         other         123  A-1    mine
  12:30                         contract    2,000  -      -
  12:31                         purchase      300  A-2    haul
  12:40                         fuel          100  A-1    mine
  12:45                         ship        5,000  -      -
  12:50                         sell        3,000  A-2    haul
  13:00                         sell       77,777  A-1    mine
and OTHER-AGENT sells 4,242 at 12:20.

API calls of AGENT                class           status  attempts  queued ms   wire ms
  11:58                           cooldown_start  201     1         9,999       9,999
  12:00 ×3                        cooldown_start  201     1         100/200/300 300 each
  12:01                           cooldown_start  429     1         0           100
  12:02                           background      200     2         1,000       500
  12:02                           background      200     1         3,000       700
  12:03 (expired, never sent)     ship_unblock    0       0         5,000       0
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from flotilla.db import analytics
from flotilla.v1 import api_pb2, events_pb2

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)
HOUR = timedelta(hours=1)

SELL = events_pb2.TRANSACTION_KIND_SELL
BACKGROUND = api_pb2.PRIORITY_CLASS_BACKGROUND


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _known_events(events: Any) -> list[Any]:
    k = events_pb2
    out = [
        events.transaction(SELL, 99_999, at=at(-1), ship="A-1", behaviour="mine"),
        events.transaction(SELL, 1_000, at=at(5), ship="A-1", behaviour="mine"),
        events.transaction(SELL, 500, at=at(5), ship="A-1", behaviour="mine"),
        events.transaction(k.TRANSACTION_KIND_OTHER, 123, at=at(10), ship="A-1", behaviour="mine"),
        events.transaction(k.TRANSACTION_KIND_CONTRACT, 2_000, at=at(30)),
        events.transaction(
            k.TRANSACTION_KIND_PURCHASE, 300, at=at(31), ship="A-2", behaviour="haul"
        ),
        events.transaction(k.TRANSACTION_KIND_FUEL, 100, at=at(40), ship="A-1", behaviour="mine"),
        events.transaction(k.TRANSACTION_KIND_SHIP, 5_000, at=at(45)),
        events.transaction(SELL, 3_000, at=at(50), ship="A-2", behaviour="haul"),
        events.transaction(SELL, 77_777, at=at(60), ship="A-1", behaviour="mine"),
        events.transaction(SELL, 4_242, at=at(20), agent="OTHER-AGENT"),
        events.request(at=at(-2), queued_ms=9_999, wire_ms=9_999),
        events.request(at=at(0), queued_ms=100, wire_ms=300),
        events.request(at=at(0.2), queued_ms=200, wire_ms=300),
        events.request(at=at(0.4), queued_ms=300, wire_ms=300),
        events.request(at=at(1), status=429, queued_ms=0, wire_ms=100),
        events.request(
            at=at(2), priority=BACKGROUND, status=200, attempts=2, queued_ms=1_000, wire_ms=500
        ),
        events.request(at=at(2.5), priority=BACKGROUND, status=200, queued_ms=3_000, wire_ms=700),
        events.request(
            at=at(3),
            priority=api_pb2.PRIORITY_CLASS_SHIP_UNBLOCK,
            status=0,
            attempts=0,
            queued_ms=5_000,
            wire_ms=0,
            outcome=api_pb2.CALL_OUTCOME_EXPIRED,
        ),
        events.ship("A-1", 1, cooldown=at(61), nav={"waypoint": "X1-AA-A1", "status": "DOCKED"}),
        events.ship(
            "A-2", 1, nav={"waypoint": "X1-AA-A1", "status": "IN_TRANSIT", "arrival": at(65)}
        ),
        events.ship(
            "A-3",
            1,
            cooldown=at(50),
            nav={"waypoint": "X1-AA-A1", "status": "IN_TRANSIT", "arrival": at(55)},
        ),
        events.ship(
            "A-4",
            1,
            cooldown=at(62),
            nav={"waypoint": "X1-AA-A1", "status": "IN_TRANSIT", "arrival": at(70)},
        ),
    ]
    return out


@pytest.fixture
async def known_db(migrated_url: str, events: Any, write_reference: Any) -> str:
    await write_reference(migrated_url, _known_events(events))
    return migrated_url


def _rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return [tuple(row) for row in conn.execute(sql).fetchall()]


def test_credit_minutes_are_the_transactions_summed_by_minute_ship_behaviour_and_kind(
    known_db: str,
) -> None:
    assert _rows(
        known_db,
        "SELECT minute, agent, ship_symbol, behaviour, kind, credits, transactions"
        " FROM credit_minutes ORDER BY minute, agent",
    ) == [
        (at(-1), "AGENT", "A-1", "mine", "sell", 99_999, 1),
        (at(5), "AGENT", "A-1", "mine", "sell", 1_500, 2),
        (at(10), "AGENT", "A-1", "mine", "other", 123, 1),
        (at(20), "OTHER-AGENT", "", "", "sell", 4_242, 1),
        (at(30), "AGENT", "", "", "contract", 2_000, 1),
        (at(31), "AGENT", "A-2", "haul", "purchase", 300, 1),
        (at(40), "AGENT", "A-1", "mine", "fuel", 100, 1),
        (at(45), "AGENT", "", "", "ship", 5_000, 1),
        (at(50), "AGENT", "A-2", "haul", "sell", 3_000, 1),
        (at(60), "AGENT", "A-1", "mine", "sell", 77_777, 1),
    ]


def test_request_minutes_count_calls_sent_attempts_and_429s_per_class(known_db: str) -> None:
    assert _rows(
        known_db,
        "SELECT minute, priority, calls, sent, attempts, throttled, non_throttled,"
        " queued_us_sum, wire_us_sum FROM request_minutes ORDER BY minute",
    ) == [
        (at(-2), "cooldown_start", 1, 1, 1, 0, 1, 9_999_000, 9_999_000),
        (at(0), "cooldown_start", 3, 3, 3, 0, 3, 600_000, 900_000),
        (at(1), "cooldown_start", 1, 1, 1, 1, 0, 0, 100_000),
        (at(2), "background", 2, 2, 3, 0, 2, 4_000_000, 1_200_000),
        (at(3), "ship_unblock", 1, 0, 0, 0, 0, 5_000_000, 0),
    ]


async def test_the_analytics_read_what_the_writer_wrote(known_db: str) -> None:
    async with await psycopg.AsyncConnection.connect(known_db) as conn:
        stats = await analytics.fleet_stats(conn, now=NOW, window=HOUR, agent="AGENT")
    # Income sell + contract, spent purchase + fuel + ship: the writer's and the reader's
    # spellings agree, or these sums would be zero.
    assert (stats.credits.gross, stats.credits.spent) == (6_500, 5_400)
    assert set(stats.timing) == {"cooldown_start", "background", "ship_unblock", "all"}
    assert stats.timing[analytics.ALL_CLASSES].calls == 7
    assert stats.active_ships.total == 4
