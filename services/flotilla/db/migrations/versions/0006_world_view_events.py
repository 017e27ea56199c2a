"""The world view's events in the database: waypoint observations and surveys.

`waypoints` gains what a `WaypointObservation` says beyond type and coordinates: its traits,
the body it orbits, whether it is charted, and when it was observed (all NULL until one is
written). `surveys` gains who made a survey (agent, ship), and its keys and size become
`varchar(64)` like every other symbol column, so that the persister's contract refuses a value
the index cannot hold instead of failing its batch.

The column lists are written out here, not read from the schema, so that this revision keeps
doing what it did when the schema changes again.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

LENGTH = 64
BOUNDED_SURVEY_COLUMNS = ("signature", "waypoint_symbol", "size")


def upgrade() -> None:
    op.add_column("waypoints", sa.Column("traits", postgresql.ARRAY(sa.String()), nullable=True))
    op.add_column("waypoints", sa.Column("orbits", sa.String(LENGTH), nullable=True))
    op.add_column("waypoints", sa.Column("charted", sa.Boolean(), nullable=True))
    op.add_column("waypoints", sa.Column("observed_at", sa.DateTime(timezone=True), nullable=True))
    for column in BOUNDED_SURVEY_COLUMNS:
        op.alter_column(
            "surveys",
            column,
            type_=sa.String(LENGTH),
            existing_type=sa.String(),
            existing_nullable=False,
        )
    op.add_column("surveys", sa.Column("agent", sa.String(LENGTH), nullable=True))
    op.add_column("surveys", sa.Column("ship_symbol", sa.String(LENGTH), nullable=True))


def downgrade() -> None:
    op.drop_column("surveys", "ship_symbol")
    op.drop_column("surveys", "agent")
    for column in BOUNDED_SURVEY_COLUMNS:
        op.alter_column(
            "surveys",
            column,
            type_=sa.String(),
            existing_type=sa.String(LENGTH),
            existing_nullable=False,
        )
    for column in ("observed_at", "charted", "orbits", "traits"):
        op.drop_column("waypoints", column)
