"""`trade`: buy a good where it is cheap and sell it where it is dear, choosing, from the shared
market view, the route with the highest expected profit per request.

States: `plan` → `to_buy` → `buy` → `to_sell` → `sell` → `plan`. With no profitable route known
the ship waits `replan_seconds` without calls and plans again. It is not at a safe point while
it carries what it bought (a new assignment waits until that is sold).

Expected profit of a route: (sell price - purchase price) x units - fuel for both legs (at the
known fuel price), over the requests it takes: two flights (orbit, navigate, dock each), one
purchase and one sale per trade-volume lot. Buying stops early when the price paid climbs to
the expected sale price less `min_margin`. Parameters: `max_spend` (credits per trip, default:
no limit), `min_margin` (credits per unit, default 1), `replan_seconds` (default 300).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dispatcher.assignments import Assignment
from dispatcher.behaviours.base import Behaviour, Wake, param_float, param_int
from dispatcher.behaviours.travel import ARRIVED, Travel, fuel_for
from dispatcher.control import ShipControl

__all__ = ["Trade", "TradeRoute", "best_route"]

_FUEL_UNITS_PER_MARKET_UNIT = 100


@dataclass(frozen=True, slots=True)
class TradeRoute:
    """One planned trip."""

    symbol: str
    buy_at: str
    sell_at: str
    buy_price: int
    sell_price: int
    units: int
    lot: int
    requests: int
    profit: float

    @property
    def profit_per_request(self) -> float:
        """Expected credits per API request of the trip."""
        return self.profit / max(1, self.requests)


def best_route(ship: ShipControl, *, max_spend: int = 0, min_margin: int = 1) -> TradeRoute | None:
    """The most profitable route per request from the known prices of the ship's system."""
    system = ship.ship.system
    capacity = ship.ship.cargo_capacity
    fuel_price = min(
        (q.purchase_price for q in ship.world.quotes("FUEL", system) if q.purchase_price > 0),
        default=0,
    )
    symbols = {g.symbol for m in ship.world.markets.values() for g in m.goods}
    best: TradeRoute | None = None
    for symbol in symbols:
        quotes = ship.world.quotes(symbol, system)
        for buy in quotes:
            if buy.purchase_price <= 0:
                continue
            for sell in quotes:
                margin = sell.sell_price - buy.purchase_price
                if sell.waypoint == buy.waypoint or margin < min_margin:
                    continue
                units = capacity
                if max_spend > 0:
                    units = min(units, max_spend // buy.purchase_price)
                if units <= 0:
                    continue
                lot = max(1, min(buy.trade_volume or units, sell.trade_volume or units))
                lots = math.ceil(units / lot)
                legs = fuel_for(ship, buy.waypoint) + _leg(ship, buy.waypoint, sell.waypoint)
                fuel_cost = legs * fuel_price / _FUEL_UNITS_PER_MARKET_UNIT
                requests = 6 + 2 * lots
                profit = margin * units - fuel_cost
                if profit <= 0:
                    continue
                route = TradeRoute(
                    symbol,
                    buy.waypoint,
                    sell.waypoint,
                    buy.purchase_price,
                    sell.sell_price,
                    units,
                    lot,
                    requests,
                    profit,
                )
                if best is None or route.profit_per_request > best.profit_per_request:
                    best = route
    return best


def _leg(ship: ShipControl, a: str, b: str) -> int:
    from dispatcher.worldview import distance

    pa, pb = ship.world.position(a), ship.world.position(b)
    return 0 if pa is None or pb is None else round(distance(pa, pb))


class Trade(Behaviour):
    """Buy low, sell high."""

    name = "trade"

    def __init__(self, assignment: Assignment) -> None:
        super().__init__(assignment)
        self.state = "plan"
        self.route: TradeRoute | None = None
        self._travel: Travel | None = None
        self.max_spend = param_int(assignment, "max_spend", 0)
        self.min_margin = param_int(assignment, "min_margin", 1)
        self.replan = param_float(assignment, "replan_seconds", 300.0)
        self._replan_at: float | None = None
        self.profit = 0

    @property
    def safe(self) -> bool:
        """Only with nothing bought aboard."""
        return self.state in ("plan", "to_buy")

    async def step(self, ship: ShipControl) -> Wake:
        """Run the trader's current state."""
        if self.state == "plan":
            if self._replan_at is not None and ship.monotonic() < self._replan_at:
                return self._replan_at
            self.route = best_route(ship, max_spend=self.max_spend, min_margin=self.min_margin)
            if self.route is None:
                self._replan_at = ship.monotonic() + self.replan
                return self._replan_at
            self._replan_at = None
            self._travel = Travel(self.route.buy_at)
            self.state = "to_buy"
        route = self.route
        assert route is not None
        if self.state in ("to_buy", "to_sell"):
            assert self._travel is not None
            wake = await self._travel.step(ship)
            if wake is not ARRIVED:
                return wake
            self.state = "buy" if self.state == "to_buy" else "sell"
        if self.state == "buy":
            await ship.dock()
            bought = 0
            while bought < route.units and ship.ship.cargo_free > 0:
                units = min(route.lot, route.units - bought, ship.ship.cargo_free)
                transaction = await ship.purchase(route.symbol, units)
                bought += transaction.units
                self.profit -= transaction.total_price
                if transaction.price_per_unit >= route.sell_price - self.min_margin:
                    break
            self._travel = Travel(route.sell_at)
            self.state = "to_sell"
            return ship.monotonic()
        await ship.dock()
        while ship.ship.units_of(route.symbol) > 0:
            units = min(route.lot, ship.ship.units_of(route.symbol))
            transaction = await ship.sell(route.symbol, units)
            self.profit += transaction.total_price
        self.end_cycle()
        self.state = "plan"
        return ship.monotonic()
