"""The behaviours a ship can be assigned, by name (`ShipAssignment.behaviour`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from dispatcher.assignments import Assignment
from dispatcher.behaviours.base import Behaviour, Wake
from dispatcher.behaviours.contract import Contract
from dispatcher.behaviours.explore import Explore
from dispatcher.behaviours.haul import Haul
from dispatcher.behaviours.idle import Idle
from dispatcher.behaviours.mine import Mine
from dispatcher.behaviours.probe import Probe
from dispatcher.behaviours.sell import Sell
from dispatcher.behaviours.survey import Survey
from dispatcher.behaviours.trade import Trade
from dispatcher.behaviours.upgrade import Upgrade

__all__ = ["BEHAVIOURS", "Behaviour", "Wake", "make_behaviour"]

BEHAVIOURS: Final[dict[str, Callable[[Assignment], Behaviour]]] = {
    cls.name: cls
    for cls in (Mine, Survey, Sell, Haul, Trade, Explore, Probe, Upgrade, Contract, Idle)
}


def make_behaviour(assignment: Assignment | None) -> Behaviour:
    """The behaviour an assignment asks for (`idle` when unassigned or parked)."""
    if assignment is None:
        return Idle(Assignment(ship="", behaviour="idle"))
    return BEHAVIOURS[assignment.effective_behaviour](assignment)
