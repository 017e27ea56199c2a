"""The conductor's records in PostgreSQL: the fleet plan by revision (with its history), manual
overrides, and the decisions log.

Each plan revision is kept as written (`conductor_plans`) and also recorded as `fleet_plans` /
`fleet_roles` version N for the analytics' joins. Revisions count up from 1; a replacement may
name the revision it replaces, and is refused if another came first (`RevisionConflict`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from conductor.plan import FleetPlan
from flotilla.clock import Clock
from flotilla.db.plan_records import record_fleet_plan
from flotilla.db.pool import ConnectionPool
from flotilla.timestamps import to_timestamp

__all__ = [
    "Decision",
    "Override",
    "PlanStore",
    "RevisionConflict",
    "StoredPlan",
]

# Any number unlikely to be taken by another advisory lock: serialises plan replacements.
_PLAN_LOCK = 0x464C5054


class RevisionConflict(Exception):
    """The plan was replaced since the revision the writer read."""

    def __init__(self, expected: int, current: int) -> None:
        super().__init__(f"the plan is at revision {current}, not {expected}")
        self.expected = expected
        self.current = current


@dataclass(frozen=True)
class StoredPlan:
    """One revision of the plan."""

    revision: int
    plan: FleetPlan
    created_at: datetime
    author: str


@dataclass(frozen=True)
class Override:
    """A manual assignment of one ship: held until `expires_at` (None: until removed)."""

    ship: str
    behaviour: str
    params: dict[str, str] = field(default_factory=dict)
    waypoint: str = ""
    reason: str = ""
    set_at: datetime | None = None
    expires_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        """True while the override holds."""
        return self.expires_at is None or now < self.expires_at


@dataclass(frozen=True)
class Decision:
    """One decision of the conductor: what (`kind`), about which ship or role, why, with what
    figures."""

    at: datetime
    kind: str
    reason: str
    ship: str | None = None
    role: str | None = None
    figures: dict[str, Any] = field(default_factory=dict)
    id: int = 0


def _stored(row: tuple[Any, ...]) -> StoredPlan:
    revision, document, created_at, author = row
    return StoredPlan(int(revision), FleetPlan.from_data(document), created_at, str(author))


class PlanStore:
    """Plans, overrides and decisions in the database behind `pool`."""

    def __init__(self, pool: ConnectionPool, clock: Clock) -> None:
        self._pool = pool
        self._clock = clock

    # --- the plan -------------------------------------------------------------------------------

    async def current(self) -> StoredPlan | None:
        """The newest revision (None: no plan stored yet)."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT revision, document, created_at, author FROM conductor_plans"
                " ORDER BY revision DESC LIMIT 1"
            )
            row = await cur.fetchone()
        return _stored(row) if row else None

    async def get(self, revision: int) -> StoredPlan | None:
        """Revision `revision` (None: no such revision)."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT revision, document, created_at, author FROM conductor_plans"
                " WHERE revision = %s",
                (revision,),
            )
            row = await cur.fetchone()
        return _stored(row) if row else None

    async def history(self, limit: int = 50) -> list[StoredPlan]:
        """The newest `limit` revisions, newest first."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT revision, document, created_at, author FROM conductor_plans"
                " ORDER BY revision DESC LIMIT %s",
                (limit,),
            )
            rows = await cur.fetchall()
        return [_stored(row) for row in rows]

    async def replace(
        self, plan: FleetPlan, *, author: str, expected_revision: int | None = None
    ) -> StoredPlan:
        """Store `plan` as the next revision. With `expected_revision`, refuse
        (`RevisionConflict`) if the newest revision is another one (0: no plan yet)."""
        now = self._clock.now()
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PLAN_LOCK,))
            cur = await conn.execute("SELECT coalesce(max(revision), 0) FROM conductor_plans")
            row = await cur.fetchone()
            latest = int(row[0]) if row else 0
            if expected_revision is not None and expected_revision != latest:
                raise RevisionConflict(expected_revision, latest)
            revision = latest + 1
            await conn.execute(
                "INSERT INTO conductor_plans (revision, document, created_at, author)"
                " VALUES (%s, %s, %s, %s)",
                (revision, Jsonb(plan.to_data()), now, author),
            )
            message = plan.to_proto(revision)
            message.updated_at.CopyFrom(to_timestamp(now))
            message.updated_by = author
            await record_fleet_plan(conn, message)
        return StoredPlan(revision, plan, now, author)

    async def ensure_initial(self, plan: FleetPlan, *, author: str) -> StoredPlan:
        """The newest revision, storing `plan` as revision 1 if none is stored."""
        try:
            return await self.replace(plan, author=author, expected_revision=0)
        except RevisionConflict:
            stored = await self.current()
            assert stored is not None
            return stored

    # --- overrides ------------------------------------------------------------------------------

    async def set_override(self, override: Override) -> Override:
        """Store (or replace) the override of `override.ship`."""
        set_at = override.set_at or self._clock.now()
        async with self._pool.connection() as conn:
            await conn.execute(
                "INSERT INTO conductor_overrides"
                " (ship_symbol, behaviour, params, waypoint_symbol, reason, set_at, expires_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (ship_symbol) DO UPDATE SET behaviour = EXCLUDED.behaviour,"
                " params = EXCLUDED.params, waypoint_symbol = EXCLUDED.waypoint_symbol,"
                " reason = EXCLUDED.reason, set_at = EXCLUDED.set_at,"
                " expires_at = EXCLUDED.expires_at",
                (
                    override.ship,
                    override.behaviour,
                    Jsonb(override.params),
                    override.waypoint,
                    override.reason,
                    set_at,
                    override.expires_at,
                ),
            )
        return Override(
            override.ship,
            override.behaviour,
            dict(override.params),
            override.waypoint,
            override.reason,
            set_at,
            override.expires_at,
        )

    async def clear_override(self, ship: str) -> bool:
        """Remove `ship`'s override; False if it had none."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "DELETE FROM conductor_overrides WHERE ship_symbol = %s", (ship,)
            )
            return cur.rowcount > 0

    async def overrides(self) -> dict[str, Override]:
        """Every stored override (expired ones included: `Override.active` tells)."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT ship_symbol, behaviour, params, waypoint_symbol, reason, set_at,"
                " expires_at FROM conductor_overrides"
            )
            rows = await cur.fetchall()
        return {
            str(r[0]): Override(str(r[0]), str(r[1]), dict(r[2]), str(r[3]), str(r[4]), r[5], r[6])
            for r in rows
        }

    async def drop_expired(self, now: datetime) -> int:
        """Delete overrides that expired before `now`; returns how many."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "DELETE FROM conductor_overrides WHERE expires_at IS NOT NULL AND expires_at <= %s",
                (now,),
            )
            return max(cur.rowcount, 0)

    # --- decisions ------------------------------------------------------------------------------

    async def record_decision(self, decision: Decision) -> None:
        """Append one decision to the log."""
        async with self._pool.connection() as conn:
            await _insert_decision(conn, decision)

    async def decisions(self, *, limit: int = 100, kind: str | None = None) -> list[Decision]:
        """The newest `limit` decisions (of `kind`, if given), newest first."""
        where = "WHERE kind = %(kind)s" if kind else ""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT id, at, kind, ship_symbol, role, reason, figures FROM conductor_decisions"
                f" {where} ORDER BY id DESC LIMIT %(limit)s",
                {"kind": kind, "limit": limit},
            )
            rows = await cur.fetchall()
        return [
            Decision(
                at=r[1], kind=r[2], ship=r[3], role=r[4], reason=r[5], figures=r[6], id=int(r[0])
            )
            for r in rows
        ]


async def _insert_decision(conn: AsyncConnection[Any], decision: Decision) -> None:
    await conn.execute(
        "INSERT INTO conductor_decisions (at, kind, ship_symbol, role, reason, figures)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (
            decision.at,
            decision.kind,
            decision.ship,
            decision.role,
            decision.reason,
            Jsonb(json.loads(json.dumps(decision.figures, default=str))),
        ),
    )
