"""The fleet as the database knows it, for the conductor's API and pages: ships with their
recorded assignment, one ship with its recent calls and earnings, and the agents.

Every query reads what the persister wrote (`ships`, `agents`, `request_log`, the rollups) and
what the conductor recorded (`ship_assignments`); none asks the game. Times are passed in.

Usage::

    async with pool.connection() as conn:
        ships = await fleet_views.list_ships(conn, role="miners", status="IN_ORBIT")
        detail = await fleet_views.ship_detail(conn, "AGENT-1", now=now)
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from flotilla.db.analytics import Connection, Earnings, ship_earnings

__all__ = [
    "AgentView",
    "RecentRequest",
    "ShipDetail",
    "ShipView",
    "list_agents",
    "list_ships",
    "recent_requests",
    "ship_detail",
]


@dataclass(frozen=True)
class ShipView:
    """One ship: its newest state and the assignment the conductor last recorded for it."""

    symbol: str
    agent: str
    role: str | None  # the plan role the ship is assigned to (None: never assigned)
    frame: str | None
    behaviour: str | None  # the behaviour assigned, else the one its events named
    parked: bool
    manual: bool
    nav_status: str | None
    waypoint: str | None
    flight_mode: str | None
    arrival: datetime | None
    fuel_current: int | None
    fuel_capacity: int | None
    cargo_units: int | None
    cargo_capacity: int | None
    cooldown_expiration: datetime | None
    mounts: list[str]
    updated_at: datetime


@dataclass(frozen=True)
class RecentRequest:
    """One call the gateway logged for a ship."""

    timestamp: datetime
    method: str
    endpoint: str
    priority: str
    status: int
    outcome: str
    queued_ms: float
    wire_ms: float
    attempts: int


@dataclass(frozen=True)
class ShipDetail:
    """One ship, its recent calls (newest first) and its credits over a window."""

    ship: ShipView
    requests: list[RecentRequest]
    earnings: Earnings


@dataclass(frozen=True)
class AgentView:
    """An agent's newest observed state."""

    symbol: str
    credits: int
    headquarters: str
    starting_faction: str
    ship_count: int
    observed_at: datetime


_SHIP_SELECT = """
SELECT s.symbol, s.agent, a.role, s.frame, coalesce(a.behaviour, s.behaviour),
       coalesce(a.parked, false), coalesce(a.manual, false), s.nav_status,
       s.nav_waypoint_symbol, s.nav_flight_mode, s.nav_arrival, s.fuel_current,
       s.fuel_capacity, s.cargo_units, s.cargo_capacity, s.cooldown_expiration,
       coalesce(s.mounts, '{}'::text[]), s.updated_at
FROM ships s LEFT JOIN ship_assignments a ON a.ship_symbol = s.symbol
"""


_SHIP_FIELDS = tuple(f.name for f in fields(ShipView))


def _ship(row: Any) -> ShipView:
    values = dict(zip(_SHIP_FIELDS, row, strict=True))
    values["mounts"] = list(values["mounts"])
    return ShipView(**values)


async def list_ships(
    conn: Connection,
    *,
    agent: str | None = None,
    role: str | None = None,
    behaviour: str | None = None,
    status: str | None = None,
) -> list[ShipView]:
    """Every ship (by symbol), optionally only those of one agent, role, behaviour (assigned,
    else last reported) or navigation status (`DOCKED`, `IN_ORBIT`, `IN_TRANSIT`)."""
    cur = await conn.execute(
        _SHIP_SELECT
        + """
        WHERE (%(agent)s::text IS NULL OR s.agent = %(agent)s)
          AND (%(role)s::text IS NULL OR a.role = %(role)s)
          AND (%(behaviour)s::text IS NULL OR coalesce(a.behaviour, s.behaviour) = %(behaviour)s)
          AND (%(status)s::text IS NULL OR s.nav_status = %(status)s)
        ORDER BY s.symbol
        """,
        {"agent": agent, "role": role, "behaviour": behaviour, "status": status},
    )
    return [_ship(row) for row in await cur.fetchall()]


async def recent_requests(conn: Connection, symbol: str, *, limit: int = 20) -> list[RecentRequest]:
    """The ship's latest `limit` calls, newest first."""
    cur = await conn.execute(
        "SELECT timestamp, method, endpoint, priority, status, outcome, queued_ms, wire_ms,"
        " attempts FROM request_log WHERE ship_symbol = %s"
        " ORDER BY timestamp DESC, event_id LIMIT %s",
        (symbol, limit),
    )
    return [RecentRequest(*row) for row in await cur.fetchall()]


async def ship_detail(
    conn: Connection,
    symbol: str,
    *,
    now: datetime,
    window: timedelta = timedelta(hours=1),
    requests: int = 20,
) -> ShipDetail | None:
    """The ship, its latest calls and its credits over the window ending at `now`; None when no
    such ship is known."""
    cur = await conn.execute(_SHIP_SELECT + " WHERE s.symbol = %s", (symbol,))
    row = await cur.fetchone()
    if row is None:
        return None
    return ShipDetail(
        _ship(row),
        await recent_requests(conn, symbol, limit=requests),
        await ship_earnings(conn, symbol, now=now, window=window),
    )


async def list_agents(conn: Connection) -> list[AgentView]:
    """Every agent the persister has seen, by symbol."""
    cur = await conn.execute(
        "SELECT symbol, credits, headquarters, starting_faction, ship_count, observed_at"
        " FROM agents ORDER BY symbol"
    )
    return [AgentView(*row) for row in await cur.fetchall()]
