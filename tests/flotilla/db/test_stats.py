"""`flotilla stats` against a real PostgreSQL whose rows the persister's writer put there.

The week (every time UTC; the window is the 7 days ending `NOW`):

- ships A-1 (mine), A-2 (haul), A-3 (explore) of AGENT, and B-1 of OTHER;
- credits: A-1 sells 6,000 on day 1 and 3,000 on day 2 and buys fuel for 500; A-2 sells 2,400;
  a contract pays 1,000 (ship A-2, behaviour contract); a ship bought for 4,000 (no ship, no
  behaviour); before the window A-1 sells 99,999; OTHER's B-1 sells 7,777;
- calls: 6 in three distinct minutes inside the window (one a fulfil answered 200, one a
  fulfil answered 400, one throttled with 2 attempts), one before the window.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from flotilla import cli, stats
from flotilla.clock import ManualClock
from flotilla.db import analytics, migrate
from flotilla.local_servers import PostgresServer, free_port
from flotilla.v1 import api_pb2, events_pb2
from persister.coalesce import coalesce_batch
from persister.contract import decode_event
from persister.writes import BatchWriter

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
DAY1 = NOW - timedelta(days=6)
DAY2 = NOW - timedelta(days=5)
BEFORE = NOW - timedelta(days=8)
SUBJECTS = {
    events_pb2.ShipState: "flotilla.events.ship",
    events_pb2.Transaction: "flotilla.events.transaction",
    events_pb2.RequestLog: "flotilla.events.request",
}
SELL = events_pb2.TRANSACTION_KIND_SELL
FUEL = events_pb2.TRANSACTION_KIND_FUEL
SHIP = events_pb2.TRANSACTION_KIND_SHIP
CONTRACT = events_pb2.TRANSACTION_KIND_CONTRACT


def _ship(agent: str, symbol: str, behaviour: str) -> events_pb2.ShipState:
    state = events_pb2.ShipState(
        event_id=str(uuid.uuid4()),
        agent=agent,
        ship_symbol=symbol,
        version=1,
        changed=["nav", "role"],
        role="EXCAVATOR",
        behaviour=behaviour,
    )
    state.observed_at.FromDatetime(DAY1)
    state.nav.system_symbol = "X1-AA"
    state.nav.waypoint_symbol = "X1-AA-A1"
    state.nav.status = "DOCKED"
    state.nav.flight_mode = "CRUISE"
    return state


def _transaction(
    agent: str, ship: str, behaviour: str, kind: int, total: int, at: datetime
) -> events_pb2.Transaction:
    tx = events_pb2.Transaction(
        event_id=str(uuid.uuid4()),
        agent=agent,
        ship_symbol=ship,
        waypoint_symbol="X1-AA-A1",
        kind=kind,  # type: ignore[arg-type]
        trade_symbol="IRON_ORE" if kind == SELL else "",
        units=1,
        price_per_unit=total,
        total_price=total,
        behaviour=behaviour,
    )
    tx.timestamp.FromDatetime(at)
    return tx


def _call(
    endpoint: str,
    at: datetime,
    *,
    status: int = 200,
    attempts: int = 1,
    outcome: int = api_pb2.CALL_OUTCOME_COMPLETED,
    queued_ms: float = 100.0,
    wire_ms: float = 200.0,
) -> events_pb2.RequestLog:
    log = events_pb2.RequestLog(
        event_id=str(uuid.uuid4()),
        agent="AGENT",
        ship_symbol="A-1",
        endpoint=endpoint,
        method="POST",
        priority=api_pb2.PRIORITY_CLASS_FLEET,
        status=status,
        queued_ms=queued_ms,
        wire_ms=wire_ms,
        attempts=attempts,
        outcome=outcome,  # type: ignore[arg-type]
    )
    log.timestamp.FromDatetime(at)
    return log


EXTRACT = "/my/ships/{shipSymbol}/extract"
FULFIL = analytics.CONTRACT_FULFIL_ENDPOINT


def _week() -> list[Any]:
    return [
        _ship("AGENT", "A-1", "mine"),
        _ship("AGENT", "A-2", "haul"),
        _ship("AGENT", "A-3", "explore"),
        _ship("OTHER", "B-1", "mine"),
        _transaction("AGENT", "A-1", "mine", SELL, 6_000, DAY1),
        _transaction("AGENT", "A-1", "mine", SELL, 3_000, DAY2),
        _transaction("AGENT", "A-1", "mine", FUEL, 500, DAY2),
        _transaction("AGENT", "A-2", "haul", SELL, 2_400, DAY2),
        _transaction("AGENT", "A-2", "contract", CONTRACT, 1_000, DAY2),
        _transaction("AGENT", "", "", SHIP, 4_000, DAY1),
        _transaction("AGENT", "A-1", "mine", SELL, 99_999, BEFORE),
        _transaction("OTHER", "B-1", "mine", SELL, 7_777, DAY1),
        _call(EXTRACT, DAY1),
        _call(EXTRACT, DAY1 + timedelta(seconds=10)),
        _call(EXTRACT, DAY2, status=429, attempts=2),
        _call(FULFIL, DAY2 + timedelta(seconds=5)),
        _call(FULFIL, DAY2 + timedelta(minutes=3), status=400, outcome=api_pb2.CALL_OUTCOME_FAILED),
        _call(EXTRACT, DAY2 + timedelta(minutes=3, seconds=1)),
        _call(EXTRACT, BEFORE),
    ]


async def _write(url: str, messages: Sequence[Any]) -> None:
    batch = coalesce_batch(decode_event(SUBJECTS[type(m)], m.SerializeToString()) for m in messages)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await BatchWriter().write(conn, batch)


def _stats(*argv: str) -> tuple[int, str, str]:
    args = cli.build_parser().parse_args(["stats", *argv])
    out, err = io.StringIO(), io.StringIO()
    code = stats.run_stats(args, out=out, err=err, clock=ManualClock(NOW))
    return code, out.getvalue(), err.getvalue()


def _value(table: str, name: str) -> str:
    for line in table.splitlines():
        if line.startswith(name + " ") and line[len(name) :].startswith("  "):
            return line[len(name) :].strip()
    raise AssertionError(f"{name!r} not in:\n{table}")


@pytest.fixture
def week_url(migrated_url: str) -> str:
    asyncio.run(_write(migrated_url, _week()))
    return migrated_url


async def test_the_report_has_the_weeks_figures(week_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(week_url, autocommit=True) as conn:
        report = await analytics.operator_report(
            conn, now=NOW, window=timedelta(days=7), agent="AGENT"
        )
    assert report.fleet_size == 3
    assert report.contracts_completed == 1
    assert report.credits_earned == 6_000 + 3_000 + 2_400 + 1_000
    assert report.stats.credits.spent == 500 + 4_000
    assert report.stats.requests == 7  # six calls, one of them sent twice
    assert report.uptime == timedelta(minutes=3)  # DAY1 12:00, DAY2 12:00, DAY2 12:03
    assert report.cph_uptime_gross == pytest.approx(12_400 / (3 / 60))
    assert [e.key for e in report.ships] == ["A-1", "A-2"]  # the ship purchase named no ship
    assert [e.key for e in report.behaviours] == ["mine", "haul", "contract", ""]
    assert report.behaviours[-1].net == -4_000


def test_stats_prints_the_weekly_table_and_the_rankings(week_url: str) -> None:
    code, out, err = _stats("--database-url", week_url, "--agent", "AGENT", "--top", "1")
    assert (code, err) == (0, "")
    assert _value(out, "fleet size") == "3"
    assert _value(out, "contracts completed") == "1"
    assert _value(out, "credits earned") == "12,400"
    assert _value(out, "credits net") == "7,900"
    assert _value(out, "requests") == "7"
    assert _value(out, "uptime") == "3m"
    assert _value(out, "CPH") == f"{12_400 * 20:,.2f}"
    assert _value(out, "CPR") == f"{12_400 / 5:,.2f}"  # 6 sent calls, one throttled
    # queued 0.1 s per call; 0.2 s on the wire per sent call
    assert _value(out, "seconds per request") == "0.300"
    assert _value(out, "saturation") == f"{7 / (7 * 24 * 60) / 150:.3f}"
    ships = out.split("ships by CPH")[1].split("behaviours by CPH")[0]
    assert "top    A-1" in ships and "bottom A-2" in ships
    behaviours = out.split("behaviours by CPH")[1]
    assert "top    mine" in behaviours and "bottom (none)" in behaviours
    assert "haul" not in behaviours  # only one at each end with --top 1


def test_the_window_can_be_given_by_its_ends_or_its_length(week_url: str) -> None:
    # Only day 2: from DAY2 to DAY2 + 1 day.
    until = (DAY2 + timedelta(days=1)).isoformat()
    by_ends = _stats(
        "--database-url",
        week_url,
        "--agent",
        "AGENT",
        "--since",
        DAY2.isoformat(),
        "--until",
        until,
    )
    by_length = _stats(
        "--database-url", week_url, "--agent", "AGENT", "--window", "1d", "--until", until
    )
    assert by_ends == by_length
    code, out, _ = by_ends
    assert code == 0
    assert _value(out, "credits earned") == "6,400"  # 3,000 + 2,400 + 1,000
    assert _value(out, "uptime") == "2m"
    # Every agent: OTHER's sale on day 1 counts over the whole week.
    _, everyone, _ = _stats("--database-url", week_url, "--window", "7d")
    assert _value(everyone, "credits earned") == f"{12_400 + 7_777:,}"
    assert _value(everyone, "fleet size") == "4"


def test_bad_windows_are_refused_naming_the_option() -> None:
    code, _, err = _stats("--window", "a week")
    assert code == 2 and "not a duration: 'a week'" in err
    code, _, err = _stats("--since", "2026-11-01", "--window", "7d")
    assert code == 2 and "--since or --window" in err
    code, _, err = _stats("--since", "2026-12-01", "--until", "2026-11-01")
    assert code == 2 and "must be before --until" in err
    code, _, err = _stats("--until", "yesterday")
    assert code == 2 and "not a date or time: 'yesterday'" in err


def test_an_unreachable_database_is_named_without_its_password() -> None:
    url = f"postgresql://reader:hunter2@127.0.0.1:{free_port()}/flotilla"
    code, out, err = _stats("--database-url", url)
    assert code == 1 and out == ""
    assert err.startswith("stats: cannot reach the database at postgresql://reader:")
    assert "hunter2" not in err


def test_a_database_without_the_schema_says_to_migrate(database_url: str) -> None:
    code, _, err = _stats("--database-url", database_url)
    assert code == 1 and "run `flotilla migrate`" in err


def test_an_empty_database_says_nothing_was_recorded(migrated_url: str) -> None:
    code, out, err = _stats("--database-url", migrated_url)
    assert (code, err) == (0, "")
    assert out.startswith("stats: nothing recorded between 2026-11-23 12:00 and 2026-11-30 12:00")


def test_a_missing_local_run_is_named(tmp_path: Path) -> None:
    code, _, err = _stats("--data-dir", str(tmp_path / "nowhere"))
    assert code == 1 and "no local run in" in err and "--database-url" in err


def test_the_command_line_entry_point_runs_stats(week_url: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "flotilla.cli",
            "stats",
            "--database-url",
            week_url,
            "--since",
            (NOW - timedelta(days=7)).isoformat(),
            "--until",
            NOW.isoformat(),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert _value(result.stdout, "credits earned") == f"{12_400 + 7_777:,}"


@contextlib.contextmanager
def _data_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="flotilla-stats-"))
    try:
        yield path
    finally:
        import shutil

        shutil.rmtree(path, ignore_errors=True)


@pytest.mark.slow
def test_stats_reads_a_local_run_whether_or_not_it_is_running() -> None:
    with _data_dir() as data_dir:
        server = PostgresServer(data_dir / "postgres", durable=False)
        server.start()
        try:
            migrate.upgrade(server.url)
            asyncio.run(_write(server.url, _week()))
            assert stats.local_database_url(data_dir) == server.url
            code, running, err = _stats("--data-dir", str(data_dir), "--agent", "AGENT")
            assert (code, err) == (0, "")
            assert _value(running, "credits earned") == "12,400"
        finally:
            server.stop()
        assert stats.local_database_url(data_dir) is None
        # Stopped: stats starts the folder's server for the read and stops it again.
        code, stopped, err = _stats("--data-dir", str(data_dir), "--agent", "AGENT")
        assert (code, err) == (0, "")
        assert stopped == running
        assert stats.local_database_url(data_dir) is None
        assert not (data_dir / "up.lock").exists()
