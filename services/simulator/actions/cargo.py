"""Moving cargo without a market: jettison it, or hand it to another ship at the same place."""

from __future__ import annotations

from simulator.actions.rules import (
    require_cargo,
    require_not_in_transit,
    require_positive_units,
)
from simulator.errors import ApiError, ErrorCode
from simulator.game import Game
from simulator.state import Agent, Ship
from simulator.views import Json, cargo_view

__all__ = [
    "jettison",
    "transfer",
]


def jettison(game: Game, ship: Ship, symbol: str, units: int) -> Json:
    """Throw `units` of `symbol` out of the hold (anywhere but in transit); nothing is paid or
    gained."""
    require_not_in_transit(game, ship)
    require_positive_units(units)
    require_cargo(ship, symbol, units)
    ship.remove_cargo(symbol, units)
    return {"cargo": cargo_view(ship)}


def transfer(
    game: Game, agent: Agent, ship: Ship, symbol: str, units: int, target_symbol: str
) -> Json:
    """Hand `units` of `symbol` to the agent's ship `target_symbol`, which must be at the same
    waypoint in the same docked or orbiting state, with room for them."""
    require_not_in_transit(game, ship)
    require_positive_units(units)
    target = game.ships.get(target_symbol.upper())
    if target is None:
        raise ApiError(
            ErrorCode.TRANSFER_SHIP_NOT_FOUND,
            f"Ship {target_symbol} does not exist.",
            {"shipSymbol": target_symbol},
        )
    if target.agent_symbol != agent.symbol:
        raise ApiError(
            ErrorCode.TRANSFER_AGENT_CONFLICT,
            f"Ship {target.symbol} belongs to another agent.",
            {"shipSymbol": target.symbol},
        )
    if target.symbol == ship.symbol:
        raise ApiError(
            ErrorCode.TRANSFER_SAME_SHIP,
            "A ship cannot transfer cargo to itself.",
            {"shipSymbol": ship.symbol},
        )
    game.settle(target)
    if target.nav.status == "IN_TRANSIT" or target.nav.waypoint_symbol != ship.nav.waypoint_symbol:
        raise ApiError(
            ErrorCode.TRANSFER_LOCATION_CONFLICT,
            f"Ships {ship.symbol} and {target.symbol} are not at the same waypoint.",
            {"shipSymbol": ship.symbol, "targetShipSymbol": target.symbol},
        )
    if target.nav.status != ship.nav.status:
        raise ApiError(
            ErrorCode.TRANSFER_DOCKED_ORBIT_CONFLICT,
            f"Ships {ship.symbol} and {target.symbol} must both be docked or both in orbit.",
            {"shipSymbol": ship.symbol, "targetShipSymbol": target.symbol},
        )
    require_cargo(ship, symbol, units)
    if units > target.cargo_free:
        raise ApiError(
            ErrorCode.CARGO_EXCEEDS_LIMIT,
            f"Ship {target.symbol} has room for {target.cargo_free} units, not {units}.",
            {
                "shipSymbol": target.symbol,
                "cargoCapacity": target.cargo_capacity,
                "cargoUnits": target.cargo_units,
                "unitsToAdd": units,
            },
        )
    ship.remove_cargo(symbol, units)
    target.add_cargo(symbol, units)
    return {"cargo": cargo_view(ship)}
