"""Systems, waypoints, markets, shipyards and jump gates (public, token optional)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from simulator import catalog
from simulator.errors import not_found
from simulator.routes.deps import GameDep, LimitQuery, MaybeAgentDep, PageQuery, ok, ok_page, paged
from simulator.views import (
    jump_gate_view,
    market_view,
    shipyard_view,
    system_view,
    waypoint_view,
)

__all__ = [
    "get_jump_gate",
    "get_market",
    "get_shipyard",
    "get_supply_chain",
    "get_system",
    "get_system_waypoints",
    "get_systems",
    "get_waypoint",
    "router",
]

router = APIRouter()


@router.get("/systems")
async def get_systems(game: GameDep, page: PageQuery = 1, limit: LimitQuery = 10) -> JSONResponse:
    """Every system, paged."""
    items, page_meta = paged(list(game.universe.systems.values()), page, limit)
    return ok_page([system_view(s, game) for s in items], page_meta)


@router.get("/systems/{system_symbol}")
async def get_system(system_symbol: str, game: GameDep) -> JSONResponse:
    """One system with its waypoints."""
    return ok(system_view(game.system(system_symbol.upper()), game))


@router.get("/systems/{system_symbol}/waypoints")
async def get_system_waypoints(
    system_symbol: str,
    game: GameDep,
    page: PageQuery = 1,
    limit: LimitQuery = 10,
    type: Annotated[str | None, Query(description="Only waypoints of this type.")] = None,
    traits: Annotated[
        list[str] | None, Query(description="Only waypoints with all of these traits.")
    ] = None,
) -> JSONResponse:
    """A system's waypoints, paged, optionally of one type or with all of some traits."""
    system = game.system(system_symbol.upper())
    wanted = {t.strip().upper() for value in traits or [] for t in value.split(",") if t.strip()}
    waypoints = [game.universe.waypoints[w] for w in system.waypoints]
    if type:
        waypoints = [w for w in waypoints if w.type == type.upper()]
    if wanted:
        waypoints = [w for w in waypoints if wanted <= set(w.visible_traits())]
    items, page_meta = paged(waypoints, page, limit)
    return ok_page([waypoint_view(w, game) for w in items], page_meta)


@router.get("/systems/{system_symbol}/waypoints/{waypoint_symbol}")
async def get_waypoint(system_symbol: str, waypoint_symbol: str, game: GameDep) -> JSONResponse:
    """One waypoint."""
    waypoint = game.system_waypoint(system_symbol.upper(), waypoint_symbol.upper())
    return ok(waypoint_view(waypoint, game))


@router.get("/systems/{system_symbol}/waypoints/{waypoint_symbol}/market")
async def get_market(
    system_symbol: str, waypoint_symbol: str, game: GameDep, agent: MaybeAgentDep
) -> JSONResponse:
    """The market at a waypoint; prices and transactions only with an agent's ship there."""
    waypoint = game.system_waypoint(system_symbol.upper(), waypoint_symbol.upper())
    market = game.market(waypoint.symbol)
    present = agent is not None and game.has_ship_at(agent, waypoint.symbol)
    return ok(market_view(market, with_prices=present))


@router.get("/systems/{system_symbol}/waypoints/{waypoint_symbol}/shipyard")
async def get_shipyard(
    system_symbol: str, waypoint_symbol: str, game: GameDep, agent: MaybeAgentDep
) -> JSONResponse:
    """The shipyard at a waypoint; ships and prices only with one of the agent's ships there."""
    waypoint = game.system_waypoint(system_symbol.upper(), waypoint_symbol.upper())
    shipyard = game.shipyard(waypoint.symbol)
    present = agent is not None and game.has_ship_at(agent, waypoint.symbol)
    return ok(shipyard_view(shipyard, with_prices=present))


@router.get("/systems/{system_symbol}/waypoints/{waypoint_symbol}/jump-gate")
async def get_jump_gate(system_symbol: str, waypoint_symbol: str, game: GameDep) -> JSONResponse:
    """The jump gate at a waypoint and the gates it connects to."""
    waypoint = game.system_waypoint(system_symbol.upper(), waypoint_symbol.upper())
    if waypoint.type != "JUMP_GATE":
        raise not_found(f"Jump gate at {waypoint.symbol}")
    return ok(jump_gate_view(waypoint, game))


@router.get("/market/supply-chain")
async def get_supply_chain() -> JSONResponse:
    """Which imports each export is made from."""
    chain: dict[str, set[str]] = {}
    for profile in catalog.MARKET_PROFILES.values():
        for export in profile.exports:
            chain.setdefault(export, set()).update(profile.imports)
    return ok({"exportToImportMap": {k: sorted(v) for k, v in sorted(chain.items()) if v}})
