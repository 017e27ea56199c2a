"""Connections to PostgreSQL: the one place that converts database URLs, and the persister's
bounded pool whose sessions carry timeouts so that no transaction can hold locks for long."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from persister.settings import PersisterSettings

_SQLALCHEMY_SCHEME = "postgresql+psycopg"
_LIBPQ_SCHEMES = ("postgresql", "postgres")

APPLICATION_NAME = "flotilla-persister"


def libpq_url(url: str) -> str:
    """`url` as libpq (psycopg) takes it: `postgresql://…`, without a SQLAlchemy driver suffix."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not a database URL: {url!r}")
    if scheme.startswith("postgresql+") or scheme.startswith("postgres+"):
        scheme = "postgresql"
    if scheme not in _LIBPQ_SCHEMES:
        raise ValueError(f"not a PostgreSQL URL: {url!r}")
    return f"postgresql://{rest}"


def sqlalchemy_url(url: str) -> str:
    """`url` as SQLAlchemy (and Alembic) take it: `postgresql+psycopg://…`."""
    return f"{_SQLALCHEMY_SCHEME}://{libpq_url(url).partition('://')[2]}"


def _milliseconds(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def session_options(settings: PersisterSettings) -> str:
    """libpq `options` for every persister session.

    `idle_in_transaction_session_timeout` ends a session that sits in an open transaction (a
    stuck client must not hold row locks); `statement_timeout` bounds one statement.
    """
    return " ".join(
        [
            "-c idle_in_transaction_session_timeout="
            f"{_milliseconds(settings.persister_idle_in_transaction_timeout_seconds)}",
            f"-c statement_timeout={_milliseconds(settings.persister_statement_timeout_seconds)}",
            "-c TimeZone=UTC",
        ]
    )


def connection_kwargs(settings: PersisterSettings) -> dict[str, Any]:
    """Connection parameters for the persister's sessions (besides the URL)."""
    return {
        "options": session_options(settings),
        "application_name": APPLICATION_NAME,
        "connect_timeout": 5,
        # Reads commit by themselves; the only multi-statement transaction is the writer's
        # explicit one per batch, so no session lingers idle in a transaction.
        "autocommit": True,
    }


async def open_pool(settings: PersisterSettings) -> AsyncConnectionPool[AsyncConnection[Any]]:
    """A bounded pool of at most `persister_pool_size` sessions.

    It opens without waiting for the database, so the persister starts (and keeps events
    waiting in JetStream) while PostgreSQL is down; each checkout checks the session first, so
    a restarted server's dead sessions are replaced rather than handed out.
    """
    pool: AsyncConnectionPool[AsyncConnection[Any]] = AsyncConnectionPool(
        libpq_url(settings.database_url),
        kwargs=connection_kwargs(settings),
        min_size=1,
        max_size=settings.persister_pool_size,
        timeout=settings.persister_pool_timeout_seconds,
        check=AsyncConnectionPool.check_connection,
        # The pool's own reconnection backs off up to this long before it gives up and lets the
        # next checkout start afresh; kept to the persister's retry cap so that a database that
        # returns after a long outage is used within about that long, not minutes later.
        reconnect_timeout=settings.persister_retry_max_seconds,
        name="persister",
        open=False,
    )
    await pool.open(wait=False)
    return pool
