"""`upgrade`: go to the assigned shipyard and buy, install and remove mounts until the ship
carries exactly its mount spec (`ShipAssignment.mount_spec`, a multiset of mount symbols), then
idle. Removed mounts are sold at the shipyard's market when it buys them.

States: `travel` → `remove` (one mount per step) → `install` (buy the mount, install it; one per
step) → `done`.
"""

from __future__ import annotations

from collections import Counter

from dispatcher.assignments import Assignment
from dispatcher.behaviours.base import Behaviour, Wake
from dispatcher.behaviours.travel import ARRIVED, Travel
from dispatcher.control import ShipControl

__all__ = ["Upgrade", "mount_changes"]


def mount_changes(current: tuple[str, ...], spec: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """The mounts to remove and to install to turn `current` into `spec`."""
    have, want = Counter(current), Counter(spec)
    remove = sorted((have - want).elements())
    install = sorted((want - have).elements())
    return remove, install


class Upgrade(Behaviour):
    """Refit the ship to its mount spec."""

    name = "upgrade"

    def __init__(self, assignment: Assignment) -> None:
        super().__init__(assignment)
        self.state = "travel"
        self._travel = Travel(assignment.waypoint)
        self.spec = assignment.mount_spec

    async def step(self, ship: ShipControl) -> Wake:
        """Make the next change towards the mount spec."""
        if self.state == "done":
            return None
        remove, install = mount_changes(ship.ship.mounts, self.spec)
        if not remove and not install:
            self.state = "done"
            self.end_cycle()
            return None
        if self.state == "travel":
            wake = await self._travel.step(ship)
            if wake is not ARRIVED:
                return wake
            self.state = "refit"
        await ship.dock()
        if remove:
            mount = remove[0]
            await ship.remove_mount(mount)
            if ship.world.trades(ship.ship.waypoint, mount) and ship.ship.units_of(mount):
                await ship.sell(mount, ship.ship.units_of(mount))
            return ship.monotonic()
        mount = install[0]
        if ship.ship.units_of(mount) == 0:
            await ship.purchase(mount, 1)
        await ship.install_mount(mount)
        return ship.monotonic()
