"""Fixtures for the conductor's tests: a migrated database."""

from __future__ import annotations

import pytest

from flotilla.db import migrate


@pytest.fixture
def migrated_url(database_url: str) -> str:
    """A fresh database with the schema at head."""
    migrate.upgrade(database_url)
    return database_url
