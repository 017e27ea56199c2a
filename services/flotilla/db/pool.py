"""A bounded PostgreSQL connection pool whose sessions carry timeouts, so that no transaction
can hold locks for long, for every service that reads or writes the database."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from pydantic import Field

from flotilla.db.urls import libpq_url
from flotilla.settings import Section

__all__ = ["ConnectionPool", "PoolSection", "connection_kwargs", "open_pool", "session_options"]

ConnectionPool = AsyncConnectionPool[AsyncConnection[Any]]


class PoolSection(Section):
    """How many sessions a service keeps and how long any of them may take."""

    size: int = Field(default=4, ge=1, le=64, description="most PostgreSQL sessions")
    timeout_seconds: float = Field(
        default=10.0, gt=0, description="longest wait for a session from the pool"
    )
    statement_timeout_seconds: float = Field(
        default=30.0, gt=0, description="statement_timeout of every session"
    )
    idle_in_transaction_timeout_seconds: float = Field(
        default=10.0, gt=0, description="idle_in_transaction_session_timeout of every session"
    )
    reconnect_seconds: float = Field(
        default=10.0,
        gt=0,
        description="how long the pool backs off reconnecting before the next checkout "
        "starts afresh",
    )


def _milliseconds(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def session_options(pool: PoolSection) -> str:
    """libpq `options` for every session.

    `idle_in_transaction_session_timeout` ends a session that sits in an open transaction (a
    stuck client must not hold row locks); `statement_timeout` bounds one statement.
    """
    return " ".join(
        [
            "-c idle_in_transaction_session_timeout="
            f"{_milliseconds(pool.idle_in_transaction_timeout_seconds)}",
            f"-c statement_timeout={_milliseconds(pool.statement_timeout_seconds)}",
            "-c TimeZone=UTC",
        ]
    )


def connection_kwargs(pool: PoolSection, application_name: str) -> dict[str, Any]:
    """Connection parameters of every session (besides the URL)."""
    return {
        "options": session_options(pool),
        "application_name": application_name,
        "connect_timeout": 5,
        # Reads commit by themselves; multi-statement work runs in explicit transactions, so
        # no session lingers idle in a transaction.
        "autocommit": True,
    }


async def open_pool(url: str, pool: PoolSection, *, application_name: str) -> ConnectionPool:
    """A bounded pool of at most `pool.size` sessions to `url`.

    It opens without waiting for the database, so a service starts (and, for the persister,
    keeps events waiting in JetStream) while PostgreSQL is down; each checkout checks the
    session first, so a restarted server's dead sessions are replaced rather than handed out.
    """
    opened: ConnectionPool = AsyncConnectionPool(
        libpq_url(url),
        kwargs=connection_kwargs(pool, application_name),
        min_size=1,
        max_size=pool.size,
        timeout=pool.timeout_seconds,
        check=AsyncConnectionPool.check_connection,
        reconnect_timeout=pool.reconnect_seconds,
        name=application_name,
        open=False,
    )
    await opened.open(wait=False)
    return opened
