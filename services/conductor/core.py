"""`Conductor`: the plan, the view, the leader lease and the buyer together; one reconcile pass
(`reconcile_once`) and the operations the REST API calls (see the package docstring)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import nats.errors
import nats.js.errors
from nats.js import JetStreamContext

from conductor.catalog import BEHAVIOURS
from conductor.leader import LeaderLease
from conductor.metrics import ConductorMetrics
from conductor.plan import FleetPlan
from conductor.purchasing import Buyer, PurchaseResult
from conductor.reconcile import Actions, Assign, ShipView, World, plan_actions
from conductor.store import Decision, Override, PlanStore, StoredPlan
from conductor.view import FleetView
from flotilla import names
from flotilla.client import CallError, SpaceTradersClient
from flotilla.clock import Clock
from flotilla.db.analytics import earnings_by_ship
from flotilla.db.plan_records import record_assignments
from flotilla.db.pool import ConnectionPool
from flotilla.timestamps import to_timestamp
from flotilla.v1.fleet_pb2 import ShipAssignment

__all__ = ["Conductor", "Paused", "ShipInfo"]

log = logging.getLogger("conductor")

_PAUSE_KEY = "paused"
_PARKED_KEY = "parked"


@dataclass(frozen=True)
class Paused:
    """What is paused: purchases only, or every action (assignments too)."""

    purchases: bool = False
    all: bool = False


@dataclass(frozen=True)
class ShipInfo:
    """One ship for the API: what the conductor sees and its assignment."""

    symbol: str
    ship_type: str
    system: str
    waypoint: str
    status: str
    mounts: list[str] | None
    role: str
    behaviour: str
    parked: bool
    manual: bool
    params: dict[str, str] = field(default_factory=dict)
    override: Override | None = None


class Conductor:
    """One conductor replica (see the module docstring)."""

    def __init__(
        self,
        *,
        js: JetStreamContext,
        pool: ConnectionPool,
        clock: Clock,
        api: SpaceTradersClient,
        store: PlanStore,
        view: FleetView,
        leader: LeaderLease,
        buyer: Buyer,
        metrics: ConductorMetrics,
        earnings_window_seconds: float,
        earnings_refresh_seconds: float = 60.0,
    ) -> None:
        self.js = js
        self.pool = pool
        self.clock = clock
        self.api = api
        self.store = store
        self.view = view
        self.leader = leader
        self.buyer = buyer
        self.metrics = metrics
        self._earnings_window = earnings_window_seconds
        self._earnings_every = earnings_refresh_seconds
        self.plan: StoredPlan | None = None
        self.agent = ""
        self.credits: int | None = None
        self._credits_at: datetime | None = None
        self._overrides: dict[str, Override] = {}
        self._earnings: dict[str, float] = {}
        self._earnings_read = -1e18
        self.paused = Paused()
        self.parked: dict[str, str] = {}
        # Set by saturation control while the fleet asks for more requests than the limit.
        self.saturation_holds_purchases = False
        self.wake = asyncio.Event()
        self.last_actions: Actions | None = None
        self.purchases: list[PurchaseResult] = []
        self._observed_yards: set[str] = set()
        self._observed_systems: set[str] = set()
        self.passes = 0
        self._choices: dict[str, str] = {}

    # --- the operations the API uses --------------------------------------------------------

    async def get_plan(self) -> StoredPlan | None:
        """The plan being applied (its newest revision)."""
        return await self.store.current()

    async def plan_history(self, limit: int = 50) -> list[StoredPlan]:
        """The newest revisions, newest first."""
        return await self.store.history(limit)

    async def replace_plan(
        self, plan: FleetPlan, *, author: str, expected_revision: int | None = None
    ) -> StoredPlan:
        """Store `plan` as the next revision and reconcile to it (`RevisionConflict` when
        `expected_revision` is given and is not the newest)."""
        stored = await self.store.replace(plan, author=author, expected_revision=expected_revision)
        self.plan = stored
        await self._publish_plan(stored)
        self.wake.set()
        return stored

    async def dry_run(self, plan: FleetPlan | None = None) -> Actions:
        """What the reconciler would do now for `plan` (None: the current plan)."""
        if plan is None:
            stored = self.plan or await self.store.current()
            plan = stored.plan if stored else FleetPlan()
        await self._refresh()
        return plan_actions(plan, self.world())

    def list_ships(
        self, *, role: str | None = None, behaviour: str | None = None, status: str | None = None
    ) -> list[ShipInfo]:
        """Every ship, optionally only those of a role, a behaviour or a nav status."""
        out = []
        for info in (self._info(s) for s in self.view.ships().values()):
            if role is not None and info.role != role:
                continue
            if behaviour is not None and info.behaviour != behaviour:
                continue
            if status is not None and info.status != status:
                continue
            out.append(info)
        return sorted(out, key=lambda i: i.symbol)

    def ship(self, symbol: str) -> ShipInfo | None:
        """One ship (None: not in the fleet)."""
        ship = self.view.ships().get(symbol)
        return self._info(ship) if ship else None

    async def set_override(
        self,
        ship: str,
        behaviour: str,
        *,
        params: dict[str, str] | None = None,
        waypoint: str = "",
        reason: str = "",
        expires_at: datetime | None = None,
    ) -> Override:
        """Assign `ship` by hand until `expires_at` (None: until cleared). ValueError for an
        unknown behaviour; KeyError for a ship not in the fleet."""
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {behaviour!r}")
        if ship not in self.view.ships():
            raise KeyError(ship)
        stored = await self.store.set_override(
            Override(ship, behaviour, dict(params or {}), waypoint, reason, None, expires_at)
        )
        await self.record("override", f"manual {behaviour}", ship=ship, figures={"reason": reason})
        self._overrides[ship] = stored
        self.wake.set()
        return stored

    async def clear_override(self, ship: str) -> bool:
        """Remove `ship`'s override; False if it had none."""
        removed = await self.store.clear_override(ship)
        self._overrides.pop(ship, None)
        self.wake.set()
        return removed

    async def overrides(self) -> dict[str, Override]:
        """Every stored override."""
        return await self.store.overrides()

    async def pause(self, *, purchases: bool | None = None, all: bool | None = None) -> Paused:
        """Pause or resume purchases and/or every action (kept in NATS KV: every replica and
        the next leader see it)."""
        current = await self._read_paused()
        new = Paused(
            purchases=current.purchases if purchases is None else purchases,
            all=current.all if all is None else all,
        )
        kv = await self.js.key_value(names.CONDUCTOR_BUCKET)
        await kv.put(_PAUSE_KEY, json.dumps(vars(new)).encode())
        self.paused = new
        await self.record("pause", f"purchases={new.purchases} all={new.all}")
        self.wake.set()
        return new

    async def pause_purchases(self) -> Paused:
        """Stop buying ships."""
        return await self.pause(purchases=True)

    async def resume_purchases(self) -> Paused:
        """Buy ships again."""
        return await self.pause(purchases=False)

    async def pause_all(self) -> Paused:
        """Stop every action: no purchase, no assignment written."""
        return await self.pause(all=True)

    async def resume_all(self) -> Paused:
        """Act again."""
        return await self.pause(all=False)

    async def set_parked(self, parked: dict[str, str]) -> None:
        """The ships parked by saturation control, with their reasons (replaces the set)."""
        kv = await self.js.key_value(names.CONDUCTOR_BUCKET)
        await kv.put(_PARKED_KEY, json.dumps(parked).encode())
        self.parked = dict(parked)
        self.metrics.parked.set(len(parked))
        self.wake.set()

    async def decisions(self, *, limit: int = 100, kind: str | None = None) -> list[Decision]:
        """The newest decisions, newest first."""
        return await self.store.decisions(limit=limit, kind=kind)

    async def record(
        self,
        kind: str,
        reason: str,
        *,
        ship: str | None = None,
        role: str | None = None,
        figures: dict[str, Any] | None = None,
    ) -> None:
        """Log and store one decision."""
        log.info("decision %s: %s (ship=%s role=%s %s)", kind, reason, ship, role, figures or {})
        try:
            await self.store.record_decision(
                Decision(self.clock.now(), kind, reason, ship, role, dict(figures or {}))
            )
        except Exception as exc:
            log.warning("decision not stored: %r", exc)

    # --- state ------------------------------------------------------------------------------

    def _info(self, ship: ShipView) -> ShipInfo:
        current = self.view.assignments().get(ship.symbol)
        return ShipInfo(
            symbol=ship.symbol,
            ship_type=ship.ship_type,
            system=ship.system,
            waypoint=ship.waypoint,
            status=ship.status,
            mounts=list(ship.mounts) if ship.mounts is not None else None,
            role=current.role if current else "",
            behaviour=current.behaviour if current else "",
            parked=current.parked if current else False,
            manual=current.manual if current else False,
            params=dict(current.params) if current else {},
            override=self._overrides.get(ship.symbol),
        )

    def world(self) -> World:
        """The snapshot the reconciler decides from."""
        return World(
            now=self.clock.now(),
            ships=self.view.ships(),
            assignments=self.view.assignments(),
            offers=self.view.offers(),
            waypoints=self.view.waypoints(),
            credits=self.credits,
            overrides={s: o for s, o in self._overrides.items() if o.active(self.clock.now())},
            parked=dict(self.parked),
            earnings=dict(self._earnings),
            purchases_paused=(
                self.paused.purchases or self.paused.all or self.saturation_holds_purchases
            ),
        )

    async def _read_paused(self) -> Paused:
        kv = await self.js.key_value(names.CONDUCTOR_BUCKET)
        try:
            entry = await kv.get(_PAUSE_KEY)
            return Paused(**json.loads(entry.value or b"{}"))
        except (nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError):
            return Paused()

    async def _read_parked(self) -> dict[str, str]:
        kv = await self.js.key_value(names.CONDUCTOR_BUCKET)
        try:
            entry = await kv.get(_PARKED_KEY)
            return {str(k): str(v) for k, v in json.loads(entry.value or b"{}").items()}
        except (nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError):
            return {}

    async def start(self, initial: FleetPlan, *, author: str) -> None:
        """Load the plan (storing `initial` if none is), learn the agent and its credits."""
        self.plan = await self.store.ensure_initial(initial, author=author)
        await self._publish_plan(self.plan)
        self._overrides = await self.store.overrides()
        agent = await self.api.get_agent()
        self.agent = agent.symbol
        self.view.agent = agent.symbol
        self._set_credits(agent.credits, self.clock.now())

    def _set_credits(self, credits: int, at: datetime) -> None:
        if self._credits_at is None or at >= self._credits_at:
            self.credits = credits
            self._credits_at = at

    async def _publish_plan(self, stored: StoredPlan) -> None:
        message = stored.plan.to_proto(stored.revision)
        message.updated_at.CopyFrom(to_timestamp(stored.created_at))
        message.updated_by = stored.author
        kv = await self.js.key_value(names.PLAN_BUCKET)
        await kv.put(names.PLAN_KEY, message.SerializeToString())
        self.metrics.plan_revision.set(stored.revision)

    async def _refresh(self) -> None:
        """Re-read what changes under the conductor: plan, overrides, pause, parked, credits,
        measured earnings."""
        stored = await self.store.current()
        if stored is not None and (self.plan is None or stored.revision != self.plan.revision):
            self.plan = stored
            await self._publish_plan(stored)
        await self.store.drop_expired(self.clock.now())
        self._overrides = await self.store.overrides()
        self.paused = await self._read_paused()
        self.parked = await self._read_parked()
        self.metrics.parked.set(len(self.parked))
        if self.agent:
            async with self.pool.connection() as conn:
                cur = await conn.execute(
                    "SELECT credits, observed_at FROM agents WHERE symbol = %s", (self.agent,)
                )
                row = await cur.fetchone()
            if row:
                self._set_credits(int(row[0]), row[1])
        if time.monotonic() - self._earnings_read > self._earnings_every:
            self._earnings_read = time.monotonic()
            await self._read_earnings()

    async def _read_earnings(self) -> None:
        ships = self.view.ships()
        async with self.pool.connection() as conn:
            rows = await earnings_by_ship(
                conn,
                now=self.clock.now(),
                window=timedelta(seconds=self._earnings_window),
                agent=self.agent or None,
            )
        per_type: dict[str, list[float]] = {}
        for row in rows:
            ship = ships.get(row.key)
            if ship is not None and ship.ship_type:
                per_type.setdefault(ship.ship_type, []).append(row.cph_net)
        self._earnings = {t: sum(v) / len(v) for t, v in per_type.items()}

    # --- one pass ---------------------------------------------------------------------------

    async def _fill_view_gaps(self) -> None:
        """Read from the API what the view lacks: the waypoints of a system where a ship is and
        the shipyard (with prices) where a ship is docked or orbiting."""
        ships = self.view.ships().values()
        known_systems = {w.system for w in self.view.waypoints()}
        priced = {o.shipyard for o in self.view.offers()}
        for ship in ships:
            if ship.system and ship.system not in known_systems:
                if ship.system in self._observed_systems:
                    continue
                self._observed_systems.add(ship.system)
                try:
                    await self.buyer.observe_waypoints(ship.system)
                except CallError as exc:
                    log.warning("waypoints of %s not read: %s", ship.system, exc)
        yards = {w.symbol for w in self.view.waypoints() if "SHIPYARD" in w.traits} - priced
        for ship in ships:
            if ship.waypoint in yards and ship.status != "IN_TRANSIT":
                if ship.waypoint in self._observed_yards:
                    continue
                self._observed_yards.add(ship.waypoint)
                try:
                    await self.buyer.observe_shipyard(ship.waypoint)
                except CallError as exc:
                    log.warning("shipyard %s not read: %s", ship.waypoint, exc)

    async def write_assignments(self, assigns: list[Assign], revision: int) -> None:
        """Write assignments to the assignments bucket, then record them in the database."""
        kv = await self.js.key_value(names.ASSIGNMENTS_BUCKET)
        now = self.clock.now()
        messages = []
        for a in assigns:
            message = ShipAssignment(
                ship_symbol=a.ship,
                role=a.role,
                behaviour=a.behaviour,
                params=dict(a.params),
                plan_version=revision,
                parked=a.parked,
                manual=a.manual,
                waypoint_symbol=a.waypoint,
                mount_spec=list(a.mount_spec),
            )
            message.assigned_at.CopyFrom(to_timestamp(now))
            await kv.put(a.ship, message.SerializeToString())
            self.view.assignment_values.values[a.ship] = message
            messages.append(message)
            self.metrics.assignments_written.inc()
            log.info(
                "assigned %s: role=%r behaviour=%s waypoint=%s parked=%s (%s)",
                a.ship,
                a.role,
                a.behaviour,
                a.waypoint,
                a.parked,
                a.reason,
            )
        if messages:
            try:
                async with self.pool.connection() as conn:
                    await record_assignments(conn, messages)
            except Exception as exc:
                log.warning("assignments not recorded in the database: %r", exc)

    async def reconcile_once(self, stopping: asyncio.Event) -> Actions | None:
        """One pass as leader: settle a purchase in doubt, refresh, plan, write the
        assignments, make at most one purchase. None when nothing could be decided."""
        started = time.perf_counter()
        try:
            listings = self.buyer.listings
            if not await self.buyer.settle(stopping):
                return None
            if self.buyer.listings != listings or self.credits is None:
                await self._refresh_credits()
            await self._refresh()
            if self.paused.all:
                return None
            if self.leader.is_leader:
                await self._fill_view_gaps()
            stored = self.plan
            if stored is None:
                return None
            actions = plan_actions(stored.plan, self.world())
            self.last_actions = actions
            for role, count in actions.desired.items():
                self.metrics.desired.labels(role).set(count)
                self.metrics.actual.labels(role).set(actions.actual.get(role, 0))
            if not self.leader.is_leader:
                return None
            for choice in actions.choices:
                if self._choices.get(choice.role) != choice.ship_type:
                    self._choices[choice.role] = choice.ship_type
                    await self.record(
                        "auto_choice",
                        f"{choice.ship_type}: {choice.reason}",
                        role=choice.role,
                        figures=dict(choice.figures),
                    )
            self.passes += 1
            await self.write_assignments(actions.assignments, stored.revision)
            if actions.purchases:
                await self._purchase(actions, stored)
            return actions
        finally:
            self.metrics.reconcile_seconds.observe(time.perf_counter() - started)

    async def _refresh_credits(self) -> None:
        try:
            agent = await self.api.get_agent()
        except CallError as exc:
            log.warning("credits not read: %s", exc)
            self.credits = None
            self._credits_at = None
            return
        self.credits = agent.credits
        self._credits_at = self.clock.now()

    async def _purchase(self, actions: Actions, stored: StoredPlan) -> None:
        purchase = actions.purchases[0]
        choice = next((c for c in actions.choices if c.role == purchase.role), None)
        # Prices move with every sale: read the shipyard's price now, and the credits, so that
        # the reserve holds against the price actually charged.
        prices = await self.buyer.observe_shipyard(purchase.shipyard)
        price = prices.get(purchase.ship_type)
        await self._refresh_credits()
        if price is None or self.credits is None or self.credits - price < stored.plan.reserve:
            await self.record(
                "purchase",
                "skipped",
                role=purchase.role,
                figures={
                    "ship_type": purchase.ship_type,
                    "shipyard": purchase.shipyard,
                    "price_now": price,
                    "credits": self.credits,
                    "reserve": stored.plan.reserve,
                },
            )
            return
        purchase = dataclasses.replace(purchase, price=price, credits_after=self.credits - price)
        result = await self.buyer.buy(purchase, self.leader.confirm)
        self.purchases.append(result)
        self.metrics.purchases.labels(result.outcome).inc()
        figures: dict[str, Any] = {
            "ship_type": purchase.ship_type,
            "shipyard": purchase.shipyard,
            "price": purchase.price,
            "credits_before": self.credits,
            "reserve": stored.plan.reserve,
            "outcome": result.outcome,
            "detail": result.detail,
        }
        if choice is not None:
            figures["choice"] = {"reason": choice.reason, "figures": dict(choice.figures)}
        if result.credits is not None:
            self._set_credits(result.credits, self.clock.now())
            figures["credits_after"] = result.credits
        await self.record(
            "purchase",
            result.outcome,
            ship=result.ship or None,
            role=purchase.role,
            figures=figures,
        )
        if result.credits is None:
            # The answer did not say: the credits are read again before any other purchase.
            self.credits = None
            self._credits_at = None
        if result.outcome in ("bought", "unknown", "refused"):
            self.wake.set()

    async def run(self, stopping: asyncio.Event, interval: float) -> None:
        """Reconcile every `interval` seconds (or when woken) while leader, until stopped."""
        while not stopping.is_set():
            if self.leader.is_leader:
                try:
                    await self.reconcile_once(stopping)
                except CallError as exc:
                    log.warning("reconcile pass cut short: %s", exc)
                except (nats.errors.Error, nats.js.errors.Error) as exc:
                    log.warning("reconcile pass cut short by NATS: %r", exc)
                except Exception:
                    log.exception("reconcile pass failed")
            self.wake.clear()
            waits = [
                asyncio.ensure_future(stopping.wait()),
                asyncio.ensure_future(self.wake.wait()),
                asyncio.ensure_future(self.leader.changed.wait()),
            ]
            await asyncio.wait(waits, timeout=interval, return_when=asyncio.FIRST_COMPLETED)
            for w in waits:
                w.cancel()
            self.leader.changed.clear()
