"""Buying ships so that the fleet never grows beyond the plan.

One purchase at a time, journalled: before the call is sent, a journal entry (the role, the
type, the shipyard, the instant after which the call can no longer be sent — its queue
deadline — and the instant after which no answer can still be on the way) is created in the
conductor bucket. The key can be created only when absent, so across conductors (and across a
restart) at most one purchase is ever in doubt. Then:

- bought: the ship is registered in the fleet registry (with its exact type) and the entry
  deleted; the agent's credits from the answer are kept;
- refused by the API, expired in the queue, never sent: the entry is deleted;
- outcome unknown (no answer): the entry stays. Whoever leads next — this conductor, after a
  restart, or another one — waits until the entry's settle instant, then **lists the fleet**
  (GET /my/ships through the gateway) and registers every ship before deleting the entry. A
  purchase is never resent: the next pass decides afresh from the listed fleet.

The same module fills gaps in the view from the API once: a shipyard at a ship's waypoint
whose prices no one has observed, a system's waypoints when none are known, the agent's
credits at start.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import asdict, dataclass
from typing import Any

import nats.errors
import nats.js.errors
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from conductor.reconcile import Purchase
from conductor.view import registry_entry
from flotilla import names
from flotilla.client import (
    ApiError,
    CallError,
    CallExpired,
    CallFailed,
    CallRejected,
    GatewayOverloaded,
    GatewayUnavailable,
    SpaceTradersClient,
)
from flotilla.client.models import Ship
from flotilla.clock import Clock
from flotilla.timestamps import to_timestamp
from flotilla.v1.events_pb2 import ShipyardListing, ShipyardObservation, WaypointObservation

__all__ = ["Buyer", "Journal", "PurchaseResult"]

log = logging.getLogger("conductor.purchasing")


@dataclass(frozen=True)
class Journal:
    """The purchase in flight (or in doubt)."""

    role: str
    ship_type: str
    shipyard: str
    deadline_at: float  # wall-clock seconds: the gateway sends the call no later
    settle_at: float  # wall-clock seconds: no answer can be on the way after this
    holder: str

    def encode(self) -> bytes:
        """The entry as stored."""
        return json.dumps(asdict(self)).encode()

    @classmethod
    def decode(cls, value: bytes) -> Journal:
        """An entry as stored."""
        return cls(**json.loads(value))


@dataclass(frozen=True)
class PurchaseResult:
    """How one purchase ended: `bought`, `refused`, `expired`, `unknown`, `busy` (another
    purchase is in doubt) or `not_leader`."""

    outcome: str
    ship: str = ""
    credits: int | None = None
    detail: str = ""


class Buyer:
    """Purchases and fleet listings for one agent (see the module docstring)."""

    def __init__(
        self,
        js: JetStreamContext,
        api: SpaceTradersClient,
        clock: Clock,
        *,
        holder: str,
        deadline_seconds: float,
        settle_seconds: float,
        list_deadline_seconds: float,
    ) -> None:
        self._js = js
        self._api = api
        self._clock = clock
        self._holder = holder
        self._deadline = deadline_seconds
        self._settle = settle_seconds
        self._list_deadline = list_deadline_seconds
        self._kv: KeyValue | None = None
        self._fleet: KeyValue | None = None
        self.listings = 0

    async def _bucket(self) -> KeyValue:
        if self._kv is None:
            self._kv = await self._js.key_value(names.CONDUCTOR_BUCKET)
        return self._kv

    async def register(self, ship: Ship, ship_type: str = "") -> None:
        """Put `ship` in the fleet registry."""
        if self._fleet is None:
            self._fleet = await self._js.key_value(names.FLEET_BUCKET)
        entry = registry_entry(ship, ship_type)
        await self._fleet.put(ship.symbol, json.dumps(entry).encode())

    async def pending(self) -> tuple[Journal, int] | None:
        """The purchase in doubt and its revision (None: none)."""
        kv = await self._bucket()
        try:
            entry = await kv.get(names.CONDUCTOR_PURCHASE_KEY)
        except (nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError):
            return None
        if not entry.value:
            return None
        try:
            return Journal.decode(entry.value), int(entry.revision or 0)
        except (ValueError, TypeError):
            log.warning("purchase journal not understood: treated as a purchase in doubt")
            now = self._clock.time()
            return Journal("", "", "", now, now, "?"), int(entry.revision or 0)

    async def list_fleet(self) -> list[Ship]:
        """List the fleet through the gateway and register every ship."""
        ships = await self._api.all_ships(deadline=self._list_deadline)
        for ship in ships:
            await self.register(ship)
        self.listings += 1
        log.info("listed the fleet: %d ship(s)", len(ships))
        return ships

    async def settle(self, stopping: asyncio.Event) -> bool:
        """Resolve a purchase in doubt: wait for its settle instant, list the fleet, delete the
        entry. True when nothing is in doubt any more."""
        found = await self.pending()
        if found is None:
            return True
        journal, revision = found
        wait = journal.settle_at - self._clock.time()
        if wait > 0:
            log.info(
                "a purchase of %s for role %s is in doubt: listing the fleet in %.0fs",
                journal.ship_type,
                journal.role,
                wait,
            )
            try:
                await asyncio.wait_for(stopping.wait(), wait)
                return False
            except TimeoutError:
                pass
        try:
            await self.list_fleet()
        except CallError as exc:
            log.warning("listing the fleet failed (%s): the purchase stays in doubt", exc)
            return False
        await self._delete(revision)
        return True

    async def _delete(self, revision: int) -> None:
        kv = await self._bucket()
        try:
            await kv.delete(names.CONDUCTOR_PURCHASE_KEY, last=revision)
        except (nats.errors.Error, nats.js.errors.Error) as exc:
            log.warning("purchase journal not deleted (%r)", exc)

    async def buy(self, purchase: Purchase, confirm_leader: Any) -> PurchaseResult:
        """Buy one ship as `purchase` says, journalled; `confirm_leader()` is awaited after the
        journal is written and before the call is sent."""
        now = self._clock.time()
        journal = Journal(
            role=purchase.role,
            ship_type=purchase.ship_type,
            shipyard=purchase.shipyard,
            deadline_at=now + self._deadline,
            settle_at=now + self._deadline + self._settle,
            holder=self._holder,
        )
        kv = await self._bucket()
        try:
            revision = int(await kv.create(names.CONDUCTOR_PURCHASE_KEY, journal.encode()))
        except (nats.js.errors.KeyWrongLastSequenceError, nats.js.errors.APIError):
            return PurchaseResult("busy", detail="another purchase is in doubt")
        if not await confirm_leader():
            # The entry stays: whoever leads settles it (no call was sent, so listing the fleet
            # will show nothing new).
            return PurchaseResult("not_leader", detail="lost the leader lease before sending")
        remaining = journal.deadline_at - self._clock.time()
        if remaining <= 0:
            await self._delete(revision)
            return PurchaseResult("expired", detail="the deadline passed before sending")
        try:
            result = await self._api.buy_ship(
                purchase.ship_type, purchase.shipyard, deadline=remaining
            )
        except ApiError as exc:
            await self._delete(revision)
            return PurchaseResult("refused", detail=f"{exc.code}: {exc.message}")
        except (CallExpired, GatewayOverloaded, GatewayUnavailable, CallRejected) as exc:
            await self._delete(revision)
            return PurchaseResult("expired", detail=f"not sent: {exc.message}")
        except CallFailed as exc:
            await self._delete(revision)
            return PurchaseResult("expired", detail=f"never sent: {exc.message}")
        except CallError as exc:
            return PurchaseResult("unknown", detail=exc.message)
        await self.register(result.ship, purchase.ship_type)
        await self._delete(revision)
        return PurchaseResult("bought", ship=result.ship.symbol, credits=result.agent.credits)

    # --- filling gaps in the view ------------------------------------------------------------

    async def observe_shipyard(self, waypoint: str) -> dict[str, int]:
        """Read the shipyard at `waypoint` (a ship of ours is there: with prices) into the
        shipyards bucket; returns its prices by ship type."""
        yard = await self._api.get_shipyard(waypoint, deadline=self._list_deadline)
        observation = ShipyardObservation(
            waypoint_symbol=yard.symbol,
            system_symbol=yard.symbol.rsplit("-", 1)[0],
            ship_types=[t.type for t in yard.ship_types],
            modifications_fee=yard.modifications_fee,
        )
        observation.observed_at.CopyFrom(to_timestamp(self._clock.now()))
        for ship in yard.ships or []:
            observation.ships.append(
                ShipyardListing(ship_type=ship.type, purchase_price=ship.purchase_price)
            )
        kv = await self._js.key_value(names.SHIPYARDS_BUCKET)
        await kv.put(yard.symbol, observation.SerializeToString())
        return {ship.type: ship.purchase_price for ship in yard.ships or []}

    async def observe_waypoints(self, system: str) -> int:
        """Read every waypoint of `system` into the waypoints bucket; returns how many."""
        kv = await self._js.key_value(names.WAYPOINTS_BUCKET)
        page, written = 1, 0
        while True:
            listing = await self._api.list_waypoints(system, page, deadline=self._list_deadline)
            for w in listing.items:
                observation = WaypointObservation(
                    waypoint_symbol=w.symbol,
                    system_symbol=w.system_symbol or system,
                    type=w.type,
                    x=w.x,
                    y=w.y,
                    traits=[t.symbol for t in w.traits],
                    orbitals=[o.symbol for o in w.orbitals],
                    orbits=w.orbits or "",
                    under_construction=w.is_under_construction,
                )
                observation.observed_at.CopyFrom(to_timestamp(self._clock.now()))
                await kv.put(w.symbol, observation.SerializeToString())
                written += 1
            if listing.last or not listing.items:
                return written
            page += 1
