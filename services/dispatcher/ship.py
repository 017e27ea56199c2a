"""A ship as its owner keeps it in memory: compact, updated from every API answer, and able to
say which of its parts changed since the last event (only those are published).

The API's own models are parsed per answer and dropped; what is kept per ship is a few
strings and numbers, so that ten thousand ships fit in a few megabytes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from flotilla.client import models
from flotilla.timestamps import to_datetime, to_timestamp
from flotilla.v1 import events_pb2

__all__ = ["PARTS", "Place", "ShipModel"]

# The parts a ShipState event can carry; the persister writes only those named in `changed`.
NAV, FUEL, CARGO, COOLDOWN, MOUNTS, BEHAVIOUR = (
    "nav",
    "fuel",
    "cargo",
    "cooldown",
    "mounts",
    "behaviour",
)
PARTS = (NAV, FUEL, CARGO, COOLDOWN, MOUNTS, BEHAVIOUR)


@dataclass(slots=True, frozen=True)
class Place:
    """A route end: a waypoint with its system and coordinates."""

    symbol: str
    system: str = ""
    type: str = ""
    x: int = 0
    y: int = 0


@dataclass(slots=True)
class ShipModel:
    """The owner's view of one ship."""

    symbol: str
    agent: str = ""
    role: str = ""
    frame: str = ""
    system: str = ""
    waypoint: str = ""
    status: str = "IN_ORBIT"  # IN_TRANSIT, IN_ORBIT, DOCKED
    flight_mode: str = "CRUISE"
    origin: Place | None = None
    destination: Place | None = None
    departure: datetime | None = None
    arrival: datetime | None = None
    fuel: int = 0
    fuel_capacity: int = 0
    cargo_capacity: int = 0
    cargo_units: int = 0
    inventory: dict[str, int] = field(default_factory=dict)
    cooldown_total: int = 0
    cooldown_expiration: datetime | None = None
    mounts: tuple[str, ...] = ()
    engine_speed: int = 0
    behaviour: str = ""
    version: int = 0
    _changed: set[str] = field(default_factory=set)

    # --- reading -----------------------------------------------------------------------------

    @property
    def cargo_free(self) -> int:
        """Units of room left in the hold."""
        return max(0, self.cargo_capacity - self.cargo_units)

    def units_of(self, symbol: str) -> int:
        """Units of good `symbol` aboard."""
        return self.inventory.get(symbol, 0)

    def in_transit(self, now: datetime) -> bool:
        """Still flying at `now` (an arrival in the past means it has arrived)."""
        return self.status == "IN_TRANSIT" and self.arrival is not None and self.arrival > now

    def arrived(self, now: datetime) -> None:
        """A flight whose arrival has passed has ended: the ship is in orbit there."""
        if self.status == "IN_TRANSIT" and (self.arrival is None or self.arrival <= now):
            self.status = "IN_ORBIT"
            self._changed.add(NAV)

    @property
    def changed(self) -> frozenset[str]:
        """The parts changed since the last `take_changes`."""
        return frozenset(self._changed)

    # --- applying API answers ----------------------------------------------------------------

    def apply_nav(self, nav: models.ShipNav) -> None:
        """Take the nav of an answer (orbit, dock, navigate, ...)."""
        route = nav.route
        origin = _place(route.origin)
        destination = _place(route.destination)
        new = (
            nav.system_symbol,
            nav.waypoint_symbol,
            nav.status,
            nav.flight_mode,
            origin,
            destination,
            route.departure_time,
            route.arrival,
        )
        old = (
            self.system,
            self.waypoint,
            self.status,
            self.flight_mode,
            self.origin,
            self.destination,
            self.departure,
            self.arrival,
        )
        if new != old:
            (
                self.system,
                self.waypoint,
                self.status,
                self.flight_mode,
                self.origin,
                self.destination,
                self.departure,
                self.arrival,
            ) = new
            self._changed.add(NAV)

    def set_status(self, status: str) -> None:
        """Correct the nav status (an answer said the ship is docked, or in orbit)."""
        if status != self.status:
            self.status = status
            self._changed.add(NAV)

    def apply_fuel(self, fuel: models.ShipFuel) -> None:
        """Take the fuel of an answer."""
        if (fuel.current, fuel.capacity) != (self.fuel, self.fuel_capacity):
            self.fuel, self.fuel_capacity = fuel.current, fuel.capacity
            self._changed.add(FUEL)

    def apply_cargo(self, cargo: models.ShipCargo) -> None:
        """Take the cargo of an answer."""
        inventory = {item.symbol: item.units for item in cargo.inventory if item.units > 0}
        if (cargo.capacity, cargo.units, inventory) != (
            self.cargo_capacity,
            self.cargo_units,
            self.inventory,
        ):
            self.cargo_capacity, self.cargo_units, self.inventory = (
                cargo.capacity,
                cargo.units,
                inventory,
            )
            self._changed.add(CARGO)

    def apply_cooldown(self, cooldown: models.Cooldown | None) -> None:
        """Take the cooldown of an answer (None or no expiration: no cooldown)."""
        total = cooldown.total_seconds if cooldown is not None else 0
        expiration = cooldown.expiration if cooldown is not None else None
        if (total, expiration) != (self.cooldown_total, self.cooldown_expiration):
            self.cooldown_total, self.cooldown_expiration = total, expiration
            self._changed.add(COOLDOWN)

    def apply_mounts(self, mounts: list[models.ShipMount]) -> None:
        """Take the mounts of an answer."""
        symbols = tuple(sorted(mount.symbol for mount in mounts))
        if symbols != self.mounts:
            self.mounts = symbols
            self._changed.add(MOUNTS)

    def set_behaviour(self, behaviour: str) -> None:
        """Record the behaviour now driving the ship."""
        if behaviour != self.behaviour:
            self.behaviour = behaviour
            self._changed.add(BEHAVIOUR)

    def apply_ship(self, ship: models.Ship) -> None:
        """Take a whole ship (a listing, or a look after an unknown outcome)."""
        self.role = ship.registration.role
        self.frame = ship.frame.symbol if ship.frame is not None else ""
        self.engine_speed = (ship.engine.speed or 0) if ship.engine is not None else 0
        self.apply_nav(ship.nav)
        self.apply_fuel(ship.fuel)
        self.apply_cargo(ship.cargo)
        self.apply_cooldown(ship.cooldown)
        self.apply_mounts(ship.mounts)

    # --- events and snapshots ----------------------------------------------------------------

    def _next_version(self, wall: float) -> int:
        # Versions continue from the snapshot a new owner starts from; the wall-clock floor lets
        # an owner that had no snapshot still supersede what was written before.
        return max(self.version + 1, int(wall * 1_000_000))

    def take_changes(self, wall: float, now: datetime) -> events_pb2.ShipState | None:
        """A ShipState carrying only the parts changed since the last call (None: nothing
        changed); the version increases with each."""
        if not self._changed:
            return None
        self.version = self._next_version(wall)
        event = self._state(sorted(self._changed), now)
        self._changed.clear()
        return event

    def snapshot(self, now: datetime) -> events_pb2.ShipState:
        """Every part of the ship at its current version (the ships bucket's value)."""
        return self._state(list(PARTS), now)

    def _state(self, parts: list[str], now: datetime) -> events_pb2.ShipState:
        event = events_pb2.ShipState(
            event_id=str(uuid.uuid4()),
            agent=self.agent,
            ship_symbol=self.symbol,
            version=self.version,
            observed_at=to_timestamp(now),
            # The contract's parts; the behaviour is no part of it but rides on every event.
            changed=[part for part in parts if part != BEHAVIOUR],
            behaviour=self.behaviour,
            role=self.role,
            frame=self.frame,
        )
        if NAV in parts:
            nav = event.nav
            nav.system_symbol = self.system
            nav.waypoint_symbol = self.waypoint
            nav.status = self.status
            nav.flight_mode = self.flight_mode
            for place, target in ((self.origin, nav.origin), (self.destination, nav.destination)):
                if place is not None:
                    target.symbol = place.symbol
                    target.system_symbol = place.system
                    target.type = place.type
                    target.x = place.x
                    target.y = place.y
            if self.departure is not None:
                nav.departure_time.CopyFrom(to_timestamp(self.departure))
            if self.arrival is not None:
                nav.arrival.CopyFrom(to_timestamp(self.arrival))
        if FUEL in parts:
            event.fuel.current = self.fuel
            event.fuel.capacity = self.fuel_capacity
        if CARGO in parts:
            event.cargo.capacity = self.cargo_capacity
            event.cargo.units = self.cargo_units
            for symbol, units in sorted(self.inventory.items()):
                event.cargo.inventory.add(symbol=symbol, units=units)
        if COOLDOWN in parts:
            event.cooldown.total_seconds = self.cooldown_total
            if self.cooldown_expiration is not None:
                event.cooldown.expiration.CopyFrom(to_timestamp(self.cooldown_expiration))
        if MOUNTS in parts:
            event.mounts.symbols.extend(self.mounts)
        return event

    @classmethod
    def from_snapshot(cls, state: events_pb2.ShipState) -> ShipModel:
        """The ship as a snapshot (from the ships bucket) left it."""
        nav = state.nav
        ship = cls(
            symbol=state.ship_symbol,
            agent=state.agent,
            role=state.role,
            frame=state.frame,
            system=nav.system_symbol,
            waypoint=nav.waypoint_symbol,
            status=nav.status or "IN_ORBIT",
            flight_mode=nav.flight_mode or "CRUISE",
            origin=_place_of(nav.origin) if nav.HasField("origin") else None,
            destination=_place_of(nav.destination) if nav.HasField("destination") else None,
            departure=to_datetime(nav.departure_time) if nav.HasField("departure_time") else None,
            arrival=to_datetime(nav.arrival) if nav.HasField("arrival") else None,
            fuel=state.fuel.current,
            fuel_capacity=state.fuel.capacity,
            cargo_capacity=state.cargo.capacity,
            cargo_units=state.cargo.units,
            inventory={item.symbol: item.units for item in state.cargo.inventory},
            cooldown_total=state.cooldown.total_seconds,
            cooldown_expiration=(
                to_datetime(state.cooldown.expiration)
                if state.cooldown.HasField("expiration")
                else None
            ),
            mounts=tuple(state.mounts.symbols),
            behaviour=state.behaviour,
            version=state.version,
        )
        return ship


def _place(point: models.RoutePoint) -> Place:
    return Place(point.symbol, point.system_symbol, point.type, point.x, point.y)


def _place_of(point: events_pb2.ShipRoutePoint) -> Place:
    return Place(point.symbol, point.system_symbol, point.type, point.x, point.y)
