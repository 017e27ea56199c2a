"""`survey`: a dedicated surveyor at the assigned asteroid, feeding the shared surveys that
miners on every node use. States: `travel` → `survey` (repeat, waiting out each cooldown)."""

from __future__ import annotations

from dispatcher.assignments import Assignment
from dispatcher.behaviours.base import Behaviour, Wake
from dispatcher.behaviours.travel import ARRIVED, Travel
from dispatcher.control import ShipControl

__all__ = ["Survey"]


class Survey(Behaviour):
    """Survey, share, repeat."""

    name = "survey"

    def __init__(self, assignment: Assignment) -> None:
        super().__init__(assignment)
        self.state = "travel"
        self._travel = Travel(assignment.waypoint)
        self.surveys_made = 0

    async def step(self, ship: ShipControl) -> Wake:
        """Travel there once, then survey once per cooldown."""
        if self.state == "travel":
            wake = await self._travel.step(ship)
            if wake is not ARRIVED:
                return wake
            self.state = "survey"
        if ship.cooling_down():
            return ship.cooldown_over_at()
        await ship.orbit()
        self.surveys_made += await ship.survey()
        self.end_cycle()
        return ship.cooldown_over_at()
