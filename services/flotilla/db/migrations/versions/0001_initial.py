"""The initial schema: state, append-only records, per-minute rollups, the fleet plan, and the
views that combine the rollups for dashboards.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

TS = sa.DateTime(timezone=True)
TEXT_ARRAY = postgresql.ARRAY(sa.String())


def _text(name: str, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(), nullable=nullable)


def _int(name: str, *, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.Integer(), nullable=nullable)


def _bigint(name: str, *, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=nullable)


def _ts(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, TS, nullable=nullable)


def _uuid(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.Uuid(), nullable=False)


def _text_array(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, TEXT_ARRAY, nullable=nullable)


# The views (for dashboards and ad-hoc SQL; the Python API in flotilla.db.analytics computes the
# same figures from the rollup tables). Income and expense kinds match flotilla.db.analytics.
FLEET_MINUTES_VIEW = """
CREATE VIEW fleet_minutes AS
WITH credits AS (
    SELECT minute, agent,
           coalesce(sum(credits) FILTER (WHERE kind IN ('SELL', 'CONTRACT')), 0) AS gross_credits,
           coalesce(sum(credits) FILTER (WHERE kind IN ('PURCHASE', 'FUEL', 'SHIP', 'MOUNT')), 0)
               AS spent_credits
    FROM credit_minutes GROUP BY minute, agent
), requests AS (
    SELECT minute, agent, sum(calls) AS calls, sum(attempts) AS requests,
           sum(non_throttled) AS non_throttled_requests, sum(throttled) AS throttled_requests
    FROM request_minutes GROUP BY minute, agent
)
SELECT coalesce(c.minute, r.minute) AS minute,
       coalesce(c.agent, r.agent) AS agent,
       coalesce(c.gross_credits, 0) AS gross_credits,
       coalesce(c.gross_credits, 0) - coalesce(c.spent_credits, 0) AS net_credits,
       coalesce(r.calls, 0) AS calls,
       coalesce(r.requests, 0) AS requests,
       coalesce(r.non_throttled_requests, 0) AS non_throttled_requests,
       coalesce(r.throttled_requests, 0) AS throttled_requests,
       coalesce(r.requests, 0) / 150.0 AS saturation
FROM credits c FULL JOIN requests r ON c.minute = r.minute AND c.agent = r.agent
"""

REQUEST_TIMING_MINUTES_VIEW = """
CREATE VIEW request_timing_minutes AS
SELECT minute, agent, priority, calls, sent,
       CASE WHEN calls > 0 THEN queued_us_sum / calls / 1e6 END AS queue_wait_seconds,
       CASE WHEN sent > 0 THEN wire_us_sum / sent / 1e6 END AS wire_seconds
FROM request_minutes
"""


def upgrade() -> None:
    """Create every table, index and view of the initial schema."""
    op.create_table(
        "agents",
        _text("symbol"),
        _bigint("credits"),
        _text("headquarters"),
        _text("starting_faction"),
        _int("ship_count"),
        _ts("observed_at"),
        _uuid("event_id"),
        sa.PrimaryKeyConstraint("symbol"),
    )
    op.create_table(
        "systems",
        _text("symbol"),
        _text("sector_symbol"),
        sa.PrimaryKeyConstraint("symbol"),
    )
    op.create_table(
        "waypoints",
        _text("symbol"),
        _text("system_symbol"),
        _text("type", nullable=True),
        _int("x", nullable=True),
        _int("y", nullable=True),
        sa.Column("has_market", sa.Boolean(), nullable=False),
        sa.Column("has_shipyard", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("symbol"),
    )
    op.create_index("ix_waypoints_system_symbol", "waypoints", ["system_symbol"])

    op.create_table(
        "ships",
        _text("symbol"),
        _text("agent"),
        _bigint("version"),
        _ts("updated_at"),
        _text("role", nullable=True),
        _bigint("role_version"),
        _text("frame", nullable=True),
        _bigint("frame_version"),
        _text("behaviour", nullable=True),
        _bigint("behaviour_version"),
        _text("nav_system_symbol", nullable=True),
        _text("nav_waypoint_symbol", nullable=True),
        _text("nav_status", nullable=True),
        _text("nav_flight_mode", nullable=True),
        _text("nav_origin_symbol", nullable=True),
        _text("nav_destination_symbol", nullable=True),
        _ts("nav_departure_time", nullable=True),
        _ts("nav_arrival", nullable=True),
        _bigint("nav_version"),
        _int("fuel_current", nullable=True),
        _int("fuel_capacity", nullable=True),
        _bigint("fuel_version"),
        _int("cargo_capacity", nullable=True),
        _int("cargo_units", nullable=True),
        sa.Column("cargo_inventory", postgresql.JSONB(), nullable=True),
        _bigint("cargo_version"),
        _int("cooldown_total_seconds", nullable=True),
        _ts("cooldown_expiration", nullable=True),
        _bigint("cooldown_version"),
        _text_array("mounts", nullable=True),
        _bigint("mounts_version"),
        sa.PrimaryKeyConstraint("symbol"),
    )
    op.create_index("ix_ships_agent", "ships", ["agent"])
    op.create_index("ix_ships_behaviour", "ships", ["behaviour"])

    op.create_table(
        "markets",
        _text("waypoint_symbol"),
        _text("system_symbol"),
        _text_array("exports"),
        _text_array("imports"),
        _text_array("exchange"),
        _ts("observed_at"),
        _uuid("event_id"),
        sa.PrimaryKeyConstraint("waypoint_symbol"),
    )
    op.create_index("ix_markets_system_symbol", "markets", ["system_symbol"])
    op.create_table(
        "market_trade_goods",
        _text("waypoint_symbol"),
        _text("symbol"),
        _text("type"),
        _int("trade_volume"),
        _text("supply"),
        _text("activity"),
        _int("purchase_price"),
        _int("sell_price"),
        _ts("observed_at"),
        _uuid("event_id"),
        sa.PrimaryKeyConstraint("waypoint_symbol", "symbol"),
    )
    op.create_index(
        "ix_market_trade_goods_symbol_sell_price", "market_trade_goods", ["symbol", "sell_price"]
    )
    op.create_index(
        "ix_market_trade_goods_symbol_purchase_price",
        "market_trade_goods",
        ["symbol", "purchase_price"],
    )

    op.create_table(
        "shipyards",
        _text("waypoint_symbol"),
        _text("system_symbol"),
        _text_array("ship_types"),
        _int("modifications_fee"),
        _ts("observed_at"),
        _uuid("event_id"),
        sa.PrimaryKeyConstraint("waypoint_symbol"),
    )
    op.create_index("ix_shipyards_system_symbol", "shipyards", ["system_symbol"])
    op.create_table(
        "shipyard_ships",
        _text("waypoint_symbol"),
        _text("ship_type"),
        _int("purchase_price"),
        _ts("observed_at"),
        _uuid("event_id"),
        sa.PrimaryKeyConstraint("waypoint_symbol", "ship_type"),
    )
    op.create_index(
        "ix_shipyard_ships_ship_type_purchase_price",
        "shipyard_ships",
        ["ship_type", "purchase_price"],
    )

    op.create_table(
        "surveys",
        _text("signature"),
        _text("waypoint_symbol"),
        _text("size"),
        _text_array("deposits"),
        _ts("expiration"),
        _ts("observed_at"),
        sa.PrimaryKeyConstraint("signature"),
    )
    op.create_index("ix_surveys_waypoint_symbol", "surveys", ["waypoint_symbol"])

    op.create_table(
        "transactions",
        _uuid("event_id"),
        _text("agent"),
        _text("ship_symbol", nullable=True),
        _text("waypoint_symbol", nullable=True),
        _text("kind"),
        _text("trade_symbol", nullable=True),
        _int("units"),
        _int("price_per_unit"),
        _bigint("total_price"),
        _ts("timestamp"),
        _text("behaviour", nullable=True),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index("ix_transactions_timestamp", "transactions", ["timestamp"])
    op.create_index(
        "ix_transactions_ship_symbol_timestamp", "transactions", ["ship_symbol", "timestamp"]
    )
    op.create_table(
        "extractions",
        _uuid("event_id"),
        _text("agent"),
        _text("ship_symbol"),
        _text("waypoint_symbol", nullable=True),
        _text("trade_symbol"),
        _int("units"),
        _text("survey_signature", nullable=True),
        _ts("timestamp"),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index("ix_extractions_timestamp", "extractions", ["timestamp"])
    op.create_index(
        "ix_extractions_ship_symbol_timestamp", "extractions", ["ship_symbol", "timestamp"]
    )
    op.create_table(
        "request_log",
        _uuid("event_id"),
        _text("agent"),
        _text("ship_symbol", nullable=True),
        _text("endpoint"),
        _text("method"),
        _text("priority"),
        _int("status"),
        _int("error_code"),
        sa.Column("queued_ms", sa.Float(), nullable=False),
        sa.Column("wire_ms", sa.Float(), nullable=False),
        _int("attempts"),
        _ts("timestamp"),
        _text("outcome"),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index("ix_request_log_timestamp", "request_log", ["timestamp"])

    op.create_table(
        "credit_minutes",
        _ts("minute"),
        _text("agent"),
        _text("ship_symbol"),
        _text("behaviour"),
        _text("kind"),
        _bigint("credits"),
        _int("transactions"),
        sa.PrimaryKeyConstraint("minute", "agent", "ship_symbol", "behaviour", "kind"),
    )
    op.create_table(
        "request_minutes",
        _ts("minute"),
        _text("agent"),
        _text("priority"),
        _int("calls"),
        _int("sent"),
        _int("attempts"),
        _int("throttled"),
        _int("non_throttled"),
        _bigint("queued_us_sum"),
        _bigint("wire_us_sum"),
        sa.PrimaryKeyConstraint("minute", "agent", "priority"),
    )

    op.create_table(
        "fleet_plans",
        sa.Column("version", sa.BigInteger(), autoincrement=False, nullable=False),
        _bigint("working_capital_floor"),
        _ts("updated_at"),
        _text("updated_by"),
        sa.PrimaryKeyConstraint("version"),
    )
    op.create_table(
        "fleet_roles",
        _bigint("plan_version"),
        _text("name"),
        _text("ship_type"),
        _int("count"),
        _text("behaviour"),
        _text("waypoint_symbol", nullable=True),
        _text_array("mount_spec"),
        sa.Column("params", postgresql.JSONB(), nullable=False),
        _int("priority"),
        sa.PrimaryKeyConstraint("plan_version", "name"),
    )
    op.create_table(
        "ship_assignments",
        _text("ship_symbol"),
        _text("role"),
        _text("behaviour"),
        sa.Column("params", postgresql.JSONB(), nullable=False),
        _bigint("plan_version"),
        sa.Column("parked", sa.Boolean(), nullable=False),
        sa.Column("manual", sa.Boolean(), nullable=False),
        _ts("assigned_at"),
        sa.PrimaryKeyConstraint("ship_symbol"),
    )
    op.create_index("ix_ship_assignments_behaviour", "ship_assignments", ["behaviour"])

    op.execute(FLEET_MINUTES_VIEW)
    op.execute(REQUEST_TIMING_MINUTES_VIEW)


def downgrade() -> None:
    """Drop everything the upgrade created."""
    op.execute("DROP VIEW IF EXISTS request_timing_minutes")
    op.execute("DROP VIEW IF EXISTS fleet_minutes")
    for table in (
        "ship_assignments",
        "fleet_roles",
        "fleet_plans",
        "request_minutes",
        "credit_minutes",
        "request_log",
        "extractions",
        "transactions",
        "surveys",
        "shipyard_ships",
        "shipyards",
        "market_trade_goods",
        "markets",
        "ships",
        "waypoints",
        "systems",
        "agents",
    ):
        op.drop_table(table)
