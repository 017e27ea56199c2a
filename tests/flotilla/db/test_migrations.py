"""The Alembic migrations create exactly the SQLModel schema, run idempotently, downgrade
cleanly, respell rows written by earlier revisions, and are what `flotilla migrate` applies."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from flotilla.db import analytics, migrate
from flotilla.db.schema import TABLE_NAMES, metadata
from flotilla.db.urls import sqlalchemy_url

MINUTE = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    return {row[0] for row in rows}


def test_the_migrated_schema_matches_the_sqlmodel_tables(database_url: str) -> None:
    migrate.upgrade(database_url)
    engine = create_engine(sqlalchemy_url(database_url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "include_object": lambda obj, name, type_, *_: (
                        type_ != "table" or name in TABLE_NAMES
                    ),
                },
            )
            differences = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert differences == []
    assert _tables(database_url) >= TABLE_NAMES
    assert {"fleet_minutes", "request_timing_minutes", "alembic_version"} <= _tables(database_url)


def test_migrating_twice_changes_nothing_and_downgrade_removes_everything(
    database_url: str,
) -> None:
    migrate.upgrade(database_url)
    migrate.upgrade(database_url)
    with psycopg.connect(database_url) as conn:
        version = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    assert version == (migrate.head_revision(),)
    migrate.downgrade(database_url, "base")
    assert _tables(database_url) == {"alembic_version"}
    migrate.upgrade(database_url)
    assert _tables(database_url) >= TABLE_NAMES


def _flotilla_migrate(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flotilla.cli", "migrate", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _version(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    assert row is not None
    return str(row[0])


def test_flotilla_migrate_takes_a_url_and_a_revision(database_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "FLOTILLA_DATABASE_URL"}
    result = _flotilla_migrate("--database-url", database_url, "--revision", "0001", env=env)
    assert result.returncode == 0, result.stderr
    assert "the schema is at 0001" in result.stdout
    assert _version(database_url) == "0001"
    result = _flotilla_migrate("--database-url", database_url, env=env)
    assert result.returncode == 0, result.stderr
    assert _version(database_url) == migrate.head_revision()


def test_flotilla_migrate_reports_a_database_it_cannot_reach_in_one_line() -> None:
    env = dict(os.environ)
    url = "postgresql://nobody:secret@127.0.0.1:1/none"
    result = _flotilla_migrate("--database-url", url, env=env)
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("migrate: failed on postgresql://nobody:***@127.0.0.1:1/none: ")
    assert "connection" in line and "secret" not in line


def test_flotilla_migrate_applies_the_migrations_to_the_configured_database(
    database_url: str,
) -> None:
    env = {**os.environ, "FLOTILLA_DATABASE_URL": database_url}
    result = subprocess.run(
        [sys.executable, "-m", "flotilla.cli", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "the schema is at head" in result.stdout
    assert _tables(database_url) >= TABLE_NAMES


def test_flotilla_migrate_without_a_database_names_the_variable() -> None:
    env = {k: v for k, v in os.environ.items() if k != "FLOTILLA_DATABASE_URL"}
    result = subprocess.run(
        [sys.executable, "-m", "flotilla.cli", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "FLOTILLA_DATABASE_URL" in result.stderr


# --- revision 0002: one spelling in the rows ---------------------------------------------------


def _insert(conn: psycopg.Connection[Any], table: str, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        columns = ", ".join(row)
        marks = ", ".join(["%s"] * len(row))
        conn.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(row.values()))


def _request(n: int, priority: str, outcome: str) -> dict[str, Any]:
    return {
        "event_id": f"00000000-0000-4000-8000-{n:012d}",
        "agent": "AGENT",
        "endpoint": "/my/ships/{shipSymbol}/extract",
        "method": "POST",
        "priority": priority,
        "status": 201,
        "error_code": 0,
        "queued_ms": 10.0,
        "wire_ms": 100.0,
        "attempts": 1,
        "timestamp": MINUTE,
        "outcome": outcome,
    }


def _transaction(n: int, kind: str, total: int) -> dict[str, Any]:
    return {
        "event_id": f"00000000-0000-4000-9000-{n:012d}",
        "agent": "AGENT",
        "ship_symbol": "A-1",
        "kind": kind,
        "units": 1,
        "price_per_unit": total,
        "total_price": total,
        "timestamp": MINUTE,
        "behaviour": "mine",
    }


def _request_minute(priority: str, calls: int, wire_us: int) -> dict[str, Any]:
    return {
        "minute": MINUTE,
        "agent": "AGENT",
        "priority": priority,
        "calls": calls,
        "sent": calls,
        "attempts": calls,
        "throttled": 0,
        "non_throttled": calls,
        "queued_us_sum": 10_000 * calls,
        "wire_us_sum": wire_us,
    }


def _credit_minute(kind: str, credits: int, transactions: int) -> dict[str, Any]:
    return {
        "minute": MINUTE,
        "agent": "AGENT",
        "ship_symbol": "A-1",
        "behaviour": "mine",
        "kind": kind,
        "credits": credits,
        "transactions": transactions,
    }


def _fleet_minute(url: str) -> tuple[int, int, int]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT gross_credits, net_credits, calls FROM fleet_minutes WHERE agent = 'AGENT'"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def _rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return [tuple(row) for row in conn.execute(sql).fetchall()]


def test_revision_0002_respells_the_rows_revision_0001_wrote(database_url: str) -> None:
    migrate.upgrade(database_url, "0001")
    with psycopg.connect(database_url) as conn:
        _insert(
            conn,
            "request_log",
            [_request(1, "COOLDOWN_START", "COMPLETED"), _request(2, "BACKGROUND", "EXPIRED")],
        )
        _insert(
            conn,
            "transactions",
            [_transaction(1, "SELL", 1_000), _transaction(2, "PURCHASE", 300)],
        )
        _insert(
            conn,
            "request_minutes",
            [
                _request_minute("COOLDOWN_START", 3, 300_000),
                _request_minute("BACKGROUND", 1, 100_000),
                # Already in the new spelling under the same key: merged, never lost.
                _request_minute("cooldown_start", 2, 200_000),
            ],
        )
        _insert(
            conn,
            "credit_minutes",
            [
                _credit_minute("SELL", 1_000, 1),
                _credit_minute("PURCHASE", 300, 1),
                _credit_minute("sell", 50, 1),
            ],
        )
    # Revision 0001's view counts only the enum names.
    assert _fleet_minute(database_url) == (1_000, 700, 6)

    migrate.upgrade(database_url)

    assert _rows(database_url, "SELECT priority, outcome FROM request_log ORDER BY event_id") == [
        ("cooldown_start", "completed"),
        ("background", "expired"),
    ]
    assert _rows(database_url, "SELECT kind, total_price FROM transactions ORDER BY kind") == [
        ("purchase", 300),
        ("sell", 1_000),
    ]
    assert _rows(
        database_url,
        "SELECT priority, calls, wire_us_sum FROM request_minutes ORDER BY priority",
    ) == [("background", 1, 100_000), ("cooldown_start", 5, 500_000)]
    assert _rows(
        database_url, "SELECT kind, credits, transactions FROM credit_minutes ORDER BY kind"
    ) == [("purchase", 300, 1), ("sell", 1_050, 2)]
    # The recreated view and the analytics read the new spelling.
    assert _fleet_minute(database_url) == (1_050, 750, 6)
    with psycopg.connect(database_url) as conn:
        cur = conn.execute(
            "SELECT sum(credits) FILTER (WHERE kind = ANY(%s)),"
            " sum(credits) FILTER (WHERE kind = ANY(%s)) FROM credit_minutes",
            (list(analytics.INCOME_KINDS), list(analytics.EXPENSE_KINDS)),
        )
        assert cur.fetchone() == (1_050, 300)


async def test_after_revision_0002_the_analytics_see_the_converted_rows(
    database_url: str,
) -> None:
    migrate.upgrade(database_url, "0001")
    with psycopg.connect(database_url) as conn:
        _insert(conn, "request_minutes", [_request_minute("COOLDOWN_START", 4, 400_000)])
        _insert(conn, "credit_minutes", [_credit_minute("CONTRACT", 2_000, 1)])
    migrate.upgrade(database_url)
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        stats = await analytics.fleet_stats(
            conn, now=MINUTE + timedelta(hours=1), window=timedelta(hours=1), agent="AGENT"
        )
    assert stats.credits.gross == 2_000
    assert set(stats.timing) == {"cooldown_start", analytics.ALL_CLASSES}
    assert stats.timing["cooldown_start"].calls == 4
    assert stats.timing["cooldown_start"].wire_seconds == 0.1


def test_downgrading_revision_0002_brings_back_the_enum_names(database_url: str) -> None:
    migrate.upgrade(database_url)
    with psycopg.connect(database_url) as conn:
        _insert(conn, "request_log", [_request(1, "fleet", "overloaded")])
        _insert(conn, "transactions", [_transaction(1, "contract", 2_000)])
        _insert(conn, "request_minutes", [_request_minute("fleet", 2, 0)])
        _insert(
            conn,
            "credit_minutes",
            [_credit_minute("contract", 2_000, 1), _credit_minute("fuel", 100, 1)],
        )
    assert _fleet_minute(database_url) == (2_000, 1_900, 2)

    migrate.downgrade(database_url, "0001")

    assert _version(database_url) == "0001"
    assert _rows(database_url, "SELECT priority, outcome FROM request_log") == [
        ("FLEET", "OVERLOADED")
    ]
    assert _rows(database_url, "SELECT kind FROM transactions") == [("CONTRACT",)]
    assert _rows(database_url, "SELECT priority, calls FROM request_minutes") == [("FLEET", 2)]
    assert _rows(database_url, "SELECT kind, credits FROM credit_minutes ORDER BY kind") == [
        ("CONTRACT", 2_000),
        ("FUEL", 100),
    ]
    # Revision 0001's view is back, and reads the enum names again.
    assert _fleet_minute(database_url) == (2_000, 1_900, 2)


# --- revision 0003: bounded symbols, the caller's call id ---------------------------------------


def test_revision_0003_bounds_symbols_keeps_the_rows_and_adds_the_call_id(
    database_url: str,
) -> None:
    migrate.upgrade(database_url, "0002")
    longest = "S" * 64
    with psycopg.connect(database_url) as conn:
        _insert(conn, "request_log", [{**_request(1, "fleet", "completed"), "agent": longest}])
        _insert(conn, "transactions", [_transaction(1, "sell", 1_000)])

    migrate.upgrade(database_url)

    assert _rows(database_url, "SELECT agent, call_id FROM request_log") == [(longest, None)]
    assert _rows(database_url, "SELECT ship_symbol FROM transactions") == [("A-1",)]
    with psycopg.connect(database_url) as conn:
        _insert(
            conn,
            "request_log",
            [{**_request(2, "fleet", "completed"), "call_id": "caller's own id, any text"}],
        )
        with pytest.raises(psycopg.errors.StringDataRightTruncation):
            _insert(conn, "transactions", [{**_transaction(2, "sell", 1), "agent": "S" * 65}])


def test_downgrading_revision_0003_unbounds_symbols_and_drops_the_call_id(
    database_url: str,
) -> None:
    migrate.upgrade(database_url)
    with psycopg.connect(database_url) as conn:
        _insert(conn, "request_log", [{**_request(1, "fleet", "completed"), "call_id": "c-1"}])
    migrate.downgrade(database_url, "0002")
    assert _version(database_url) == "0002"
    assert _rows(database_url, "SELECT agent FROM request_log") == [("AGENT",)]
    with psycopg.connect(database_url) as conn:
        columns = {
            row[0]: row[1]
            for row in conn.execute(
                "SELECT column_name, character_maximum_length FROM information_schema.columns"
                " WHERE table_name = 'request_log'"
            )
        }
        _insert(conn, "transactions", [{**_transaction(2, "sell", 1), "agent": "S" * 65}])
    assert "call_id" not in columns and columns["agent"] is None


# --- revision 0004: the sending node and the fencing token ------------------------------------


def test_revision_0004_adds_the_node_and_fence_token_and_downgrades_without_them(
    database_url: str,
) -> None:
    migrate.upgrade(database_url, "0003")
    with psycopg.connect(database_url) as conn:
        _insert(conn, "request_log", [_request(1, "fleet", "completed")])
    migrate.upgrade(database_url)
    with psycopg.connect(database_url) as conn:
        _insert(
            conn,
            "request_log",
            [{**_request(2, "fleet", "fenced"), "node": "U", "fence_token": 2**40}],
        )
    assert _rows(database_url, "SELECT node, fence_token FROM request_log ORDER BY event_id") == [
        (None, None),
        ("U", 2**40),
    ]
    migrate.downgrade(database_url, "0003")
    assert _version(database_url) == "0003"
    with psycopg.connect(database_url) as conn:
        columns = {
            row[0]
            for row in conn.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_name = 'request_log'"
            )
        }
    assert {"node", "fence_token"}.isdisjoint(columns) and "call_id" in columns
    assert _rows(database_url, "SELECT count(*) FROM request_log") == [(2,)]


# --- revision 0006: the world view's waypoint observations and surveys --------------------------


def _survey(signature: str, **fields: Any) -> dict[str, Any]:
    return {
        "signature": signature,
        "waypoint_symbol": "X1-A-B1",
        "size": "SMALL",
        "deposits": ["IRON_ORE"],
        "expiration": MINUTE + timedelta(hours=1),
        "observed_at": MINUTE,
        **fields,
    }


def test_revision_0006_adds_waypoint_facts_and_survey_makers_and_keeps_the_rows(
    database_url: str,
) -> None:
    migrate.upgrade(database_url, "0005")
    with psycopg.connect(database_url) as conn:
        _insert(conn, "systems", [{"symbol": "X1-A", "sector_symbol": "X1"}])
        _insert(
            conn,
            "waypoints",
            [
                {
                    "symbol": "X1-A-B1",
                    "system_symbol": "X1-A",
                    "has_market": True,
                    "has_shipyard": False,
                }
            ],
        )
        _insert(conn, "surveys", [_survey("SIG-1")])

    migrate.upgrade(database_url)

    assert _rows(
        database_url, "SELECT has_market, traits, orbits, charted, observed_at FROM waypoints"
    ) == [(True, None, None, None, None)]
    assert _rows(database_url, "SELECT signature, agent, ship_symbol FROM surveys") == [
        ("SIG-1", None, None)
    ]
    with psycopg.connect(database_url) as conn:
        _insert(conn, "surveys", [_survey("SIG-2", agent="AGENT", ship_symbol="AGENT-1")])
        with pytest.raises(psycopg.errors.StringDataRightTruncation):
            _insert(conn, "surveys", [_survey("S" * 65)])


def test_downgrading_revision_0006_drops_the_new_columns(database_url: str) -> None:
    migrate.upgrade(database_url)
    with psycopg.connect(database_url) as conn:
        _insert(conn, "surveys", [_survey("SIG-1", agent="AGENT")])
    migrate.downgrade(database_url, "0005")
    assert _version(database_url) == "0005"
    assert _rows(database_url, "SELECT signature FROM surveys") == [("SIG-1",)]
    with psycopg.connect(database_url) as conn:
        columns = {
            (row[0], row[1])
            for row in conn.execute(
                "SELECT table_name, column_name FROM information_schema.columns"
                " WHERE table_name IN ('surveys', 'waypoints')"
            )
        }
        _insert(conn, "surveys", [_survey("S" * 65)])
    assert ("surveys", "agent") not in columns and ("waypoints", "traits") not in columns
