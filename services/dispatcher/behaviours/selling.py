"""Selling the hold: a part that the sell, mine and haul behaviours use (not a behaviour).

It goes to the market of the ship's system, within reach of the fuel aboard, where the goods
aboard fetch the most (from the shared market view; with none in reach, the nearest one),
sells there in lots no larger than the market's trade volume, and goes on to the next market
for what that one did not buy. A good that no known market buys is jettisoned, so that it
never blocks the hold for good."""

from __future__ import annotations

from dispatcher.behaviours.travel import ARRIVED, Travel, fuel_for
from dispatcher.control import ShipControl
from dispatcher.worldview import distance
from flotilla.client import MarketDoesNotTrade, TradeVolumeExceeded

__all__ = ["CargoSale", "best_market"]

DONE: None = None
# Lot size when the market's trade volume is not known yet.
_DEFAULT_LOT = 20


def best_market(
    ship: ShipControl,
    goods: dict[str, int],
    keep: frozenset[str],
    tried: frozenset[tuple[str, str]] = frozenset(),
) -> str | None:
    """The market of the ship's system where `goods` are worth the most (None: none known),
    leaving out the (market, good) pairs already `tried`."""
    totals: dict[str, int] = {}
    system = ship.ship.system
    for symbol, units in goods.items():
        if symbol in keep:
            continue
        for quote in ship.world.quotes(symbol, system):
            if quote.sell_price > 0 and (quote.waypoint, symbol) not in tried:
                totals[quote.waypoint] = totals.get(quote.waypoint, 0) + quote.sell_price * units
    if not totals:
        # No prices known: a market that lists a good as bought will do.
        for waypoint, market in ship.world.markets.items():
            if market.system_symbol != system:
                continue
            bought = {*market.imports, *market.exchange}
            worth = sum(
                units
                for symbol, units in goods.items()
                if symbol in bought and (waypoint, symbol) not in tried
            )
            if worth:
                totals[waypoint] = worth
    if not totals:
        return None
    # Within reach: markets the fuel aboard gets the ship to; with none, the nearest one.
    reachable = {
        w: v
        for w, v in totals.items()
        if not ship.ship.fuel_capacity or fuel_for(ship, w) <= ship.ship.fuel
    }
    if not reachable:
        here = ship.world.position(ship.ship.waypoint) or (0, 0)
        return min(totals, key=lambda w: distance(here, ship.world.position(w) or here))
    return max(reachable, key=lambda w: (reachable[w], w == ship.ship.waypoint))


class CargoSale:
    """Sell everything aboard except `keep`."""

    __slots__ = ("_lots", "_travel", "_tried", "keep", "sold_value")

    def __init__(self, keep: frozenset[str] = frozenset()) -> None:
        self.keep = keep
        self._travel: Travel | None = None
        self._lots: dict[str, int] = {}
        self._tried: set[tuple[str, str]] = set()
        self.sold_value = 0

    def _goods(self, ship: ShipControl) -> dict[str, int]:
        return {s: u for s, u in ship.ship.inventory.items() if s not in self.keep and u > 0}

    def _lot(self, ship: ShipControl, symbol: str) -> int:
        if symbol in self._lots:
            return self._lots[symbol]
        for quote in ship.world.quotes(symbol, ship.ship.system):
            if quote.waypoint == ship.ship.waypoint and quote.trade_volume > 0:
                return quote.trade_volume
        return _DEFAULT_LOT

    async def step(self, ship: ShipControl) -> float | None:
        """Advance; the instant to come back, or `DONE` when nothing is left to sell."""
        goods = self._goods(ship)
        if not goods:
            return DONE
        if self._travel is not None:
            wake = await self._travel.step(ship)
            if wake is not ARRIVED:
                return wake
            self._travel = None
        target = best_market(ship, goods, self.keep, frozenset(self._tried))
        if target is None:
            for symbol, units in goods.items():
                await ship.orbit()
                await ship.jettison(symbol, units)
            return DONE
        if target != ship.ship.waypoint:
            self._travel = Travel(target)
            return ship.monotonic()
        await ship.dock()
        for symbol in list(goods):
            if not ship.world.trades(target, symbol) and ship.world.markets.get(target):
                self._tried.add((target, symbol))
                continue
            while ship.ship.units_of(symbol) > 0:
                units = min(ship.ship.units_of(symbol), self._lot(ship, symbol))
                try:
                    transaction = await ship.sell(symbol, units)
                except TradeVolumeExceeded:
                    self._lots[symbol] = max(1, units // 2)
                    continue
                except MarketDoesNotTrade:
                    ship.world.markets.pop(target, None)
                    break
                self.sold_value += transaction.total_price
            # Tried only once the sale is over: a call that failed on the way (the ship was not
            # docked after all) is retried here, not counted as the market refusing the good.
            self._tried.add((target, symbol))
        low = ship.ship.fuel_capacity and ship.ship.fuel * 2 < ship.ship.fuel_capacity
        if low and ship.world.trades(target, "FUEL"):
            await ship.refuel()
        return ship.monotonic()
