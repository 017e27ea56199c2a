"""Checks shared by many actions: where a ship is, its cooldown, its cargo and credits."""

from __future__ import annotations

import math

from simulator.errors import ApiError, ErrorCode
from simulator.game import Game
from simulator.state import Ship
from simulator.views import cooldown_view, iso

__all__ = [
    "require_cargo",
    "require_cargo_space",
    "require_docked",
    "require_no_cooldown",
    "require_not_in_transit",
    "require_orbit",
    "require_positive_units",
]


def require_not_in_transit(game: Game, ship: Ship) -> None:
    """4214 with the flight's details while the ship is still flying."""
    game.settle(ship)
    if ship.nav.status != "IN_TRANSIT":
        return
    seconds = math.ceil(game.time.real_seconds_until(ship.nav.arrival))
    raise ApiError(
        ErrorCode.SHIP_IN_TRANSIT,
        f"Ship {ship.symbol} is currently in-transit from {ship.nav.origin} to "
        f"{ship.nav.destination} and arrives in {seconds} seconds.",
        {
            "departureSymbol": ship.nav.origin,
            "destinationSymbol": ship.nav.destination,
            "arrival": iso(ship.nav.arrival),
            "departureTime": iso(ship.nav.departure_time),
            "secondsToArrival": seconds,
        },
    )


def require_orbit(game: Game, ship: Ship) -> None:
    """4236 unless the ship is in orbit (and 4214 while it is still flying)."""
    require_not_in_transit(game, ship)
    if ship.nav.status != "IN_ORBIT":
        raise ApiError(
            ErrorCode.NOT_IN_ORBIT,
            f"Ship {ship.symbol} must be in orbit to do this; it is docked at "
            f"{ship.nav.waypoint_symbol}.",
        )


def require_docked(game: Game, ship: Ship) -> None:
    """4244 unless the ship is docked (and 4214 while it is still flying)."""
    require_not_in_transit(game, ship)
    if ship.nav.status != "DOCKED":
        raise ApiError(
            ErrorCode.NOT_DOCKED,
            f"Ship {ship.symbol} must be docked to do this; it is in orbit at "
            f"{ship.nav.waypoint_symbol}.",
        )


def require_no_cooldown(game: Game, ship: Ship) -> None:
    """4000 (HTTP 409) with the active cooldown in `data.cooldown`."""
    if game.cooldown_remaining(ship) > 0:
        cooldown = cooldown_view(ship, game)
        raise ApiError(
            ErrorCode.COOLDOWN_CONFLICT,
            f"Ship action is still on cooldown for {cooldown['remainingSeconds']} second(s).",
            {"cooldown": cooldown},
        )


def require_cargo(ship: Ship, symbol: str, units: int) -> None:
    """4218 when the ship holds none of `symbol`, 4219 when it holds fewer than `units`."""
    held = ship.cargo.get(symbol, 0)
    if held == 0:
        raise ApiError(
            ErrorCode.CARGO_MISSING,
            f"Ship {ship.symbol} has no {symbol} in its cargo.",
            {"shipSymbol": ship.symbol, "tradeSymbol": symbol},
        )
    if held < units:
        raise ApiError(
            ErrorCode.CARGO_UNIT_COUNT,
            f"Ship {ship.symbol} holds {held} units of {symbol}, fewer than {units}.",
            {
                "shipSymbol": ship.symbol,
                "tradeSymbol": symbol,
                "cargoUnits": held,
                "unitsToRemove": units,
            },
        )


def require_cargo_space(ship: Ship, units: int) -> None:
    """4217 when `units` more would not fit in the hold."""
    if units > ship.cargo_free:
        raise ApiError(
            ErrorCode.CARGO_EXCEEDS_LIMIT,
            f"Ship {ship.symbol} cannot take {units} more units: {ship.cargo_free} free of "
            f"{ship.cargo_capacity}.",
            {
                "shipSymbol": ship.symbol,
                "cargoCapacity": ship.cargo_capacity,
                "cargoUnits": ship.cargo_units,
                "unitsToAdd": units,
            },
        )


def require_positive_units(units: int) -> None:
    """422 naming `units` when fewer than one is asked for, as the API's validation answers."""
    if units < 1:
        raise ApiError(
            ErrorCode.UNPROCESSABLE_INPUT,
            "Units must be at least 1.",
            {
                "issues": [
                    {"path": ["units"], "message": "Number must be greater than or equal to 1"}
                ]
            },
        )
