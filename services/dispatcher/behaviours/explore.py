"""`explore`: chart the system's waypoints one by one, then go on to the next system through
its jump gate, sharing every waypoint seen through the world view.

States: `list` (the system's waypoints, when the world view does not have them) → `next`
(nearest uncharted waypoint) → `travel` → `chart` → `next` … → `gate` (travel to the jump gate,
read its connections) → `jump` (to a system nobody has listed yet) → `list` … → `done` (idle)
when no unexplored system is reachable. Parameter: `max_systems` (default 10).
"""

from __future__ import annotations

from dispatcher.assignments import Assignment
from dispatcher.behaviours.base import Behaviour, Wake, param_int
from dispatcher.behaviours.travel import ARRIVED, Travel
from dispatcher.control import ShipControl
from dispatcher.worldview import distance
from flotilla.client import ApiError

__all__ = ["Explore"]


class Explore(Behaviour):
    """Chart, move on, repeat."""

    name = "explore"

    def __init__(self, assignment: Assignment) -> None:
        super().__init__(assignment)
        self.state = "list"
        self._travel: Travel | None = None
        self._target = ""
        self.max_systems = param_int(assignment, "max_systems", 10)
        self.systems_seen: list[str] = []
        self.charted: list[str] = []
        self._skip: set[str] = set()

    def _nearest_uncharted(self, ship: ShipControl) -> str | None:
        here = ship.world.position(ship.ship.waypoint) or (0, 0)
        candidates = [
            w
            for w in ship.world.system_waypoints(ship.ship.system)
            if not w.charted and w.waypoint_symbol not in self._skip
        ]
        if not candidates:
            return None
        return min(candidates, key=lambda w: distance(here, (w.x, w.y))).waypoint_symbol

    async def step(self, ship: ShipControl) -> Wake:
        """Run the exploration's current state."""
        if self.state == "done":
            return None
        if ship.in_transit():
            return ship.arrival_at()
        if self.state == "list":
            system = ship.ship.system
            if system not in self.systems_seen:
                self.systems_seen.append(system)
            if not ship.world.system_waypoints(system):
                await ship.list_waypoints(system)
            self.state = "next"
        if self.state == "next":
            target = self._nearest_uncharted(ship)
            if target is None:
                self.end_cycle()
                self.state = "gate"
                return ship.monotonic()
            self._target = target
            self._travel = Travel(target)
            self.state = "travel"
        if self.state == "travel":
            assert self._travel is not None
            wake = await self._travel.step(ship)
            if wake is not ARRIVED:
                return wake
            self.state = "chart"
        if self.state == "chart":
            await ship.orbit()
            try:
                await ship.chart()
                self.charted.append(self._target)
            except ApiError:
                # Already charted (4230) or not chartable: do not try it again.
                pass
            self._skip.add(self._target)
            self.state = "next"
            return ship.monotonic()
        return await self._leave_system(ship)

    async def _leave_system(self, ship: ShipControl) -> Wake:
        if len(self.systems_seen) >= self.max_systems:
            self.state = "done"
            return None
        gates = [
            w.waypoint_symbol
            for w in ship.world.system_waypoints(ship.ship.system)
            if w.type == "JUMP_GATE"
        ]
        if not gates:
            self.state = "done"
            return None
        if self.state == "gate":
            self._travel = Travel(gates[0])
            self.state = "to_gate"
        if self.state == "to_gate":
            assert self._travel is not None
            wake = await self._travel.step(ship)
            if wake is not ARRIVED:
                return wake
            connections = await ship.jump_gate_connections(gates[0])
            known = {w.system_symbol for w in ship.world.waypoints.values()}
            fresh = [c for c in connections if _system(c) not in known]
            if not fresh:
                self.state = "done"
                return None
            await ship.orbit()
            await ship.jump(fresh[0])
            self.state = "list"
            return ship.monotonic()  # flying and charting need no cooled reactor
        self.state = "done"
        return None


def _system(waypoint: str) -> str:
    parts = waypoint.split("-")
    return "-".join(parts[:2]) if len(parts) >= 3 else waypoint
