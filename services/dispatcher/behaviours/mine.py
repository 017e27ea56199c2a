"""`mine`: extract at the assigned asteroid until the hold is full, then sell (or hand the load
to a hauler at the asteroid), and come back.

States: `travel` (to the asteroid) → `extract` (repeat; each waits out its cooldown) → `unload`
(hand over to the hauler, or sell) → `travel`.

- **Waste rule**: an extraction is skipped when more than half of its expected yield would not
  fit in the hold (expected yield: the average of this ship's past yields, or its lasers'
  strength before it has any); the ship goes to unload instead.
- **Surveys**: it uses the best unexpired shared survey of the asteroid (the one whose deposits
  are worth the most at known prices, larger first), holding one of its slots for the
  extraction; an exhausted or expired survey is dropped for every node.
- Parameters: `hauler` (a ship symbol: hand loads to it when it waits at the asteroid with
  room), `keep` (comma-separated goods never sold).
"""

from __future__ import annotations

from dispatcher.assignments import Assignment
from dispatcher.behaviours.base import Behaviour, Wake
from dispatcher.behaviours.selling import CargoSale
from dispatcher.behaviours.travel import ARRIVED, Travel
from dispatcher.control import ShipControl
from flotilla.client import CargoFull, SurveyUnusable
from flotilla.v1.events_pb2 import SurveyObservation

__all__ = ["LASER_STRENGTH", "Mine", "expected_yield", "wastes_too_much"]

LASER_STRENGTH = {
    "MOUNT_MINING_LASER_I": 10,
    "MOUNT_MINING_LASER_II": 25,
    "MOUNT_MINING_LASER_III": 60,
}
_SIZE_RANK = {"LARGE": 3, "MODERATE": 2, "SMALL": 1}


def expected_yield(mounts: tuple[str, ...], history: list[int]) -> float:
    """Units the next extraction is expected to yield."""
    if history:
        return sum(history) / len(history)
    return float(sum(LASER_STRENGTH.get(m, 0) for m in mounts)) or 1.0


def wastes_too_much(free: int, expected: float) -> bool:
    """More than half of the expected yield would not fit in the hold."""
    wasted = max(0.0, expected - free)
    return wasted > expected / 2


class Mine(Behaviour):
    """Extract, unload, repeat."""

    name = "mine"
    _HISTORY = 8

    def __init__(self, assignment: Assignment) -> None:
        super().__init__(assignment)
        self.state = "travel"
        self._travel = Travel(self.assignment.waypoint)
        self._sale: CargoSale | None = None
        self.yields: list[int] = []
        self.keep = frozenset(
            g.strip() for g in self.assignment.params.get("keep", "").split(",") if g.strip()
        )
        self.hauler = self.assignment.params.get("hauler", "")
        self.skipped_for_waste = 0

    def _best_survey(self, ship: ShipControl) -> list[SurveyObservation]:
        surveys = ship.world.surveys_at(self.assignment.waypoint)

        def worth(survey: SurveyObservation) -> tuple[float, int]:
            """Average known price of the survey's deposits, then its size."""
            prices = []
            for deposit in survey.deposits:
                quotes = ship.world.quotes(deposit.symbol, ship.ship.system)
                prices.append(max((q.sell_price for q in quotes), default=0))
            average = sum(prices) / len(prices) if prices else 0.0
            return average, _SIZE_RANK.get(survey.size, 0)

        return sorted(surveys, key=worth, reverse=True)

    async def step(self, ship: ShipControl) -> Wake:
        """Run the miner's current state."""
        if self.state == "travel":
            wake = await self._travel.step(ship)
            if wake is not ARRIVED:
                return wake
            self.state = "extract"
        if self.state == "extract":
            return await self._extract(ship)
        return await self._unload(ship)

    async def _extract(self, ship: ShipControl) -> Wake:
        expected = expected_yield(ship.ship.mounts, self.yields)
        if wastes_too_much(ship.ship.cargo_free, expected):
            self.skipped_for_waste += 1
            self.state = "unload"
            return ship.monotonic()
        if ship.cooling_down():
            return ship.cooldown_over_at()
        await ship.orbit()
        for survey in self._best_survey(ship):
            hold = await ship.world.reserve(survey, ship.ship.symbol)
            if hold is None:
                continue
            try:
                extracted = await ship.extract(survey)
            except SurveyUnusable:
                ship.world.drop_survey(survey.signature)
                return ship.monotonic()
            finally:
                await ship.world.release(hold)
            break
        else:
            try:
                extracted = await ship.extract()
            except CargoFull:
                # The hold is fuller than memory says (another client changed it, or a stale
                # snapshot): one look at it, so that the sale knows what to sell.
                await ship.cargo()
                self.state = "unload"
                return ship.monotonic()
        self.yields = [*self.yields[-(self._HISTORY - 1) :], extracted.units]
        return ship.cooldown_over_at()

    async def _hand_over(self, ship: ShipControl) -> bool:
        if not self.hauler:
            return False
        peer = await ship.peer(self.hauler)
        if peer is None or peer.nav.waypoint_symbol != ship.ship.waypoint:
            return False
        if peer.nav.status != "IN_ORBIT":
            return False
        room = peer.cargo.capacity - peer.cargo.units
        if room <= 0:
            return False
        await ship.orbit()
        for symbol, units in list(ship.ship.inventory.items()):
            if symbol in self.keep or room <= 0:
                continue
            amount = min(units, room)
            await ship.transfer(symbol, amount, self.hauler)
            room -= amount
        return True

    async def _unload(self, ship: ShipControl) -> Wake:
        if self._sale is None:
            if await self._hand_over(ship) and ship.ship.cargo_free * 2 >= ship.ship.cargo_capacity:
                self.end_cycle()
                self.state = "extract"
                return ship.monotonic()
            self._sale = CargoSale(self.keep)
        wake = await self._sale.step(ship)
        if wake is not None:
            return wake
        self._sale = None
        self.end_cycle()
        self.state = "travel"
        return ship.monotonic()
