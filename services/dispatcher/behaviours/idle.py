"""`idle`: the ship makes no calls until it is given other work."""

from __future__ import annotations

from dispatcher.behaviours.base import Behaviour, Wake
from dispatcher.control import ShipControl

__all__ = ["Idle"]


class Idle(Behaviour):
    """Do nothing, at no cost."""

    name = "idle"

    async def step(self, ship: ShipControl) -> Wake:
        """Nothing to do: wait until woken."""
        self.state = "idle"
        return None
