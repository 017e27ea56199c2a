"""Alembic migrations of the persister's schema; run them with `flotilla migrate`."""
