"""Alembic's environment: run the migrations online against the configured database.

Concurrent `flotilla migrate` runs (two jobs, or `flotilla up` beside a job) serialise on an
advisory lock, so the second one finds the schema already at head and does nothing.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool, text

from flotilla.db.schema import TABLE_NAMES, metadata

# An arbitrary constant that names "the migration lock" among PostgreSQL advisory locks.
MIGRATION_LOCK_KEY = 0x666C6F74696C6C61  # "flotilla"


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Compare only Flotilla's tables (SQLModel's metadata is shared by every package)."""
    return type_ != "table" or name in TABLE_NAMES


def run_migrations_online() -> None:
    """Apply the migrations on one connection that holds the migration lock throughout."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is not configured"
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            connection.commit()
            try:
                context.configure(
                    connection=connection,
                    target_metadata=metadata,
                    compare_type=True,
                    include_object=include_object,
                    transaction_per_migration=True,
                )
                with context.begin_transaction():
                    context.run_migrations()
            finally:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
                connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: run `flotilla migrate`")
run_migrations_online()
