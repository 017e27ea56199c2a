"""`probe`: stay at the assigned market or shipyard and refresh it every `interval_seconds`,
making no other calls — no look at the ship, no change of flight mode.

States: `travel` (only if it is not there yet) → `watch` (one read per interval). Parameters:
`target` (`market` or `shipyard`; default `market`), `interval_seconds` (default 600).
"""

from __future__ import annotations

from dispatcher.assignments import Assignment
from dispatcher.behaviours.base import Behaviour, Wake, param_float
from dispatcher.behaviours.travel import ARRIVED, Travel
from dispatcher.control import ShipControl

__all__ = ["Probe"]


class Probe(Behaviour):
    """Keep one market's or shipyard's prices fresh for everyone."""

    name = "probe"

    def __init__(self, assignment: Assignment) -> None:
        super().__init__(assignment)
        self.state = "travel"
        self._travel = Travel(assignment.waypoint)
        self.target = assignment.params.get("target", "market")
        self.interval = param_float(assignment, "interval_seconds", 600.0)
        self._next: float | None = None
        self.refreshes = 0

    async def step(self, ship: ShipControl) -> Wake:
        """Travel there once, then refresh once per interval."""
        if self.state == "travel":
            wake = await self._travel.step(ship)
            if wake is not ARRIVED:
                return wake
            self.state = "watch"
        now = ship.monotonic()
        if self._next is not None and now < self._next:
            return self._next
        if self.target == "shipyard":
            await ship.shipyard()
        else:
            await ship.market()
        self.refreshes += 1
        self.end_cycle()
        self._next = now + self.interval
        return self._next
