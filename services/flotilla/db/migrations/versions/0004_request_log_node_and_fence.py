"""The dispatcher node and the fencing token of each call in the request log.

`request_log.node` is the dispatcher node that sent the call (NULL for other callers) and
`request_log.fence_token` the lease revision the call was sent under (NULL: not fenced), so
that who drove a ship when — and which late calls the gateway fenced — can be read back.

Revision ID: 0004
Revises: 0003
Create Date: 2026-02-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("request_log", sa.Column("node", sa.String(64), nullable=True))
    op.add_column("request_log", sa.Column("fence_token", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("request_log", "fence_token")
    op.drop_column("request_log", "node")
