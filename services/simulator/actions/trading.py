"""Trade at markets and shipyards: sell and buy cargo, refuel, buy ships, fit and remove mounts."""

from __future__ import annotations

from simulator import catalog, mechanics
from simulator.actions.rules import (
    require_cargo,
    require_cargo_space,
    require_docked,
    require_positive_units,
)
from simulator.errors import ApiError, ErrorCode, not_found
from simulator.game import Game
from simulator.state import Agent, MarketGood, Ship
from simulator.views import (
    Json,
    agent_view,
    cargo_view,
    fuel_view,
    iso,
    mount_view,
    ship_price,
    ship_view,
)

__all__ = [
    "buy_ship",
    "install_mount",
    "purchase",
    "record_market_trade",
    "refuel",
    "remove_mount",
    "sell",
]


def record_market_trade(
    game: Game,
    agent: Agent,
    ship: Ship,
    waypoint_symbol: str,
    symbol: str,
    units: int,
    price_per_unit: int,
    *,
    bought: bool,
) -> Json:
    """Settle a trade: credits change, supply moves, the market logs the transaction."""
    total = units * price_per_unit
    agent.credits += -total if bought else total
    transaction = {
        "waypointSymbol": waypoint_symbol,
        "shipSymbol": ship.symbol,
        "tradeSymbol": symbol,
        "type": "PURCHASE" if bought else "SELL",
        "units": units,
        "pricePerUnit": price_per_unit,
        "totalPrice": total,
        "timestamp": iso(game.time.now()),
    }
    market = game.markets.get(waypoint_symbol)
    if market is not None:
        good = market.goods.get(symbol)
        if good is not None:
            _move_supply(good, units, bought)
        market.transactions.append(transaction)
    return transaction


def _move_supply(good: MarketGood, units: int, bought: bool) -> None:
    good.supply_index = mechanics.supply_after_trade(
        good.supply_index, units, good.trade_volume, bought
    )
    # Sustained trade deepens a market: every ten volumes traded raise the volume by a tenth.
    good.units_traded += units
    if good.units_traded >= 10 * good.trade_volume and good.trade_volume < good.max_trade_volume:
        good.units_traded = 0
        good.trade_volume = min(
            good.max_trade_volume, good.trade_volume + good.trade_volume // 10 + 1
        )


def _market_good(game: Game, ship: Ship, symbol: str, *, buying: bool) -> MarketGood:
    waypoint = ship.nav.waypoint_symbol
    market = game.markets.get(waypoint)
    good = None
    if market is not None:
        game.refresh_market(market)
        good = market.goods.get(symbol)
    if good is None:
        if buying:
            raise ApiError(
                ErrorCode.MARKET_NO_PURCHASE,
                f"Market at {waypoint} does not sell {symbol}.",
                {"waypointSymbol": waypoint, "tradeSymbol": symbol},
            )
        raise ApiError(
            ErrorCode.MARKET_NOT_SOLD,
            f"Market at {waypoint} does not buy {symbol}.",
            {"waypointSymbol": waypoint, "tradeSymbol": symbol},
        )
    return good


def _check_trade_volume(ship: Ship, good: MarketGood, units: int) -> None:
    if units > good.trade_volume:
        raise ApiError(
            ErrorCode.MARKET_TRADE_UNIT_LIMIT,
            f"Market at {ship.nav.waypoint_symbol} trades at most {good.trade_volume} units of "
            f"{good.symbol} per transaction.",
            {
                "waypointSymbol": ship.nav.waypoint_symbol,
                "tradeSymbol": good.symbol,
                "units": units,
                "tradeVolume": good.trade_volume,
            },
        )


def sell(game: Game, agent: Agent, ship: Ship, symbol: str, units: int) -> Json:
    """Sell `units` of `symbol` from a docked ship to the market at its waypoint, at the price its
    supply sets, which the sale then lowers."""
    require_docked(game, ship)
    require_positive_units(units)
    good = _market_good(game, ship, symbol, buying=False)
    _check_trade_volume(ship, good, units)
    require_cargo(ship, symbol, units)
    price = mechanics.sell_price(good.base_price, good.type, good.supply_index)
    ship.remove_cargo(symbol, units)
    transaction = record_market_trade(
        game, agent, ship, ship.nav.waypoint_symbol, symbol, units, price, bought=False
    )
    return {"agent": agent_view(agent, game), "cargo": cargo_view(ship), "transaction": transaction}


def purchase(game: Game, agent: Agent, ship: Ship, symbol: str, units: int) -> Json:
    """Buy `units` of `symbol` into a docked ship at the market's price, which the purchase then
    raises; the agent must afford it and the hold must have room."""
    require_docked(game, ship)
    require_positive_units(units)
    good = _market_good(game, ship, symbol, buying=True)
    _check_trade_volume(ship, good, units)
    require_cargo_space(ship, units)
    price = mechanics.purchase_price(good.base_price, good.type, good.supply_index)
    if price * units > agent.credits:
        raise ApiError(
            ErrorCode.MARKET_INSUFFICIENT_CREDITS,
            f"Agent has {agent.credits} credits; {units} {symbol} cost {price * units}.",
            {"creditsAvailable": agent.credits, "totalPrice": price * units},
        )
    ship.add_cargo(symbol, units)
    transaction = record_market_trade(
        game, agent, ship, ship.nav.waypoint_symbol, symbol, units, price, bought=True
    )
    return {"agent": agent_view(agent, game), "cargo": cargo_view(ship), "transaction": transaction}


def refuel(game: Game, agent: Agent, ship: Ship, units: int | None, from_cargo: bool) -> Json:
    """Fill the tank (or add `units` tank units) from the market or from FUEL in the hold;
    a market unit of FUEL holds 100 tank units and is billed whole."""
    require_docked(game, ship)
    missing = ship.fuel_capacity - ship.fuel
    # More than the tank takes is capped: the tank is filled and only that is billed.
    wanted = missing if units is None else min(units, missing)
    market_units = mechanics.fuel_market_units(wanted)
    now_iso = iso(game.time.now())
    if from_cargo:
        require_cargo(ship, "FUEL", market_units)
        ship.remove_cargo("FUEL", market_units)
        ship.fuel = min(ship.fuel_capacity, ship.fuel + wanted)
        transaction = {
            "waypointSymbol": ship.nav.waypoint_symbol,
            "shipSymbol": ship.symbol,
            "tradeSymbol": "FUEL",
            "type": "PURCHASE",
            "units": market_units,
            "pricePerUnit": 0,
            "totalPrice": 0,
            "timestamp": now_iso,
        }
        return {
            "agent": agent_view(agent, game),
            "fuel": fuel_view(ship),
            "transaction": transaction,
            "cargo": cargo_view(ship),
        }
    good = _market_good(game, ship, "FUEL", buying=True)
    price = mechanics.purchase_price(good.base_price, good.type, good.supply_index)
    if price * market_units > agent.credits:
        raise ApiError(
            ErrorCode.MARKET_INSUFFICIENT_CREDITS,
            f"Agent has {agent.credits} credits; the fuel costs {price * market_units}.",
            {"creditsAvailable": agent.credits, "totalPrice": price * market_units},
        )
    ship.fuel = min(ship.fuel_capacity, ship.fuel + wanted)
    transaction = record_market_trade(
        game, agent, ship, ship.nav.waypoint_symbol, "FUEL", market_units, price, bought=True
    )
    return {"agent": agent_view(agent, game), "fuel": fuel_view(ship), "transaction": transaction}


def buy_ship(game: Game, agent: Agent, ship_type: str, waypoint_symbol: str) -> Json:
    """Buy a ship at a shipyard where one of the agent's ships is present."""
    waypoint = game.waypoint(waypoint_symbol)
    if not waypoint.has_shipyard:
        raise not_found(f"Shipyard at {waypoint_symbol}")
    shipyard = game.shipyard(waypoint.symbol)
    if ship_type not in shipyard.offers:
        raise ApiError(
            ErrorCode.SHIP_NOT_AVAILABLE_FOR_PURCHASE,
            f"Shipyard at {waypoint.symbol} does not sell {ship_type}.",
            {"shipType": ship_type, "waypointSymbol": waypoint.symbol},
        )
    if not game.has_ship_at(agent, waypoint.symbol):
        raise ApiError(
            ErrorCode.PURCHASE_SHIP_NOT_PRESENT,
            f"Agent {agent.symbol} has no ship at {waypoint.symbol} to make the purchase.",
            {"waypointSymbol": waypoint.symbol},
        )
    price = ship_price(shipyard, ship_type)
    if price > agent.credits:
        raise ApiError(
            ErrorCode.PURCHASE_SHIP_CREDITS,
            f"Agent has {agent.credits} credits; {ship_type} costs {price}.",
            {"creditsAvailable": agent.credits, "creditsNeeded": price},
        )
    agent.credits -= price
    ship = game.new_ship(agent, ship_type, waypoint.symbol)
    offer = shipyard.offers[ship_type]
    offer.supply_index = max(mechanics.SUPPLY_MIN, offer.supply_index - 1.0)
    transaction = {
        "waypointSymbol": waypoint.symbol,
        "shipSymbol": ship_type,  # the live API puts the ship type here
        "shipType": ship_type,
        "price": price,
        "agentSymbol": agent.symbol,
        "timestamp": iso(game.time.now()),
    }
    shipyard.transactions.append(transaction)
    return {
        "agent": agent_view(agent, game),
        "ship": ship_view(ship, game),
        "transaction": transaction,
    }


def _modification_site(game: Game, ship: Ship) -> int:
    """The shipyard's fee at the ship's waypoint; the ship must be docked there."""
    require_docked(game, ship)
    shipyard = game.shipyards.get(ship.nav.waypoint_symbol)
    if shipyard is None:
        raise ApiError(
            ErrorCode.MOUNT_NO_SHIPYARD,
            f"Ship {ship.symbol} must be docked at a shipyard to change mounts.",
            {"waypointSymbol": ship.nav.waypoint_symbol},
        )
    return shipyard.modifications_fee


def _charge_fee(agent: Agent, fee: int) -> None:
    if fee > agent.credits:
        raise ApiError(
            ErrorCode.MOUNT_INSUFFICIENT_CREDITS,
            f"Agent has {agent.credits} credits; the shipyard charges {fee}.",
            {"creditsAvailable": agent.credits, "creditsNeeded": fee},
        )
    agent.credits -= fee


def install_mount(game: Game, agent: Agent, ship: Ship, symbol: str) -> Json:
    """Fit a mount the ship carries in its cargo, at a shipyard, for its fee; needs a free mounting
    point and the reactor power."""
    fee = _modification_site(game, ship)
    mount = catalog.MOUNTS.get(symbol)
    if mount is None or ship.cargo.get(symbol, 0) < 1:
        raise ApiError(
            ErrorCode.MISSING_MOUNT,
            f"Ship {ship.symbol} has no {symbol} in its cargo to install.",
            {"mountSymbol": symbol},
        )
    if len(ship.mounts) >= ship.frame.mounting_points:
        raise ApiError(
            ErrorCode.MISSING_SLOTS,
            f"Ship {ship.symbol} has no free mounting point.",
            {"mountingPoints": ship.frame.mounting_points},
        )
    if ship.power_used + mount.power > ship.reactor.power_output:
        raise ApiError(
            ErrorCode.MISSING_POWER,
            f"Ship {ship.symbol} lacks the reactor power for {symbol}.",
            {
                "powerAvailable": ship.reactor.power_output - ship.power_used,
                "powerRequired": mount.power,
            },
        )
    _charge_fee(agent, fee)
    ship.remove_cargo(symbol, 1)
    ship.mounts.append(mount)
    return _modification_result(game, agent, ship, symbol, fee)


def remove_mount(game: Game, agent: Agent, ship: Ship, symbol: str) -> Json:
    """Take an installed mount off at a shipyard, for its fee; it goes back into the cargo, which
    needs room for it."""
    fee = _modification_site(game, ship)
    index = next((i for i, m in enumerate(ship.mounts) if m.symbol == symbol), None)
    if index is None:
        raise ApiError(
            ErrorCode.MISSING_MOUNT,
            f"Ship {ship.symbol} has no {symbol} installed.",
            {"mountSymbol": symbol},
        )
    require_cargo_space(ship, 1)
    _charge_fee(agent, fee)
    ship.mounts.pop(index)
    ship.add_cargo(symbol, 1)
    return _modification_result(game, agent, ship, symbol, fee)


def _modification_result(game: Game, agent: Agent, ship: Ship, symbol: str, fee: int) -> Json:
    return {
        "agent": agent_view(agent, game),
        "mounts": [mount_view(m) for m in ship.mounts],
        "cargo": cargo_view(ship),
        "transaction": {
            "waypointSymbol": ship.nav.waypoint_symbol,
            "shipSymbol": ship.symbol,
            "tradeSymbol": symbol,
            "totalPrice": fee,
            "timestamp": iso(game.time.now()),
        },
    }
