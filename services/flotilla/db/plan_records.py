"""Recording the fleet plan and ship assignments in PostgreSQL, for history and for joins with
the analytics (which behaviour earned what). The conductor owns the plan (in NATS KV) and calls
these after each change; both are idempotent and never let an older record win."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from psycopg import AsyncConnection

from flotilla.timestamps import to_datetime
from flotilla.v1 import fleet_pb2

__all__ = ["record_assignments", "record_fleet_plan"]

_PLAN_SQL = """
INSERT INTO fleet_plans (version, working_capital_floor, updated_at, updated_by)
VALUES (%s, %s, %s, %s)
ON CONFLICT (version) DO NOTHING
"""
_ROLE_SQL = """
INSERT INTO fleet_roles
    (plan_version, name, ship_type, count, behaviour, waypoint_symbol, mount_spec, params,
     priority)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s)
ON CONFLICT (plan_version, name) DO NOTHING
"""
_ASSIGNMENT_SQL = """
INSERT INTO ship_assignments AS t
    (ship_symbol, role, behaviour, params, plan_version, parked, manual, assigned_at)
SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[]::jsonb[], %s::int8[],
                     %s::bool[], %s::bool[], %s::timestamptz[])
ORDER BY 1
ON CONFLICT (ship_symbol) DO UPDATE SET
    role = EXCLUDED.role, behaviour = EXCLUDED.behaviour, params = EXCLUDED.params,
    plan_version = EXCLUDED.plan_version, parked = EXCLUDED.parked, manual = EXCLUDED.manual,
    assigned_at = EXCLUDED.assigned_at
WHERE (EXCLUDED.assigned_at, EXCLUDED.plan_version) > (t.assigned_at, t.plan_version)
"""


async def record_fleet_plan(conn: AsyncConnection[Any], plan: fleet_pb2.FleetPlan) -> bool:
    """Store one plan version and its roles; False if that version was already stored."""
    async with conn.transaction():
        cur = await conn.execute(
            _PLAN_SQL,
            (
                plan.version,
                plan.working_capital_floor,
                to_datetime(plan.updated_at),
                plan.updated_by,
            ),
        )
        if cur.rowcount == 0:
            return False
        for role in plan.roles:
            await conn.execute(
                _ROLE_SQL,
                (
                    plan.version,
                    role.name,
                    role.ship_type,
                    role.count,
                    role.behaviour,
                    role.waypoint_symbol or None,
                    list(role.mount_spec),
                    json.dumps(dict(role.params)),
                    role.priority,
                ),
            )
    return True


async def record_assignments(
    conn: AsyncConnection[Any], assignments: Iterable[fleet_pb2.ShipAssignment]
) -> int:
    """Upsert ship assignments (a later `assigned_at` wins); returns rows changed."""
    latest: dict[str, fleet_pb2.ShipAssignment] = {}
    for a in assignments:
        known = latest.get(a.ship_symbol)
        if known is None or (a.assigned_at.ToNanoseconds(), a.plan_version) > (
            known.assigned_at.ToNanoseconds(),
            known.plan_version,
        ):
            latest[a.ship_symbol] = a
    if not latest:
        return 0
    rows = [
        (
            a.ship_symbol,
            a.role,
            a.behaviour,
            json.dumps(dict(a.params)),
            a.plan_version,
            a.parked,
            a.manual,
            to_datetime(a.assigned_at),
        )
        for a in latest.values()
    ]
    columns = [list(column) for column in zip(*rows, strict=True)]
    async with conn.transaction():
        cur = await conn.execute(_ASSIGNMENT_SQL, columns)
        return max(cur.rowcount, 0)
