"""Moving ships: orbit, dock, navigate within a system, flight modes and jumps between systems."""

from __future__ import annotations

from datetime import timedelta

from simulator import mechanics
from simulator.actions.rules import (
    require_no_cooldown,
    require_not_in_transit,
    require_orbit,
)
from simulator.actions.trading import record_market_trade
from simulator.errors import ApiError, ErrorCode
from simulator.game import Game
from simulator.state import Agent, Ship
from simulator.views import Json, agent_view, cooldown_view, fuel_view, nav_view

__all__ = [
    "dock",
    "jump",
    "navigate",
    "orbit",
    "set_flight_mode",
]


def orbit(game: Game, ship: Ship) -> Json:
    """Leave the dock for orbit (from anywhere but in transit)."""
    require_not_in_transit(game, ship)
    ship.nav.status = "IN_ORBIT"
    return {"nav": nav_view(ship, game)}


def dock(game: Game, ship: Ship) -> Json:
    """Dock at the waypoint the ship is at (from anywhere but in transit)."""
    require_not_in_transit(game, ship)
    ship.nav.status = "DOCKED"
    return {"nav": nav_view(ship, game)}


def navigate(game: Game, ship: Ship, destination_symbol: str) -> Json:
    """Fly to another waypoint of the same system, paying fuel for the flight mode."""
    require_orbit(game, ship)
    destination = game.universe.waypoints.get(destination_symbol)
    if destination is None:
        raise ApiError(
            ErrorCode.NAVIGATE_INVALID_DESTINATION,
            f"Destination {destination_symbol} does not exist.",
            {"destinationSymbol": destination_symbol},
        )
    if destination.symbol == ship.nav.waypoint_symbol:
        raise ApiError(
            ErrorCode.NAVIGATE_SAME_DESTINATION,
            f"Ship {ship.symbol} is already at {destination.symbol}.",
            {"destinationSymbol": destination.symbol},
        )
    if destination.system_symbol != ship.nav.system_symbol:
        raise ApiError(
            ErrorCode.NAVIGATE_OUTSIDE_SYSTEM,
            f"Destination {destination.symbol} is outside system {ship.nav.system_symbol}; "
            "use a jump gate.",
            {
                "shipSystemSymbol": ship.nav.system_symbol,
                "destinationSystemSymbol": destination.system_symbol,
            },
        )
    origin = game.waypoint(ship.nav.waypoint_symbol)
    dist = mechanics.distance(origin.x, origin.y, destination.x, destination.y)
    mode = ship.nav.flight_mode
    fuel_needed = mechanics.fuel_cost(mode, dist) if ship.fuel_capacity > 0 else 0
    if fuel_needed > ship.fuel:
        raise ApiError(
            ErrorCode.NAVIGATE_INSUFFICIENT_FUEL,
            f"Ship {ship.symbol} needs {fuel_needed} fuel for this flight and has {ship.fuel}.",
            {"fuelRequired": fuel_needed, "fuelAvailable": ship.fuel},
        )
    now = game.time.now()
    ship.fuel -= fuel_needed
    ship.fuel_consumed = (fuel_needed, now)
    seconds = mechanics.travel_seconds(mode, dist, ship.engine.speed)
    ship.nav.origin = origin.symbol
    ship.nav.destination = destination.symbol
    ship.nav.waypoint_symbol = destination.symbol
    ship.nav.departure_time = now
    ship.nav.arrival = game.time.after(seconds, now)
    ship.nav.flight_distance = dist
    ship.nav.status = "IN_TRANSIT"
    return {"nav": nav_view(ship, game), "fuel": fuel_view(ship), "events": []}


def set_flight_mode(game: Game, ship: Ship, flight_mode: str) -> Json:
    """Change the flight mode; in flight only to a faster one, paying the extra fuel."""
    game.settle(ship)
    nav = ship.nav
    if nav.status == "IN_TRANSIT" and flight_mode != nav.flight_mode:
        if mechanics.is_slower(flight_mode, nav.flight_mode):
            raise ApiError(
                ErrorCode.CANT_SLOW_DOWN_WHILE_IN_TRANSIT,
                f"Ship {ship.symbol} cannot change to a slower flight mode while in transit.",
                {"flightMode": flight_mode, "currentFlightMode": nav.flight_mode},
            )
        now = game.time.now()
        total = (nav.arrival - nav.departure_time).total_seconds()
        left = (nav.arrival - now).total_seconds()
        remaining_distance = nav.flight_distance * (left / total if total > 0 else 0.0)
        extra = 0
        if ship.fuel_capacity > 0:
            extra = max(
                0,
                mechanics.fuel_cost(flight_mode, remaining_distance)
                - mechanics.fuel_cost(nav.flight_mode, remaining_distance),
            )
        if extra > ship.fuel:
            raise ApiError(
                ErrorCode.NAVIGATE_INSUFFICIENT_FUEL,
                f"Ship {ship.symbol} needs {extra} more fuel to change flight mode.",
                {"fuelRequired": extra, "fuelAvailable": ship.fuel},
            )
        ship.fuel -= extra
        if extra:
            ship.fuel_consumed = (extra, now)
        old_seconds = mechanics.travel_seconds(
            nav.flight_mode, remaining_distance, ship.engine.speed
        )
        new_seconds = mechanics.travel_seconds(flight_mode, remaining_distance, ship.engine.speed)
        if left > 0 and old_seconds > 0:
            nav.arrival = now + timedelta(seconds=left * new_seconds / old_seconds)
    nav.flight_mode = flight_mode
    return {"nav": nav_view(ship, game), "fuel": fuel_view(ship), "events": []}


def jump(game: Game, agent: Agent, ship: Ship, destination_symbol: str) -> Json:
    """Jump from this system's gate to a connected system's gate, paying one ANTIMATTER."""
    require_orbit(game, ship)
    require_no_cooldown(game, ship)
    origin = game.waypoint(ship.nav.waypoint_symbol)
    if origin.type != "JUMP_GATE":
        raise ApiError(
            ErrorCode.JUMP_INVALID_ORIGIN,
            f"Ship {ship.symbol} must be at a jump gate to jump; {origin.symbol} is not one.",
            {"waypointSymbol": origin.symbol},
        )
    destination = game.universe.waypoints.get(destination_symbol)
    system = game.universe.systems[origin.system_symbol]
    if (
        destination is None
        or destination.type != "JUMP_GATE"
        or destination.system_symbol not in system.connections
    ):
        raise ApiError(
            ErrorCode.JUMP_INVALID_WAYPOINT,
            f"{destination_symbol} is not a jump gate connected to {origin.symbol}.",
            {"waypointSymbol": destination_symbol},
        )
    from_system = game.universe.systems[origin.system_symbol]
    to_system = game.universe.systems[destination.system_symbol]
    dist = mechanics.distance(from_system.x, from_system.y, to_system.x, to_system.y)
    market = game.markets.get(origin.symbol)
    price = 0
    if market is not None and "ANTIMATTER" in market.goods:
        game.refresh_market(market)
        good = market.goods["ANTIMATTER"]
        price = mechanics.purchase_price(good.base_price, good.type, good.supply_index)
    if price > agent.credits:
        raise ApiError(
            ErrorCode.MARKET_INSUFFICIENT_CREDITS,
            f"Agent has {agent.credits} credits; a jump costs {price} for ANTIMATTER.",
            {"creditsAvailable": agent.credits, "totalPrice": price},
        )
    transaction = record_market_trade(
        game, agent, ship, origin.symbol, "ANTIMATTER", 1, price, bought=True
    )
    now = game.time.now()
    ship.nav.system_symbol = destination.system_symbol
    ship.nav.waypoint_symbol = destination.symbol
    ship.nav.origin = origin.symbol
    ship.nav.destination = destination.symbol
    ship.nav.departure_time = now
    ship.nav.arrival = now
    ship.nav.flight_distance = 0.0
    ship.nav.status = "IN_ORBIT"
    game.start_cooldown(ship, mechanics.jump_cooldown(dist))
    return {
        "nav": nav_view(ship, game),
        "cooldown": cooldown_view(ship, game),
        "transaction": transaction,
        "agent": agent_view(agent, game),
    }
