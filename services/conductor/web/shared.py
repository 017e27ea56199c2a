"""`SharedSource`: the dashboard's data read straight from the stores every service shares —
PostgreSQL (ships, agents, request log, the per-minute rollups through `flotilla.db.analytics`)
and NATS KV (the plan and the ship assignments).

Writes (a plan, an override) go to the same KV buckets the conductor owns. This is what the
pages run on where no conductor state is handed to them; the conductor passes its own source.
The assignments are kept in memory by one watcher over the whole bucket, so listing 2,000
ships costs one query and no KV round trip per ship.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from google.protobuf import json_format
from google.protobuf.message import Message
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue
from psycopg_pool import PoolTimeout

from conductor.web.source import JSON, PlanInvalid, SourceUnavailable, UnknownShip, epoch_ms
from flotilla import names
from flotilla.clock import Clock, SystemClock
from flotilla.db import analytics
from flotilla.db.pool import ConnectionPool
from flotilla.timestamps import to_datetime, to_timestamp
from flotilla.v1 import events_pb2, fleet_pb2

__all__ = [
    "CHART_POINTS",
    "SharedSource",
    "assignment_json",
    "plan_from_json",
    "plan_json",
    "timing_json",
]

HOUR = timedelta(hours=1)
CHART_POINTS = 240  # at most this many buckets per series: minutes are merged beyond it
RECENT_CALLS = 25

_SHIPS_SQL = """
SELECT symbol, role, frame, behaviour, nav_system_symbol, nav_waypoint_symbol, nav_status,
       nav_flight_mode, nav_origin_symbol, nav_destination_symbol, nav_departure_time,
       nav_arrival, fuel_current, fuel_capacity, cargo_capacity, cargo_units, cargo_inventory,
       cooldown_total_seconds, cooldown_expiration, mounts, version, updated_at
FROM ships {where} ORDER BY symbol
"""
_SHIP_COLUMNS = [
    "symbol",
    "role",
    "frame",
    "behaviour",
    "system",
    "waypoint",
    "nav_status",
    "flight_mode",
    "origin",
    "destination",
    "departure",
    "arrival",
    "fuel",
    "fuel_capacity",
    "cargo_capacity",
    "cargo_units",
    "inventory",
    "cooldown_total",
    "cooldown_expiration",
    "mounts",
    "version",
    "updated_at",
]


def plan_json(plan: fleet_pb2.FleetPlan) -> JSON:
    """A plan as the pages show and edit it."""
    return {
        "version": plan.version,
        "working_capital_floor": plan.working_capital_floor,
        "updated_at": epoch_ms(to_datetime(plan.updated_at))
        if plan.HasField("updated_at")
        else None,
        "updated_by": plan.updated_by,
        "roles": [
            {
                "name": role.name,
                "ship_type": role.ship_type,
                "count": role.count,
                "behaviour": role.behaviour,
                "waypoint_symbol": role.waypoint_symbol,
                "mount_spec": list(role.mount_spec),
                "params": dict(role.params),
                "priority": role.priority,
            }
            for role in plan.roles
        ],
    }


def _field_type(data: JSON, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, kind):
        names_ = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise PlanInvalid(where, f"must be {names_}")
    return value


def plan_from_json(data: Any) -> fleet_pb2.FleetPlan:
    """A `FleetPlan` from the pages' JSON; `PlanInvalid` names the first field that is wrong."""
    if not isinstance(data, dict):
        raise PlanInvalid("plan", "must be an object")
    plan = fleet_pb2.FleetPlan()
    floor = data.get("working_capital_floor", 0)
    if isinstance(floor, bool) or not isinstance(floor, int) or floor < 0:
        raise PlanInvalid("working_capital_floor", "must be a whole number of credits, 0 or more")
    plan.working_capital_floor = floor
    roles = data.get("roles")
    if not isinstance(roles, list):
        raise PlanInvalid("roles", "must be a list")
    seen: set[str] = set()
    for index, role in enumerate(roles):
        where = f"roles.{index}"
        if not isinstance(role, dict):
            raise PlanInvalid(where, "must be an object")
        name = _field_type(role, "name", str, f"{where}.name").strip()
        if not name:
            raise PlanInvalid(f"{where}.name", "must not be empty")
        if name in seen:
            raise PlanInvalid(f"{where}.name", f"{name!r} is named twice")
        seen.add(name)
        count = _field_type(role, "count", int, f"{where}.count")
        if count < 0:
            raise PlanInvalid(f"{where}.count", "must not be negative")
        entry = plan.roles.add(
            name=name,
            ship_type=_field_type(role, "ship_type", str, f"{where}.ship_type").strip(),
            count=count,
            behaviour=_field_type(role, "behaviour", str, f"{where}.behaviour").strip(),
            waypoint_symbol=str(role.get("waypoint_symbol") or ""),
            priority=int(role.get("priority") or 0),
        )
        if not entry.ship_type:
            raise PlanInvalid(f"{where}.ship_type", "must not be empty")
        if not entry.behaviour:
            raise PlanInvalid(f"{where}.behaviour", "must not be empty")
        mounts = role.get("mount_spec") or []
        if not isinstance(mounts, list) or not all(isinstance(m, str) for m in mounts):
            raise PlanInvalid(f"{where}.mount_spec", "must be a list of mount symbols")
        entry.mount_spec.extend(mounts)
        params = role.get("params") or {}
        if not isinstance(params, dict):
            raise PlanInvalid(f"{where}.params", "must be an object of strings")
        entry.params.update({str(k): str(v) for k, v in params.items()})
    return plan


def assignment_json(assignment: fleet_pb2.ShipAssignment | None) -> JSON | None:
    """A ship's assignment as the pages show it (None when it has none)."""
    if assignment is None:
        return None
    body = json_format.MessageToDict(assignment, preserving_proto_field_name=True)
    body.pop("assigned_at", None)
    return {
        **body,
        "role": assignment.role,
        "behaviour": assignment.behaviour,
        "parked": assignment.parked,
        "manual": assignment.manual,
        "plan_version": assignment.plan_version,
        "assigned_at": epoch_ms(to_datetime(assignment.assigned_at))
        if assignment.HasField("assigned_at")
        else None,
    }


def timing_json(timing: dict[str, analytics.RequestTiming]) -> list[JSON]:
    """Seconds per request per priority class (`all` last)."""
    rows = sorted(timing.values(), key=lambda t: (t.priority == analytics.ALL_CLASSES, t.priority))
    return [
        {
            "priority": t.priority,
            "calls": t.calls,
            "queue_wait": t.queue_wait_seconds,
            "wire": t.wire_seconds,
            "seconds_per_request": t.seconds_per_request,
        }
        for t in rows
    ]


def _ship_row(row: dict[str, Any], assignment: fleet_pb2.ShipAssignment | None) -> JSON:
    """The grid's compact row: short keys, times in ms (2,000 of these are listed at once)."""
    return {
        "s": row["symbol"],
        "r": (assignment.role if assignment else "") or row["role"] or "",
        "b": (assignment.behaviour if assignment else "") or row["behaviour"] or "",
        "w": row["waypoint"] or "",
        "n": row["nav_status"] or "",
        "a": epoch_ms(row["arrival"]),
        "c": epoch_ms(row["cooldown_expiration"]),
        "cu": row["cargo_units"],
        "cc": row["cargo_capacity"],
        "fu": row["fuel"],
        "fc": row["fuel_capacity"],
        "p": bool(assignment and assignment.parked),
        "m": bool(assignment and assignment.manual),
        "f": row["frame"] or "",
    }


def _bucket_minutes(window: timedelta) -> int:
    return max(1, math.ceil(window.total_seconds() / 60 / CHART_POINTS))


class SharedSource:
    """The dashboard's `DashboardSource` over the shared database and KV buckets."""

    def __init__(
        self, pool: ConnectionPool, js: JetStreamContext, clock: Clock | None = None
    ) -> None:
        self.pool = pool
        self.js = js
        self.clock = clock or SystemClock()
        self.assignments: dict[str, fleet_pb2.ShipAssignment] = {}
        # The last full state each ship's owner wrote: role, frame and mounts even where the
        # database has none yet.
        self.snapshots: dict[str, events_pb2.ShipState] = {}
        self.synced = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start watching the assignments and ships buckets (current keys are loaded first)."""
        ships_synced = asyncio.Event()
        self._tasks = [
            asyncio.create_task(
                self._watch(
                    names.ASSIGNMENTS_BUCKET,
                    self.assignments,
                    fleet_pb2.ShipAssignment,
                    self.synced,
                )
            ),
            asyncio.create_task(
                self._watch(names.SHIPS_BUCKET, self.snapshots, events_pb2.ShipState, ships_synced)
            ),
        ]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(self.synced.wait(), ships_synced.wait()), 10)

    async def stop(self) -> None:
        """Stop the watchers."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _watch(
        self, bucket: str, store: dict[str, Any], kind: type[Message], synced: asyncio.Event
    ) -> None:
        """Keep `store` equal to the bucket's decoded values (one watcher for every key)."""
        while True:
            try:
                kv = await self.js.key_value(bucket)
                watcher = await kv.watchall()
                while True:
                    entry = await watcher.updates(timeout=3600)  # type: ignore[no-untyped-call]
                    if entry is None:
                        synced.set()
                        continue
                    if entry.operation in ("DEL", "PURGE") or not entry.value:
                        store.pop(entry.key, None)
                        continue
                    value = kind()
                    try:
                        value.ParseFromString(entry.value)
                    except Exception:
                        continue  # its readers dead-letter it; the pages show nothing for it
                    store[entry.key] = value
            except asyncio.CancelledError:
                raise
            except Exception:
                await asyncio.sleep(1.0)  # NATS away: retry; the pages keep the last view

    # --- helpers -----------------------------------------------------------------------------

    def _now(self) -> datetime:
        return self.clock.now().astimezone(UTC)

    @contextlib.asynccontextmanager
    async def _conn(self) -> Any:
        try:
            async with self.pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise SourceUnavailable(f"the database is unreachable: {exc}") from exc

    async def _kv(self, bucket: str) -> KeyValue:
        try:
            return await self.js.key_value(bucket)
        except Exception as exc:
            raise SourceUnavailable(f"NATS bucket {bucket} is unreachable: {exc}") from exc

    async def _ship_rows(self, conn: Any, symbol: str | None = None) -> list[dict[str, Any]]:
        where, params = ("WHERE symbol = %s", (symbol,)) if symbol else ("", ())
        cur = await conn.execute(_SHIPS_SQL.format(where=where), params)
        rows = [dict(zip(_SHIP_COLUMNS, row, strict=True)) for row in await cur.fetchall()]
        for row in rows:
            snapshot = self.snapshots.get(row["symbol"])
            if snapshot is None:
                continue
            row["role"] = row["role"] or snapshot.role or None
            row["frame"] = row["frame"] or snapshot.frame or None
            if not row["mounts"] and snapshot.HasField("mounts"):
                row["mounts"] = list(snapshot.mounts.symbols)
        return rows

    def _frame(self, symbol: str, rows: dict[str, str | None]) -> str:
        snapshot = self.snapshots.get(symbol)
        return rows.get(symbol) or (snapshot.frame if snapshot else "") or "unknown"

    async def _current_plan(self) -> tuple[fleet_pb2.FleetPlan | None, int]:
        kv = await self._kv(names.PLAN_BUCKET)
        try:
            entry = await kv.get(names.PLAN_KEY)
        except KeyNotFoundError:
            return None, 0
        except Exception as exc:
            raise SourceUnavailable(f"the plan cannot be read from NATS: {exc}") from exc
        if not entry.value:
            return None, entry.revision or 0
        plan = fleet_pb2.FleetPlan()
        plan.ParseFromString(entry.value)
        return plan, entry.revision or 0

    # --- reads -------------------------------------------------------------------------------

    async def overview(self, window: timedelta) -> JSON:
        """Agent, the last hour's headline and the weekly table for `window`."""
        now = self._now()
        async with self._conn() as conn:
            cur = await conn.execute(
                "SELECT symbol, credits, headquarters, ship_count, observed_at FROM agents"
                " ORDER BY observed_at DESC LIMIT 1"
            )
            agent_row = await cur.fetchone()
            if agent_row is None:  # no trade yet: the agent is known by its ships only
                cur = await conn.execute(
                    "SELECT agent, NULL, NULL, count(*), NULL FROM ships"
                    " GROUP BY agent ORDER BY count(*) DESC LIMIT 1"
                )
                agent_row = await cur.fetchone()
            hour = await analytics.fleet_stats(conn, now=now, window=HOUR)
            report = await analytics.operator_report(conn, now=now, window=window)
        agent = (
            None
            if agent_row is None
            else {
                "symbol": agent_row[0],
                "credits": agent_row[1],
                "headquarters": agent_row[2],
                "ship_count": agent_row[3],
                "observed_at": epoch_ms(agent_row[4]),
            }
        )
        stats = report.stats
        return {
            "now": epoch_ms(now),
            "agent": agent,
            "headline": {
                "cph_gross": hour.cph_gross,
                "cph_net": hour.cph_net,
                "cpr_gross": hour.cpr_gross,
                "cpr_net": hour.cpr_net,
                "saturation": hour.saturation,
                "requests_per_minute": hour.requests_per_minute,
                "seconds_per_request": hour.timing[analytics.ALL_CLASSES].seconds_per_request,
                "calls": hour.timing[analytics.ALL_CLASSES].calls,
            },
            "report": {
                "window_hours": window.total_seconds() / 3600,
                "empty": report.empty,
                "fleet_size": report.fleet_size,
                "contracts_completed": report.contracts_completed,
                "credits_earned": report.credits_earned,
                "credits_net": stats.credits.net,
                "requests": stats.requests,
                "uptime_hours": report.uptime_hours,
                "cph_gross": report.cph_uptime_gross,
                "cph_net": report.cph_uptime_net,
                "cpr_gross": stats.cpr_gross,
                "cpr_net": stats.cpr_net,
                "seconds_per_request": stats.timing[analytics.ALL_CLASSES].seconds_per_request,
                "saturation": stats.saturation,
            },
        }

    async def ships(self) -> JSON:
        """Every ship as a compact row, with the server's time for the countdowns."""
        async with self._conn() as conn:
            rows = await self._ship_rows(conn)
        return {
            "now": epoch_ms(self._now()),
            "ships": [_ship_row(row, self.assignments.get(row["symbol"])) for row in rows],
        }

    async def ship(self, symbol: str, window: timedelta) -> JSON:
        """One ship in full; `UnknownShip` when no ship has that symbol."""
        now = self._now()
        async with self._conn() as conn:
            rows = await self._ship_rows(conn, symbol)
            if not rows:
                raise UnknownShip(symbol)
            cur = await conn.execute(
                "SELECT timestamp, method, endpoint, priority, queued_ms, wire_ms, attempts,"
                " status, outcome FROM request_log WHERE ship_symbol = %s"
                " ORDER BY timestamp DESC LIMIT %s",
                (symbol, RECENT_CALLS),
            )
            calls = await cur.fetchall()
            span = analytics.Window.ending(now, window)
            cur = await conn.execute(
                "SELECT coalesce(sum(credits) FILTER (WHERE kind = ANY(%s)), 0)::bigint,"
                " coalesce(sum(credits) FILTER (WHERE kind = ANY(%s)), 0)::bigint"
                " FROM credit_minutes WHERE ship_symbol = %s AND minute >= %s AND minute < %s",
                (
                    list(analytics.INCOME_KINDS),
                    list(analytics.EXPENSE_KINDS),
                    symbol,
                    span.start,
                    span.end,
                ),
            )
            money = await cur.fetchone()
        row = rows[0]
        assignment = self.assignments.get(symbol)
        gross, spent = (int(money[0]), int(money[1])) if money else (0, 0)
        earned = analytics.Credits(gross, spent, span.hours)
        return {
            "now": epoch_ms(now),
            "row": _ship_row(row, assignment),
            "ship": {
                "symbol": row["symbol"],
                "role": row["role"],
                "frame": row["frame"],
                "behaviour": row["behaviour"],
                "version": row["version"],
                "updated_at": epoch_ms(row["updated_at"]),
                "nav": {
                    "system": row["system"],
                    "waypoint": row["waypoint"],
                    "status": row["nav_status"],
                    "flight_mode": row["flight_mode"],
                    "origin": row["origin"],
                    "destination": row["destination"],
                    "departure": epoch_ms(row["departure"]),
                    "arrival": epoch_ms(row["arrival"]),
                },
                "fuel": {"current": row["fuel"], "capacity": row["fuel_capacity"]},
                "cargo": {
                    "units": row["cargo_units"],
                    "capacity": row["cargo_capacity"],
                    "inventory": row["inventory"] or [],
                },
                "cooldown": {
                    "total_seconds": row["cooldown_total"],
                    "expiration": epoch_ms(row["cooldown_expiration"]),
                },
                "mounts": row["mounts"] or [],
            },
            "assignment": assignment_json(assignment),
            "calls": [
                {
                    "at": epoch_ms(at),
                    "method": method,
                    "endpoint": endpoint,
                    "priority": priority,
                    "queued_ms": queued,
                    "wire_ms": wire,
                    "attempts": attempts,
                    "status": status,
                    "outcome": outcome,
                }
                for at, method, endpoint, priority, queued, wire, attempts, status, outcome in calls
            ],
            "earnings": {
                "window_hours": span.hours,
                "gross": earned.gross,
                "spent": earned.spent,
                "net": earned.net,
                "cph_gross": earned.cph_gross,
                "cph_net": earned.cph_net,
            },
        }

    async def charts(self, window: timedelta) -> JSON:
        """Series over `window` in buckets of whole minutes (at most `CHART_POINTS` of them)."""
        now = self._now()
        step = _bucket_minutes(window)
        async with self._conn() as conn:
            minutes = await analytics.minute_series(conn, now=now, window=window)
            timing = await analytics.request_timing(conn, now=now, window=window)
            behaviours = await analytics.earnings_by_behaviour(conn, now=now, window=window)
            span = analytics.Window.ending(now, window)
            origin = minutes[0].minute if minutes else span.start
            cur = await conn.execute(
                "SELECT c.ship_symbol, s.frame,"
                " coalesce(sum(c.credits) FILTER (WHERE c.kind = ANY(%s)), 0)::bigint,"
                " coalesce(sum(c.credits) FILTER (WHERE c.kind = ANY(%s)), 0)::bigint"
                " FROM credit_minutes c LEFT JOIN ships s ON s.symbol = c.ship_symbol"
                " WHERE c.minute >= %s AND c.minute < %s AND c.ship_symbol <> ''"
                " GROUP BY 1, 2",
                (list(analytics.INCOME_KINDS), list(analytics.EXPENSE_KINDS), span.start, now),
            )
            frames: dict[str, list[int]] = {}
            for ship_symbol, frame, gross, spent in await cur.fetchall():
                key = self._frame(ship_symbol, {ship_symbol: frame})
                sums = frames.setdefault(key, [0, 0])
                sums[0] += int(gross)
                sums[1] += int(spent)
            cur = await conn.execute(
                "SELECT date_bin(%s, timestamp, %s) AS bucket, count(DISTINCT ship_symbol)"
                " FROM request_log WHERE timestamp >= %s AND timestamp < %s"
                " AND ship_symbol IS NOT NULL AND ship_symbol <> '' GROUP BY 1",
                (timedelta(minutes=step), origin, origin, now),
            )
            active = {epoch_ms(bucket): int(n) for bucket, n in await cur.fetchall()}
            cur = await conn.execute("SELECT credits FROM agents ORDER BY observed_at DESC LIMIT 1")
            agent = await cur.fetchone()
        buckets: list[JSON] = []
        for index in range(0, len(minutes), step):
            chunk = minutes[index : index + step]
            buckets.append(
                {
                    "t": epoch_ms(chunk[0].minute),
                    "minutes": len(chunk),
                    "gross": sum(m.gross for m in chunk),
                    "spent": sum(m.spent for m in chunk),
                    "requests": sum(m.requests for m in chunk),
                    "non_throttled": sum(m.non_throttled for m in chunk),
                }
            )
        # Credits over time: the agent's credits now, walked back by each bucket's net.
        balance = int(agent[0]) if agent else None
        if balance is not None:
            running = balance
            for bucket in reversed(buckets):
                bucket["credits"] = running
                running -= bucket["gross"] - bucket["spent"]
        for bucket in buckets:
            bucket["active"] = active.get(bucket["t"], 0)
        return {
            "now": epoch_ms(now),
            "window_hours": window.total_seconds() / 3600,
            "bucket_minutes": step,
            "limit_per_minute": analytics.REQUESTS_PER_MINUTE_LIMIT,
            "agent_credits": balance,
            "buckets": buckets,
            "timing": timing_json(timing),
            "by_behaviour": [
                {"key": e.key or "(none)", "gross": e.gross, "net": e.net, "cph_net": e.cph_net}
                for e in behaviours
            ],
            "by_ship_type": [
                {
                    "key": key,
                    "gross": int(gross),
                    "net": int(gross) - int(spent),
                    "cph_net": (int(gross) - int(spent)) / span.hours,
                }
                for key, (gross, spent) in sorted(frames.items())
            ],
        }

    async def plan(self) -> JSON:
        """The plan from the plan bucket, desired vs actual per role (from the assignments)."""
        plan, revision = await self._current_plan()
        async with self._conn() as conn:
            cur = await conn.execute("SELECT count(*) FROM ships")
            counted = await cur.fetchone()
        ships = int(counted[0]) if counted else 0
        actual = Counter(a.role for a in self.assignments.values() if not a.parked)
        parked = Counter(a.role for a in self.assignments.values() if a.parked)
        roles = []
        for role in plan.roles if plan else []:
            roles.append(
                {
                    "name": role.name,
                    "ship_type": role.ship_type,
                    "behaviour": role.behaviour,
                    "desired": role.count,
                    "actual": actual.get(role.name, 0),
                    "parked": parked.get(role.name, 0),
                }
            )
        planned = {role.name for role in plan.roles} if plan else set()
        outside = sum(n for name, n in actual.items() if name not in planned)
        return {
            "now": epoch_ms(self._now()),
            "plan": None
            if plan is None
            else {
                **plan_json(plan),
                "document": {
                    "working_capital_floor": plan.working_capital_floor,
                    "roles": plan_json(plan)["roles"],
                },
            },
            "revision": revision,
            "roles": roles,
            "ships": ships,
            "assigned": len(self.assignments),
            "outside_plan": outside,
            "decisions": [],
            "decisions_note": "saturation decisions are made and kept by the conductor",
        }

    async def dry_run(self, plan: JSON) -> JSON:
        """Per role: how many ships the plan would buy (desired beyond those assigned to it)
        and release (assigned beyond desired); and the ships of roles the plan drops."""
        proposed = plan_from_json(plan)
        actual = Counter(a.role for a in self.assignments.values())
        purchases = [
            {"role": r.name, "ship_type": r.ship_type, "count": r.count - actual.get(r.name, 0)}
            for r in proposed.roles
            if r.count > actual.get(r.name, 0)
        ]
        kept = {r.name: r.count for r in proposed.roles}
        released: list[JSON] = []
        for symbol in sorted(self.assignments):
            role = self.assignments[symbol].role
            if kept.get(role, 0) > 0:
                kept[role] -= 1
                continue
            released.append({"ship": symbol, "from_role": role, "behaviour": "idle"})
        return {"purchases": purchases, "assignments": released}

    async def apply_plan(self, plan: JSON, *, by: str) -> JSON:
        """Write `plan` to the plan bucket as the next version."""
        proposed = plan_from_json(plan)
        current, revision = await self._current_plan()
        proposed.version = (current.version if current else 0) + 1
        proposed.updated_at.CopyFrom(to_timestamp(self._now()))
        proposed.updated_by = by
        kv = await self._kv(names.PLAN_BUCKET)
        try:
            if revision:
                await kv.update(names.PLAN_KEY, proposed.SerializeToString(), last=revision)
            else:
                await kv.create(names.PLAN_KEY, proposed.SerializeToString())
        except Exception as exc:
            raise SourceUnavailable(f"the plan could not be written: {exc}") from exc
        return plan_json(proposed)

    async def _write_assignment(self, assignment: fleet_pb2.ShipAssignment) -> JSON:
        kv = await self._kv(names.ASSIGNMENTS_BUCKET)
        try:
            await kv.put(assignment.ship_symbol, assignment.SerializeToString())
        except Exception as exc:
            raise SourceUnavailable(f"the assignment could not be written: {exc}") from exc
        self.assignments[assignment.ship_symbol] = assignment
        result = assignment_json(assignment)
        assert result is not None
        return result

    async def _known(self, symbol: str) -> fleet_pb2.ShipAssignment:
        async with self._conn() as conn:
            if not await self._ship_rows(conn, symbol):
                raise UnknownShip(symbol)
        current = fleet_pb2.ShipAssignment()
        if symbol in self.assignments:
            current.CopyFrom(self.assignments[symbol])
        current.ship_symbol = symbol
        return current

    async def set_override(self, symbol: str, behaviour: str, expires: timedelta | None) -> JSON:
        """A manual assignment in the assignments bucket. Without the conductor nobody lets it
        expire, so `expires` is only honoured by the conductor's own source."""
        assignment = await self._known(symbol)
        assignment.behaviour = behaviour
        assignment.manual = True
        assignment.parked = False
        assignment.assigned_at.CopyFrom(to_timestamp(self._now()))
        return await self._write_assignment(assignment)

    async def clear_override(self, symbol: str) -> JSON:
        """Drop the manual mark (the conductor's next reconcile assigns the ship again)."""
        assignment = await self._known(symbol)
        assignment.manual = False
        assignment.assigned_at.CopyFrom(to_timestamp(self._now()))
        return await self._write_assignment(assignment)
