"""`haul`: wait at the assigned asteroid, in orbit, while miners hand over their loads (the
`mine` behaviour's `hauler` parameter), then sell them and come back.

States: `travel` → `wait` (sleep `check_seconds`, then look at the hold once: another ship
filled it, so memory cannot know) → `sell` once the hold is `fill_fraction` full → `travel`.
"""

from __future__ import annotations

from dispatcher.assignments import Assignment
from dispatcher.behaviours.base import Behaviour, Wake, param_float
from dispatcher.behaviours.selling import CargoSale
from dispatcher.behaviours.travel import ARRIVED, Travel
from dispatcher.control import ShipControl

__all__ = ["Haul"]


class Haul(Behaviour):
    """Collect at the asteroid, sell, repeat."""

    name = "haul"

    def __init__(self, assignment: Assignment) -> None:
        super().__init__(assignment)
        self.state = "travel"
        self._travel = Travel(assignment.waypoint)
        self._sale: CargoSale | None = None
        self.check_seconds = param_float(assignment, "check_seconds", 120.0)
        self.fill_fraction = param_float(assignment, "fill_fraction", 0.8)
        self._next_check: float | None = None

    async def step(self, ship: ShipControl) -> Wake:
        """Run the hauler's current state."""
        if self.state == "travel":
            wake = await self._travel.step(ship)
            if wake is not ARRIVED:
                return wake
            await ship.orbit()
            self.state = "wait"
            self._next_check = ship.monotonic() + self.check_seconds
            return self._next_check
        if self.state == "wait":
            if self._next_check is not None and ship.monotonic() < self._next_check:
                return self._next_check
            await ship.cargo()
            if ship.ship.cargo_units >= self.fill_fraction * ship.ship.cargo_capacity:
                self.state = "sell"
                self._sale = CargoSale()
                return ship.monotonic()
            self._next_check = ship.monotonic() + self.check_seconds
            return self._next_check
        assert self._sale is not None
        wake = await self._sale.step(ship)
        if wake is not None:
            return wake
        self._sale = None
        self.end_cycle()
        self.state = "travel"
        return ship.monotonic()
