"""Exploring: chart an uncharted waypoint, scan for waypoints, systems and ships."""

from __future__ import annotations

from typing import Any

from simulator import catalog, mechanics
from simulator.actions.rules import require_no_cooldown, require_not_in_transit
from simulator.errors import ApiError, ErrorCode
from simulator.game import Game
from simulator.state import Agent, Ship
from simulator.views import (
    Json,
    agent_view,
    chart_view,
    cooldown_view,
    scanned_ship_view,
    scanned_waypoint_view,
    waypoint_view,
)

__all__ = [
    "SYSTEM_SCAN_RANGE_PER_STRENGTH",
    "chart",
    "scan_ships",
    "scan_systems",
    "scan_waypoints",
]

SYSTEM_SCAN_RANGE_PER_STRENGTH = 800


def chart(game: Game, agent: Agent, ship: Ship) -> Json:
    """Chart the uncharted waypoint the ship is at: its real traits become visible to everyone,
    credited to the agent."""
    require_not_in_transit(game, ship)
    waypoint = game.waypoint(ship.nav.waypoint_symbol)
    if waypoint.charted:
        raise ApiError(
            ErrorCode.WAYPOINT_CHARTED,
            f"Waypoint {waypoint.symbol} has already been charted.",
            {"waypointSymbol": waypoint.symbol},
        )
    waypoint.charted = True
    waypoint.charted_by = agent.symbol
    waypoint.charted_on = game.time.now()
    return {
        "chart": chart_view(waypoint, game),
        "waypoint": waypoint_view(waypoint, game),
        "agent": agent_view(agent, game),
    }


def _sensors(game: Game, ship: Ship) -> list[Any]:
    require_not_in_transit(game, ship)
    require_no_cooldown(game, ship)
    sensors = ship.mounts_among(catalog.SENSOR_ARRAYS)
    if not sensors:
        raise ApiError(
            ErrorCode.MISSING_SENSOR_ARRAYS,
            f"Ship {ship.symbol} has no sensor array to scan with.",
            {"shipSymbol": ship.symbol},
        )
    game.start_cooldown(ship, mechanics.action_cooldown(m.power for m in sensors))
    return sensors


def scan_waypoints(game: Game, ship: Ship) -> Json:
    """The waypoints of the ship's system as its sensors see them; starts the scan cooldown."""
    _sensors(game, ship)
    waypoints = game.system_waypoints(ship.nav.waypoint_symbol)
    return {
        "cooldown": cooldown_view(ship, game),
        "waypoints": [scanned_waypoint_view(w, game) for w in waypoints],
    }


def scan_systems(game: Game, ship: Ship) -> Json:
    """The systems within reach of the ship's sensor arrays, nearest first; starts the scan
    cooldown."""
    sensors = _sensors(game, ship)
    here = game.universe.systems[ship.nav.system_symbol]
    reach = SYSTEM_SCAN_RANGE_PER_STRENGTH * sum(m.strength or 0 for m in sensors)
    found: list[Json] = []
    for system in game.universe.systems.values():
        dist = mechanics.distance(here.x, here.y, system.x, system.y)
        if dist <= reach:
            found.append(
                {
                    "symbol": system.symbol,
                    "sectorSymbol": system.symbol.split("-")[0],
                    "type": system.type,
                    "x": system.x,
                    "y": system.y,
                    "distance": mechanics.round_half_up(dist),
                }
            )
    found.sort(key=lambda s: int(s["distance"]))
    return {"cooldown": cooldown_view(ship, game), "systems": found}


def scan_ships(game: Game, ship: Ship) -> Json:
    """The other ships in the ship's system; starts the scan cooldown."""
    _sensors(game, ship)
    others = [
        other
        for other in game.ships.values()
        if other.symbol != ship.symbol and other.nav.system_symbol == ship.nav.system_symbol
    ]
    return {
        "cooldown": cooldown_view(ship, game),
        "ships": [scanned_ship_view(other, game) for other in others],
    }
