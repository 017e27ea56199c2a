"""Symbols and names bounded, and the caller's call id in the request log.

Every symbol or name column of the event tables (keys, indexed columns and the rest alike)
becomes `varchar(64)`: a key longer than an index can hold ("index row size exceeds btree
maximum") used to fail the whole batch it came in, and the persister's contract now reads
these lengths to refuse such values before they reach the database. The rollups
(`credit_minutes`, `request_minutes`) keep unbounded keys: their values come from the bounded
columns, and views depend on them. `request_log.call_id` holds the id the caller gave its call
(any text), now that the event id is always a UUID of the gateway's.

The column list is written out here, not read from the schema, so that this revision keeps
doing what it did when the schema changes again.

Revision ID: 0003
Revises: 0002
Create Date: 2026-02-02
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

LENGTH = 64

# table -> (column, nullable)
BOUNDED: Mapping[str, Sequence[tuple[str, bool]]] = {
    "agents": [("symbol", False), ("headquarters", False), ("starting_faction", False)],
    "systems": [("symbol", False), ("sector_symbol", False)],
    "waypoints": [("symbol", False), ("system_symbol", False), ("type", True)],
    "ships": [
        ("symbol", False),
        ("agent", False),
        ("role", True),
        ("frame", True),
        ("behaviour", True),
        ("nav_system_symbol", True),
        ("nav_waypoint_symbol", True),
        ("nav_status", True),
        ("nav_flight_mode", True),
        ("nav_origin_symbol", True),
        ("nav_destination_symbol", True),
    ],
    "markets": [("waypoint_symbol", False), ("system_symbol", False)],
    "market_trade_goods": [
        ("waypoint_symbol", False),
        ("symbol", False),
        ("type", False),
        ("supply", False),
        ("activity", False),
    ],
    "shipyards": [("waypoint_symbol", False), ("system_symbol", False)],
    "shipyard_ships": [("waypoint_symbol", False), ("ship_type", False)],
    "transactions": [
        ("agent", False),
        ("ship_symbol", True),
        ("waypoint_symbol", True),
        ("kind", False),
        ("trade_symbol", True),
        ("behaviour", True),
    ],
    "extractions": [
        ("agent", False),
        ("ship_symbol", False),
        ("waypoint_symbol", True),
        ("trade_symbol", False),
        ("survey_signature", True),
    ],
    "request_log": [
        ("agent", False),
        ("ship_symbol", True),
        ("method", False),
        ("priority", False),
        ("outcome", False),
    ],
}


def upgrade() -> None:
    for table, columns in BOUNDED.items():
        for column, nullable in columns:
            op.alter_column(
                table,
                column,
                type_=sa.String(LENGTH),
                existing_type=sa.String(),
                existing_nullable=nullable,
            )
    op.add_column("request_log", sa.Column("call_id", sa.String(), nullable=True))


def downgrade() -> None:
    op.drop_column("request_log", "call_id")
    for table, columns in BOUNDED.items():
        for column, nullable in columns:
            op.alter_column(
                table,
                column,
                type_=sa.String(),
                existing_type=sa.String(LENGTH),
                existing_nullable=nullable,
            )
