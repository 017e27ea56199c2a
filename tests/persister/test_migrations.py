"""The Alembic migrations create exactly the SQLModel schema, run idempotently, downgrade
cleanly, and are what `flotilla migrate` applies."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from persister import migrate
from persister.database import sqlalchemy_url
from persister.schema import TABLE_NAMES, metadata


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
