"""Fixtures for the shared database code: a fresh database with the schema at head."""

from __future__ import annotations

import pytest

from flotilla.db import migrate


@pytest.fixture
def migrated_url(database_url: str) -> str:
    """A fresh database with the schema at head."""
    migrate.upgrade(database_url)
    return database_url
