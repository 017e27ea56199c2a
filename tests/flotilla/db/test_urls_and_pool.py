"""Database URLs convert between the libpq and SQLAlchemy forms, and every pooled session
carries the timeouts its pool section names."""

from __future__ import annotations

import pytest

from flotilla.db.pool import PoolSection, connection_kwargs, session_options
from flotilla.db.urls import libpq_url, sqlalchemy_url


def test_database_urls_convert_in_both_directions() -> None:
    assert sqlalchemy_url("postgresql://u:p@h:1/d") == "postgresql+psycopg://u:p@h:1/d"
    assert sqlalchemy_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert libpq_url("postgresql+psycopg://u@h/d") == "postgresql://u@h/d"
    with pytest.raises(ValueError, match="not a PostgreSQL URL"):
        libpq_url("mysql://u@h/d")
    with pytest.raises(ValueError, match="not a database URL"):
        libpq_url("localhost:5432")


def test_sessions_carry_the_timeouts_of_their_pool_section() -> None:
    pool = PoolSection(statement_timeout_seconds=1.5, idle_in_transaction_timeout_seconds=2.5)
    options = session_options(pool)
    assert "-c statement_timeout=1500" in options
    assert "-c idle_in_transaction_session_timeout=2500" in options
    assert "-c TimeZone=UTC" in options
    kwargs = connection_kwargs(pool, "flotilla-example")
    assert kwargs["application_name"] == "flotilla-example"
    assert kwargs["options"] == options
