"""The conductor records plan versions and assignments; a replay or an older record changes
nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from flotilla.db.plan_records import record_assignments, record_fleet_plan
from flotilla.v1 import fleet_pb2

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def _plan(version: int) -> fleet_pb2.FleetPlan:
    plan = fleet_pb2.FleetPlan(version=version, working_capital_floor=100_000, updated_by="ops")
    plan.updated_at.FromDatetime(T0)
    plan.roles.add(
        name="miners",
        ship_type="SHIP_ORE_HOUND",
        count=30,
        behaviour="mine",
        waypoint_symbol="X1-AA-B2",
        mount_spec=["MOUNT_MINING_LASER_II"],
        params={"sell_at": "X1-AA-A1"},
    )
    return plan


def _assignment(ship: str, behaviour: str, at: datetime) -> fleet_pb2.ShipAssignment:
    a = fleet_pb2.ShipAssignment(
        ship_symbol=ship, role="miners", behaviour=behaviour, plan_version=1
    )
    a.assigned_at.FromDatetime(at)
    return a


async def test_a_plan_version_is_recorded_once_with_its_roles(migrated_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(migrated_url, autocommit=True) as conn:
        assert await record_fleet_plan(conn, _plan(1))
        assert not await record_fleet_plan(conn, _plan(1))
        cur = await conn.execute(
            "SELECT plan_version, name, count, mount_spec, params FROM fleet_roles"
        )
        assert await cur.fetchall() == [
            (1, "miners", 30, ["MOUNT_MINING_LASER_II"], {"sell_at": "X1-AA-A1"})
        ]


async def test_an_older_assignment_never_replaces_a_newer_one(migrated_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(migrated_url, autocommit=True) as conn:
        later = T0 + timedelta(minutes=5)
        assert await record_assignments(conn, [_assignment("A-1", "explore", later)]) == 1
        assert await record_assignments(conn, [_assignment("A-1", "mine", T0)]) == 0
        changed = await record_assignments(
            conn,
            [_assignment("A-2", "mine", T0), _assignment("A-2", "haul", later)],
        )
        assert changed == 1
        cur = await conn.execute("SELECT ship_symbol, behaviour FROM ship_assignments ORDER BY 1")
        assert await cur.fetchall() == [("A-1", "explore"), ("A-2", "haul")]
