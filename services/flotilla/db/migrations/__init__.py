"""Alembic migrations of Flotilla's schema; run them with `flotilla migrate`."""
