"""The one place that converts database URLs between the forms libpq and SQLAlchemy take."""

from __future__ import annotations

__all__ = ["libpq_url", "sqlalchemy_url"]

_SQLALCHEMY_SCHEME = "postgresql+psycopg"
_LIBPQ_SCHEMES = ("postgresql", "postgres")


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
