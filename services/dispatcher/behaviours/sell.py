"""`sell`: sell everything aboard at the best known markets of the system (refuelling on the
way as needed), then idle. Parameter: `keep` (comma-separated goods not to sell)."""

from __future__ import annotations

from dispatcher.assignments import Assignment
from dispatcher.behaviours.base import Behaviour, Wake
from dispatcher.behaviours.selling import CargoSale
from dispatcher.control import ShipControl

__all__ = ["Sell"]


class Sell(Behaviour):
    """Empty the hold for credits."""

    name = "sell"

    def __init__(self, assignment: Assignment) -> None:
        super().__init__(assignment)
        keep = frozenset(
            g.strip() for g in assignment.params.get("keep", "").split(",") if g.strip()
        )
        self.state = "selling"
        self._sale = CargoSale(keep)

    async def step(self, ship: ShipControl) -> Wake:
        """Sell the next lot, or idle once the hold is empty."""
        if self.state == "done":
            return None
        wake = await self._sale.step(ship)
        if wake is None:
            self.state = "done"
            self.end_cycle()
        return wake
