"""What a behaviour is: a small explicit state machine over one ship.

The ship's task calls `step` over and over. A step does the few calls one state needs, moves to
the next state (an assignment to `self.state`, never a call into another behaviour), and says
when to run the next step: a monotonic instant (the cooldown's end, the arrival; "now" to go
on at once) or `None` to wait until something else wakes the ship (a new assignment). Between
two steps is a safe point for switching behaviours unless `safe` says otherwise (a trader with
bought cargo aboard).

API errors that every behaviour treats alike are handled by the task (a running cooldown is
waited out, an arrival awaited, a call that found no gateway retried with backoff); a behaviour
catches only the errors its own states react to (a full hold goes to selling).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from dispatcher.assignments import Assignment
from dispatcher.control import ShipControl

__all__ = ["Behaviour", "Wake", "param_float", "param_int"]

Wake = float | None
"""When to run the next step: a monotonic instant, or None to wait until woken."""


def param_float(assignment: Assignment, name: str, default: float) -> float:
    """A number parameter of the assignment (the default when absent or not a number)."""
    try:
        return float(assignment.params.get(name, default))
    except ValueError:
        return default


def param_int(assignment: Assignment, name: str, default: int) -> int:
    """A whole-number parameter of the assignment (the default when absent or not one)."""
    try:
        return int(assignment.params.get(name, default))
    except ValueError:
        return default


class Behaviour(ABC):
    """One behaviour running for one ship."""

    name: ClassVar[str]

    def __init__(self, assignment: Assignment) -> None:
        self.assignment = assignment
        self.state = "start"
        # Set when a cycle of the behaviour ends (a load sold, a survey made), for the
        # requests-per-cycle metric.
        self.cycle_ended = False

    @property
    def safe(self) -> bool:
        """May the ship switch to another behaviour before the next step?"""
        return True

    def end_cycle(self) -> None:
        """Mark the end of one cycle of the behaviour."""
        self.cycle_ended = True

    @abstractmethod
    async def step(self, ship: ShipControl) -> Wake:
        """Run one state; return when to run the next step."""
