"""The fleet and the world as the conductor sees them, without asking the API: one watcher per
KV bucket of the shared view (ship snapshots written by the dispatchers, shipyards, waypoints,
the assignments) and of the conductor's own fleet registry (every ship it bought or listed,
with its type), mirrored in memory.

`FleetView.ships()` merges a ship's registry entry (its type, exact when the conductor bought
it) with its newest snapshot (position, mounts); the type of a ship known only by its snapshot
is told from its frame, registration role and mounts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from nats.js import JetStreamContext

from conductor.catalog import ship_type_of
from conductor.reconcile import CurrentAssignment, Offer, ShipView, WaypointView
from flotilla import names
from flotilla.client.models import Ship
from flotilla.v1.events_pb2 import ShipState, ShipyardObservation, WaypointObservation
from flotilla.v1.fleet_pb2 import ShipAssignment

__all__ = ["BucketMirror", "FleetView", "registry_entry"]

log = logging.getLogger("conductor.view")

T = TypeVar("T")


class BucketMirror(Generic[T]):
    """Every key of one KV bucket, decoded by `decode` (a value it refuses is left out)."""

    def __init__(self, bucket: str, decode: Callable[[bytes], T]) -> None:
        self.bucket = bucket
        self._decode = decode
        self.values: dict[str, T] = {}
        self.synced = asyncio.Event()

    def apply(self, key: str, value: bytes | None) -> None:
        """Take one update (None: the key was deleted or expired)."""
        if not value:
            self.values.pop(key, None)
            return
        try:
            self.values[key] = self._decode(value)
        except Exception as exc:
            log.warning("%s: value of %s not understood (%r): ignored", self.bucket, key, exc)
            self.values.pop(key, None)

    async def run(self, js: JetStreamContext, stopping: asyncio.Event) -> None:
        """Mirror the bucket until `stopping` is set."""
        kv = await js.key_value(self.bucket)
        watcher = await kv.watchall()
        stop = asyncio.ensure_future(stopping.wait())
        try:
            while not stopping.is_set():
                update = asyncio.ensure_future(watcher.updates(timeout=3600))  # type: ignore[no-untyped-call]
                done, _ = await asyncio.wait({update, stop}, return_when=asyncio.FIRST_COMPLETED)
                if update not in done:
                    update.cancel()
                    return
                try:
                    entry = update.result()
                except Exception:
                    continue
                if entry is None:
                    self.synced.set()
                    continue
                deleted = entry.operation in ("DEL", "PURGE") or entry.value is None
                self.apply(entry.key, None if deleted else entry.value)
        finally:
            stop.cancel()
            with contextlib.suppress(Exception):
                await watcher.stop()  # type: ignore[no-untyped-call]


def _registry(value: bytes) -> dict[str, Any]:
    data = json.loads(value)
    if not isinstance(data, dict):
        raise ValueError("not an object")
    return data


def registry_entry(ship: Ship, ship_type: str = "") -> dict[str, Any]:
    """The fleet registry's entry for a ship as the API showed it (`ship_type` when known)."""
    mounts = tuple(m.symbol for m in ship.mounts)
    frame = ship.frame.symbol if ship.frame else ""
    return {
        "ship_type": ship_type or ship_type_of(frame, ship.registration.role, mounts),
        "system": ship.nav.system_symbol,
        "waypoint": ship.nav.waypoint_symbol,
        "status": ship.nav.status,
        "mounts": list(mounts),
    }


def _assignment(value: bytes) -> ShipAssignment:
    return ShipAssignment.FromString(value)


class FleetView:
    """The mirrored buckets and what the reconciler reads from them."""

    def __init__(self, js: JetStreamContext) -> None:
        self._js = js
        self.registry = BucketMirror(names.FLEET_BUCKET, _registry)
        self.snapshots = BucketMirror(names.SHIPS_BUCKET, ShipState.FromString)
        self.assignment_values = BucketMirror(names.ASSIGNMENTS_BUCKET, _assignment)
        self.shipyards = BucketMirror(names.SHIPYARDS_BUCKET, ShipyardObservation.FromString)
        self.waypoint_values = BucketMirror(names.WAYPOINTS_BUCKET, WaypointObservation.FromString)
        self.mirrors: tuple[BucketMirror[Any], ...] = (
            self.registry,
            self.snapshots,
            self.assignment_values,
            self.shipyards,
            self.waypoint_values,
        )
        self.agent = ""

    @property
    def synced(self) -> bool:
        """True once every bucket's current keys are mirrored."""
        return all(m.synced.is_set() for m in self.mirrors)

    async def wait_synced(self) -> None:
        """Wait until every bucket is mirrored."""
        await asyncio.gather(*(m.synced.wait() for m in self.mirrors))

    def tasks(self, stopping: asyncio.Event) -> list[asyncio.Task[None]]:
        """One watcher task per bucket."""
        return [
            asyncio.create_task(m.run(self._js, stopping), name=f"mirror-{m.bucket}")
            for m in self.mirrors
        ]

    def ships(self) -> dict[str, ShipView]:
        """Every ship of the fleet: the registry's, plus ships of this agent that only have a
        snapshot."""
        out: dict[str, ShipView] = {}
        symbols = set(self.registry.values)
        for symbol, snapshot in self.snapshots.values.items():
            if not self.agent or not snapshot.agent or snapshot.agent == self.agent:
                symbols.add(symbol)
        for symbol in symbols:
            entry = self.registry.values.get(symbol, {})
            state = self.snapshots.values.get(symbol)
            mounts: tuple[str, ...] | None = (
                tuple(str(m) for m in entry["mounts"]) if "mounts" in entry else None
            )
            system = str(entry.get("system", ""))
            waypoint = str(entry.get("waypoint", ""))
            status = str(entry.get("status", ""))
            ship_type = str(entry.get("ship_type", ""))
            if state is not None:
                if state.HasField("mounts"):
                    mounts = tuple(state.mounts.symbols)
                if state.HasField("nav") and state.nav.waypoint_symbol:
                    system = state.nav.system_symbol
                    waypoint = state.nav.waypoint_symbol
                    status = state.nav.status
                if not ship_type:
                    ship_type = ship_type_of(state.frame, state.role, mounts or ())
            out[symbol] = ShipView(symbol, ship_type, system, waypoint, status, mounts)
        return out

    def assignments(self) -> dict[str, CurrentAssignment]:
        """Every ship's current assignment."""
        return {
            key: CurrentAssignment(
                ship=key,
                role=a.role,
                behaviour=a.behaviour,
                params=dict(a.params),
                waypoint=a.waypoint_symbol,
                mount_spec=tuple(a.mount_spec),
                parked=a.parked,
                manual=a.manual,
            )
            for key, a in self.assignment_values.values.items()
        }

    def offers(self) -> list[Offer]:
        """Every priced ship type at every observed shipyard."""
        return [
            Offer(obs.waypoint_symbol, obs.system_symbol, listing.ship_type, listing.purchase_price)
            for obs in self.shipyards.values.values()
            for listing in obs.ships
            if listing.purchase_price > 0
        ]

    def waypoints(self) -> list[WaypointView]:
        """Every observed waypoint."""
        return [
            WaypointView(w.waypoint_symbol, w.system_symbol, w.type, tuple(w.traits))
            for w in self.waypoint_values.values.values()
        ]
