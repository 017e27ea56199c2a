"""Getting a ship to a waypoint of its system: a part that behaviours use (not a behaviour).

One `step` at a time: wait for a flight in progress; at the destination, done. Otherwise refuel
first when this waypoint sells fuel and the tank is below half or short for the leg; drift when
the leg needs more fuel than the tank holds and none is sold here; then orbit and navigate.
"""

from __future__ import annotations

from dispatcher.control import ShipControl
from dispatcher.worldview import distance
from flotilla.client import InsufficientFuel

__all__ = ["ARRIVED", "Travel", "Unreachable", "fuel_for"]

ARRIVED: None = None


class Unreachable(Exception):
    """The destination is in another system (behaviours that leave the system jump first)."""


def fuel_for(ship: ShipControl, destination: str, mode: str = "CRUISE") -> int:
    """Fuel a leg to `destination` needs in `mode` (0 when the positions are unknown)."""
    here = ship.world.position(ship.ship.waypoint)
    there = ship.world.position(destination)
    if here is None or there is None:
        return 0
    d = round(distance(here, there))
    if mode == "DRIFT":
        return 1
    if mode == "BURN":
        return max(2, 2 * d)
    return d


class Travel:
    """The way to one destination."""

    __slots__ = ("destination", "must_drift")

    def __init__(self, destination: str) -> None:
        self.destination = destination
        # Set when the game refused the leg for fuel where none is sold: drift it, whatever the
        # estimate says.
        self.must_drift = False

    async def step(self, ship: ShipControl) -> float | None:
        """Advance; the instant to come back, or `ARRIVED`."""
        if ship.in_transit():
            return ship.arrival_at()
        if ship.ship.waypoint == self.destination:
            return ARRIVED
        if ship.ship.system and not self.destination.startswith(ship.ship.system + "-"):
            raise Unreachable(f"{self.destination} is not in {ship.ship.system}")
        state = ship.ship
        if state.fuel_capacity > 0:
            need = fuel_for(ship, self.destination)
            sells_fuel = ship.world.trades(state.waypoint, "FUEL")
            wants_fuel = state.fuel < need or state.fuel * 2 < state.fuel_capacity
            if sells_fuel and wants_fuel and state.fuel < state.fuel_capacity:
                await ship.dock()
                await ship.refuel()
            if need > state.fuel or self.must_drift:
                await ship.set_flight_mode("DRIFT")
            elif state.flight_mode == "DRIFT" and need > 0:
                await ship.set_flight_mode("CRUISE")
        await ship.orbit()
        try:
            await ship.navigate(self.destination)
        except InsufficientFuel:
            if ship.world.trades(state.waypoint, "FUEL") and state.fuel < state.fuel_capacity:
                await ship.dock()
                await ship.refuel()
                await ship.orbit()
            else:
                self.must_drift = True
                await ship.set_flight_mode("DRIFT")
            return ship.monotonic()
        return ship.arrival_at()
