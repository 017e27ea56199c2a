"""Analytics from a known event set match values computed by hand.

The set (all times on 2026-01-05, UTC; the window is the hour 12:00–13:00, `now` = 13:00):

transactions of AGENT           kind      credits  ship   behaviour
  11:59 (before the window)     SELL       99,999  A-1    mine
  12:05                         SELL        1,000  A-1    mine
  12:05 (same instant)          SELL          500  A-1    mine
  12:10                         OTHER         123  A-1    mine   (no direction: in neither)
  12:30                         CONTRACT    2,000  -      -
  12:31                         PURCHASE      300  A-2    haul
  12:40                         FUEL          100  A-1    mine
  12:45                         SHIP        5,000  -      -
  12:50                         SELL        3,000  A-2    haul
  13:00 (the window's end)      SELL       77,777  A-1    mine
  gross 6,500, spent 5,400, net 1,100 → CPH gross 6,500, net 1,100
and OTHER-AGENT sells 4,242 at 12:20.

API calls of AGENT                class           status  attempts  queued ms   wire ms
  11:58 (before the window)       COOLDOWN_START  201     1         9,999       9,999
  12:00 ×3                        COOLDOWN_START  201     1         100/200/300 300 each
  12:01                           COOLDOWN_START  429     1         0           100
  12:02                           BACKGROUND      200     2         1,000       500
  12:02                           BACKGROUND      200     1         3,000       700
  12:03 (expired, never sent)     SHIP_UNBLOCK    0       0         5,000       0
  calls 7, sent 6, attempts 7, throttled 1, non-429 sent 5
  → CPR gross 6,500 / 5 = 1,300, net 1,100 / 5 = 220
  → 7 requests in 60 minutes: 7/60 per minute, saturation 7 / 60 / 150
  → seconds per request: COOLDOWN_START 600/4 ms queued + 1,000/4 ms wire = 0.15 + 0.25 s;
    BACKGROUND 4,000/2 + 1,200/2 = 2.0 + 0.6 s; SHIP_UNBLOCK 5.0 s queued, never on the wire;
    ALL 9,600/7 ms queued + 2,200/6 ms wire.

ships at 13:00: A-1 cooling down until 13:01; A-2 in transit until 13:05; A-3 arrived at 12:55
with its cooldown over at 12:50; A-4 cooling down until 13:02 and in transit until 13:10
  → 2 cooling down, 2 in transit, 3 active, 4 ships.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from flotilla.v1 import api_pb2, events_pb2
from persister import analytics

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)
HOUR = timedelta(hours=1)

SELL = events_pb2.TRANSACTION_KIND_SELL
COOLDOWN = api_pb2.PRIORITY_CLASS_COOLDOWN_START
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


async def test_fleet_stats_match_the_hand_computed_values(known_db: str) -> None:
    async with await psycopg.AsyncConnection.connect(known_db) as conn:
        stats = await analytics.fleet_stats(conn, now=NOW, window=HOUR, agent="AGENT")
    assert (stats.credits.gross, stats.credits.spent, stats.credits.net) == (6_500, 5_400, 1_100)
    assert stats.cph_gross == pytest.approx(6_500)
    assert stats.cph_net == pytest.approx(1_100)
    assert stats.cpr_gross == pytest.approx(1_300)
    assert stats.cpr_net == pytest.approx(220)
    assert stats.requests == 7
    assert stats.requests_per_minute == pytest.approx(7 / 60)
    assert stats.saturation == pytest.approx(7 / 60 / 150)

    cooldown = stats.timing["COOLDOWN_START"]
    assert (cooldown.calls, cooldown.sent, cooldown.throttled, cooldown.non_throttled) == (
        4,
        4,
        1,
        3,
    )
    assert cooldown.queue_wait_seconds == pytest.approx(0.15)
    assert cooldown.wire_seconds == pytest.approx(0.25)
    assert cooldown.seconds_per_request == pytest.approx(0.40)
    background = stats.timing["BACKGROUND"]
    assert (background.calls, background.attempts) == (2, 3)
    assert background.seconds_per_request == pytest.approx(2.6)
    unblock = stats.timing["SHIP_UNBLOCK"]
    assert (unblock.sent, unblock.wire_seconds, unblock.seconds_per_request) == (0, None, 5.0)
    overall = stats.timing[analytics.ALL_CLASSES]
    assert (overall.calls, overall.sent, overall.attempts, overall.non_throttled) == (7, 6, 7, 5)
    assert overall.queue_wait_seconds == pytest.approx(9.6 / 7)
    assert overall.wire_seconds == pytest.approx(2.2 / 6)

    assert stats.active_ships == analytics.ActiveShips(
        in_cooldown=2, in_transit=2, active=3, total=4
    )


async def test_without_an_agent_every_agent_counts(known_db: str) -> None:
    async with await psycopg.AsyncConnection.connect(known_db) as conn:
        money = await analytics.credits(conn, now=NOW, window=HOUR)
    assert money.gross == 6_500 + 4_242


async def test_per_ship_and_per_behaviour_cph_match(known_db: str) -> None:
    async with await psycopg.AsyncConnection.connect(known_db) as conn:
        ships = await analytics.earnings_by_ship(conn, now=NOW, window=HOUR, agent="AGENT")
        behaviours = await analytics.earnings_by_behaviour(
            conn, now=NOW, window=HOUR, agent="AGENT"
        )
        half = await analytics.earnings_by_ship(
            conn, now=NOW, window=timedelta(minutes=30), agent="AGENT"
        )
    assert [(e.key, e.gross, e.spent, e.net) for e in ships] == [
        ("A-2", 3_000, 300, 2_700),
        ("A-1", 1_500, 100, 1_400),
        ("", 2_000, 5_000, -3_000),
    ]
    assert [(e.key, e.cph_net) for e in behaviours] == [
        ("haul", 2_700),
        ("mine", 1_400),
        ("", -3_000),
    ]
    # Over the last 30 minutes (12:30–13:00) A-2 earned 3,000 − 300 in half an hour.
    assert half[0].key == "A-2"
    assert half[0].cph_net == pytest.approx(2 * 2_700)


async def test_the_minute_series_has_every_minute_of_the_window(known_db: str) -> None:
    async with await psycopg.AsyncConnection.connect(known_db) as conn:
        series = await analytics.minute_series(conn, now=NOW, window=HOUR, agent="AGENT")
    assert len(series) == 60
    assert series[0].minute == T0
    by_minute = {m.minute: m for m in series}
    assert by_minute[at(0)].requests == 3
    assert by_minute[at(0)].saturation == pytest.approx(3 / 150)
    assert by_minute[at(5)].gross == 1_500
    assert by_minute[at(5)].cph_gross == 1_500 * 60
    assert by_minute[at(31)].net == -300
    assert sum(m.gross for m in series) == 6_500


async def test_the_dashboard_view_agrees_with_the_python_api(known_db: str) -> None:
    async with await psycopg.AsyncConnection.connect(known_db) as conn:
        cur = await conn.execute(
            "SELECT sum(gross_credits), sum(net_credits), sum(requests), sum(saturation)"
            " FROM fleet_minutes WHERE agent = 'AGENT' AND minute >= %s AND minute < %s",
            (T0, NOW),
        )
        row = await cur.fetchone()
    assert row is not None
    assert (int(row[0]), int(row[1]), int(row[2])) == (6_500, 1_100, 7)
    assert float(row[3]) == pytest.approx(7 / 150)


def test_a_window_needs_an_aware_now_and_a_positive_length() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        analytics.Window.ending(datetime(2026, 1, 5, 12, 0), HOUR)
    with pytest.raises(ValueError, match="longer than zero"):
        analytics.Window.ending(NOW, timedelta(0))
