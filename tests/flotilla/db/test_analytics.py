"""The analytics read the rollup rows and the ships as the docstring of `flotilla.db.analytics`
defines; checked on rows written here by hand, so no writer is involved.

The rows (all times on 2026-01-05, UTC; the window is the hour 12:00–13:00, `now` = 13:00):

credit_minutes of AGENT   ship  behaviour  kind       credits  transactions
  11:59 (before)          A-1   mine       sell        99,999  1
  12:05                   A-1   mine       sell         1,500  2
  12:10                   A-1   mine       other          123  1   (no direction: in neither)
  12:30                   -     -          contract     2,000  1
  12:31                   A-2   haul       purchase       300  1
  12:40                   A-1   mine       fuel           100  1
  12:45                   -     -          ship         5,000  1
  12:50                   A-2   haul       sell         3,000  1
  13:00 (the end)         A-1   mine       sell        77,777  1
  gross 6,500, spent 5,400, net 1,100 → CPH gross 6,500, net 1,100
and OTHER-AGENT sells 4,242 at 12:20.

request_minutes of AGENT  class           calls sent attempts throttled ok  queued µs  wire µs
  11:58 (before)          cooldown_start  1     1    1        0         1   9,999,000  9,999,000
  12:00                   cooldown_start  3     3    3        0         3     600,000    900,000
  12:01                   cooldown_start  1     1    1        1         0           0    100,000
  12:02                   background      2     2    3        0         2   4,000,000  1,200,000
  12:03                   ship_unblock    1     0    0        0         0   5,000,000          0
  calls 7, sent 6, attempts 7, throttled 1, non-429 sent 5
  → CPR gross 6,500 / 5 = 1,300, net 1,100 / 5 = 220
  → 7 requests in 60 minutes: 7/60 per minute, saturation 7 / 60 / 150
  → seconds per request: cooldown_start 0.6/4 s queued + 1.0/4 s wire = 0.15 + 0.25 s;
    background 4.0/2 + 1.2/2 = 2.0 + 0.6 s; ship_unblock 5.0 s queued, never on the wire;
    all 9.6/7 s queued + 2.2/6 s wire.

ships at 13:00: A-1 cooling down until 13:01; A-2 in transit until 13:05; A-3 arrived at 12:55
with its cooldown over at 12:50; A-4 cooling down until 13:02 and in transit until 13:10
  → 2 cooling down, 2 in transit, 3 active, 4 ships.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from flotilla.db import analytics

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)
HOUR = timedelta(hours=1)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


CREDIT_MINUTES = [
    # minute, agent, ship_symbol, behaviour, kind, credits, transactions
    (at(-1), "AGENT", "A-1", "mine", "sell", 99_999, 1),
    (at(5), "AGENT", "A-1", "mine", "sell", 1_500, 2),
    (at(10), "AGENT", "A-1", "mine", "other", 123, 1),
    (at(30), "AGENT", "", "", "contract", 2_000, 1),
    (at(31), "AGENT", "A-2", "haul", "purchase", 300, 1),
    (at(40), "AGENT", "A-1", "mine", "fuel", 100, 1),
    (at(45), "AGENT", "", "", "ship", 5_000, 1),
    (at(50), "AGENT", "A-2", "haul", "sell", 3_000, 1),
    (at(60), "AGENT", "A-1", "mine", "sell", 77_777, 1),
    (at(20), "OTHER-AGENT", "", "", "sell", 4_242, 1),
]
REQUEST_MINUTES = [
    # minute, agent, priority, calls, sent, attempts, throttled, non_throttled, queued, wire
    (at(-2), "AGENT", "cooldown_start", 1, 1, 1, 0, 1, 9_999_000, 9_999_000),
    (at(0), "AGENT", "cooldown_start", 3, 3, 3, 0, 3, 600_000, 900_000),
    (at(1), "AGENT", "cooldown_start", 1, 1, 1, 1, 0, 0, 100_000),
    (at(2), "AGENT", "background", 2, 2, 3, 0, 2, 4_000_000, 1_200_000),
    (at(3), "AGENT", "ship_unblock", 1, 0, 0, 0, 0, 5_000_000, 0),
]
SHIPS = [
    # symbol, cooldown_expiration, nav_status, nav_arrival
    ("A-1", at(61), "DOCKED", None),
    ("A-2", None, "IN_TRANSIT", at(65)),
    ("A-3", at(50), "IN_TRANSIT", at(55)),
    ("A-4", at(62), "IN_TRANSIT", at(70)),
]


def _write_rows(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.cursor().executemany(
            "INSERT INTO credit_minutes (minute, agent, ship_symbol, behaviour, kind, credits,"
            " transactions) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            CREDIT_MINUTES,
        )
        conn.cursor().executemany(
            "INSERT INTO request_minutes (minute, agent, priority, calls, sent, attempts,"
            " throttled, non_throttled, queued_us_sum, wire_us_sum)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            REQUEST_MINUTES,
        )
        conn.cursor().executemany(
            "INSERT INTO ships (symbol, agent, version, updated_at, role_version, frame_version,"
            " behaviour_version, nav_version, fuel_version, cargo_version, cooldown_version,"
            " mounts_version, cooldown_expiration, nav_status, nav_arrival)"
            " VALUES (%s, 'AGENT', 1, %s, 0, 0, 0, 1, 0, 0, 1, 0, %s, %s, %s)",
            [
                (symbol, T0, cooldown, status, arrival)
                for symbol, cooldown, status, arrival in SHIPS
            ],
        )


@pytest.fixture
def known_db(migrated_url: str) -> str:
    _write_rows(migrated_url)
    return migrated_url


async def _connect(url: str) -> psycopg.AsyncConnection[Any]:
    return await psycopg.AsyncConnection.connect(url)


async def test_fleet_stats_match_the_hand_computed_values(known_db: str) -> None:
    async with await _connect(known_db) as conn:
        stats = await analytics.fleet_stats(conn, now=NOW, window=HOUR, agent="AGENT")
    assert (stats.credits.gross, stats.credits.spent, stats.credits.net) == (6_500, 5_400, 1_100)
    assert stats.cph_gross == pytest.approx(6_500)
    assert stats.cph_net == pytest.approx(1_100)
    assert stats.cpr_gross == pytest.approx(1_300)
    assert stats.cpr_net == pytest.approx(220)
    assert stats.requests == 7
    assert stats.requests_per_minute == pytest.approx(7 / 60)
    assert stats.saturation == pytest.approx(7 / 60 / 150)

    assert set(stats.timing) == {"cooldown_start", "background", "ship_unblock", "all"}
    cooldown = stats.timing["cooldown_start"]
    assert (cooldown.calls, cooldown.sent, cooldown.throttled, cooldown.non_throttled) == (
        4,
        4,
        1,
        3,
    )
    assert cooldown.queue_wait_seconds == pytest.approx(0.15)
    assert cooldown.wire_seconds == pytest.approx(0.25)
    assert cooldown.seconds_per_request == pytest.approx(0.40)
    background = stats.timing["background"]
    assert (background.calls, background.attempts) == (2, 3)
    assert background.seconds_per_request == pytest.approx(2.6)
    unblock = stats.timing["ship_unblock"]
    assert (unblock.sent, unblock.wire_seconds, unblock.seconds_per_request) == (0, None, 5.0)
    overall = stats.timing[analytics.ALL_CLASSES]
    assert (overall.calls, overall.sent, overall.attempts, overall.non_throttled) == (7, 6, 7, 5)
    assert overall.queue_wait_seconds == pytest.approx(9.6 / 7)
    assert overall.wire_seconds == pytest.approx(2.2 / 6)

    assert stats.active_ships == analytics.ActiveShips(
        in_cooldown=2, in_transit=2, active=3, total=4
    )


async def test_without_an_agent_every_agent_counts(known_db: str) -> None:
    async with await _connect(known_db) as conn:
        money = await analytics.credits(conn, now=NOW, window=HOUR)
    assert money.gross == 6_500 + 4_242


async def test_per_ship_and_per_behaviour_cph_match(known_db: str) -> None:
    async with await _connect(known_db) as conn:
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
    async with await _connect(known_db) as conn:
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
    async with await _connect(known_db) as conn:
        cur = await conn.execute(
            "SELECT sum(gross_credits), sum(net_credits), sum(requests), sum(saturation)"
            " FROM fleet_minutes WHERE agent = 'AGENT' AND minute >= %s AND minute < %s",
            (T0, NOW),
        )
        row = await cur.fetchone()
    assert row is not None
    assert (int(row[0]), int(row[1]), int(row[2])) == (6_500, 1_100, 7)
    assert float(row[3]) == pytest.approx(7 / 150)


def test_income_and_expense_kinds_are_the_shared_spellings() -> None:
    assert analytics.INCOME_KINDS == ("sell", "contract")
    assert analytics.EXPENSE_KINDS == ("purchase", "fuel", "ship", "mount")


def test_a_window_needs_an_aware_now_and_a_positive_length() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        analytics.Window.ending(datetime(2026, 1, 5, 12, 0), HOUR)
    with pytest.raises(ValueError, match="longer than zero"):
        analytics.Window.ending(NOW, timedelta(0))
