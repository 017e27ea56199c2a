"""`contract`: work the agent's procurement contracts one after the other — accept one, buy its
goods where the shared market view has them cheapest, deliver them, fulfil it, ask for the next.

States: `find` (one listing of contracts: an accepted open one, else accept an offered one,
else `negotiate`) → `procure` (travel to the cheapest known market, buy up to what the contract
still needs) → `deliver` (travel to the destination, deliver what is aboard) → `procure` … →
`fulfil` → `find`. With no market known for the good it waits `replan_seconds` without calls.
"""

from __future__ import annotations

from dispatcher.assignments import Assignment
from dispatcher.behaviours.base import Behaviour, Wake, param_float
from dispatcher.behaviours.travel import ARRIVED, Travel
from dispatcher.control import ShipControl
from flotilla.client import ContractError, models

__all__ = ["Contract"]


def _open_term(contract: models.Contract) -> models.ContractDeliverGood | None:
    for term in contract.terms.deliver:
        if term.units_fulfilled < term.units_required:
            return term
    return None


class Contract(Behaviour):
    """Accept, procure, deliver, fulfil, repeat."""

    name = "contract"

    def __init__(self, assignment: Assignment) -> None:
        super().__init__(assignment)
        self.state = "find"
        self.contract: models.Contract | None = None
        self._travel: Travel | None = None
        self.replan = param_float(assignment, "replan_seconds", 600.0)
        self._wait_until: float | None = None
        self.fulfilled: list[str] = []

    @property
    def safe(self) -> bool:
        """Only between contracts: goods bought for one are not abandoned."""
        return self.state == "find"

    async def step(self, ship: ShipControl) -> Wake:
        """Run the contract's current state."""
        if self._wait_until is not None:
            if ship.monotonic() < self._wait_until:
                return self._wait_until
            self._wait_until = None
        if self._travel is not None:
            wake = await self._travel.step(ship)
            if wake is not ARRIVED:
                return wake
            self._travel = None
        if self.state == "find":
            return await self._find(ship)
        if self.state == "negotiate":
            return await self._negotiate(ship)
        assert self.contract is not None
        term = _open_term(self.contract)
        if term is None:
            self.contract = await ship.fulfill(self.contract)
            self.fulfilled.append(self.contract.id)
            self.end_cycle()
            self.state = "find"
            return ship.monotonic()
        aboard = ship.ship.units_of(term.trade_symbol)
        still_needed = term.units_required - term.units_fulfilled
        if self.state == "procure":
            if aboard >= still_needed or ship.ship.cargo_free == 0:
                self.state = "deliver"
                return ship.monotonic()
            return await self._buy(ship, term, still_needed - aboard)
        if aboard == 0:
            self.state = "procure"
            return ship.monotonic()
        if ship.ship.waypoint != term.destination_symbol:
            self._travel = Travel(term.destination_symbol)
            return ship.monotonic()
        await ship.dock()
        self.contract = await ship.deliver(
            self.contract, term.trade_symbol, min(aboard, still_needed)
        )
        self.state = "procure"
        return ship.monotonic()

    async def _find(self, ship: ShipControl) -> Wake:
        contracts = await ship.contracts()
        active = [c for c in contracts if c.accepted and not c.fulfilled]
        offered = [c for c in contracts if not c.accepted]
        if active:
            self.contract = active[0]
        elif offered:
            self.contract = await ship.accept_contract(offered[0])
        else:
            self.state = "negotiate"
            return ship.monotonic()
        self.state = "procure"
        return ship.monotonic()

    async def _negotiate(self, ship: ShipControl) -> Wake:
        await ship.dock()
        try:
            self.contract = await ship.negotiate()
        except ContractError:
            self._wait_until = ship.monotonic() + self.replan
            self.state = "find"
            return self._wait_until
        self.state = "find"
        return ship.monotonic()

    async def _buy(self, ship: ShipControl, term: models.ContractDeliverGood, wanted: int) -> Wake:
        quotes = [
            q
            for q in ship.world.quotes(term.trade_symbol, ship.ship.system)
            if q.purchase_price > 0
        ]
        if not quotes:
            self._wait_until = ship.monotonic() + self.replan
            return self._wait_until
        cheapest = min(quotes, key=lambda q: q.purchase_price)
        if ship.ship.waypoint != cheapest.waypoint:
            self._travel = Travel(cheapest.waypoint)
            return ship.monotonic()
        await ship.dock()
        remaining = min(wanted, ship.ship.cargo_free)
        lot = cheapest.trade_volume or remaining
        while remaining > 0:
            transaction = await ship.purchase(term.trade_symbol, min(lot, remaining))
            remaining -= transaction.units
        self.state = "deliver"
        return ship.monotonic()
