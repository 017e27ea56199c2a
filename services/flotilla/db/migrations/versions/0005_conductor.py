"""The conductor's records: plan documents by revision, manual overrides, decisions.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the conductor's tables."""
    op.create_table(
        "conductor_plans",
        sa.Column("revision", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("document", postgresql.JSONB(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("author", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("revision"),
    )
    op.create_table(
        "conductor_overrides",
        sa.Column("ship_symbol", sa.String(), nullable=False),
        sa.Column("behaviour", sa.String(), nullable=False),
        sa.Column("params", postgresql.JSONB(), nullable=False),
        sa.Column("waypoint_symbol", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("set_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("ship_symbol"),
    )
    op.create_table(
        "conductor_decisions",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("ship_symbol", sa.String(), nullable=True),
        sa.Column("role", sa.String(), nullable=True),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("figures", postgresql.JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_conductor_decisions_at", "conductor_decisions", ["at"])


def downgrade() -> None:
    """Drop the conductor's tables."""
    op.drop_index("ix_conductor_decisions_at", table_name="conductor_decisions")
    op.drop_table("conductor_decisions")
    op.drop_table("conductor_overrides")
    op.drop_table("conductor_plans")
