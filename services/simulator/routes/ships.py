"""The agent's ships: reading them, moving them, moving cargo, exploring and negotiating."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from simulator.actions import cargo, contracts, exploration, navigation
from simulator.routes.deps import (
    AgentDep,
    GameDep,
    LimitQuery,
    PageQuery,
    ShipDep,
    ok,
    ok_page,
    paged,
)
from simulator.views import (
    cargo_view,
    cooldown_view,
    module_view,
    mount_view,
    nav_view,
    ship_view,
)

router = APIRouter(prefix="/my/ships")

FlightMode = Literal["DRIFT", "STEALTH", "CRUISE", "BURN"]


class WaypointRequest(BaseModel):
    waypointSymbol: str = Field(min_length=1)


class FlightModeRequest(BaseModel):
    flightMode: FlightMode = "CRUISE"


class CargoRequest(BaseModel):
    symbol: str = Field(min_length=1)
    units: int


class TransferRequest(BaseModel):
    tradeSymbol: str = Field(min_length=1)
    units: int
    shipSymbol: str = Field(min_length=1)


@router.get("")
async def get_my_ships(
    agent: AgentDep, game: GameDep, page: PageQuery = 1, limit: LimitQuery = 10
) -> JSONResponse:
    items, page_meta = paged(game.agent_ships(agent), page, limit)
    return ok_page([ship_view(s, game) for s in items], page_meta)


@router.get("/{ship_symbol}")
async def get_my_ship(ship: ShipDep, game: GameDep) -> JSONResponse:
    return ok(ship_view(ship, game))


@router.get("/{ship_symbol}/cargo")
async def get_my_ship_cargo(ship: ShipDep) -> JSONResponse:
    return ok(cargo_view(ship))


@router.get("/{ship_symbol}/nav")
async def get_ship_nav(ship: ShipDep, game: GameDep) -> JSONResponse:
    return ok(nav_view(ship, game))


@router.patch("/{ship_symbol}/nav")
async def patch_ship_nav(ship: ShipDep, game: GameDep, body: FlightModeRequest) -> JSONResponse:
    return ok(navigation.set_flight_mode(game, ship, body.flightMode))


@router.post("/{ship_symbol}/orbit")
async def orbit_ship(ship: ShipDep, game: GameDep) -> JSONResponse:
    return ok(navigation.orbit(game, ship))


@router.post("/{ship_symbol}/dock")
async def dock_ship(ship: ShipDep, game: GameDep) -> JSONResponse:
    return ok(navigation.dock(game, ship))


@router.post("/{ship_symbol}/navigate")
async def navigate_ship(ship: ShipDep, game: GameDep, body: WaypointRequest) -> JSONResponse:
    return ok(navigation.navigate(game, ship, body.waypointSymbol.upper()))


@router.post("/{ship_symbol}/jump")
async def jump_ship(
    ship: ShipDep, agent: AgentDep, game: GameDep, body: WaypointRequest
) -> JSONResponse:
    return ok(navigation.jump(game, agent, ship, body.waypointSymbol.upper()))


@router.get("/{ship_symbol}/cooldown", response_model=None)
async def get_ship_cooldown(ship: ShipDep, game: GameDep) -> Response:
    if game.cooldown_remaining(ship) <= 0:
        return Response(status_code=204)
    return ok(cooldown_view(ship, game))


@router.get("/{ship_symbol}/mounts")
async def get_mounts(ship: ShipDep) -> JSONResponse:
    return ok([mount_view(m) for m in ship.mounts])


@router.get("/{ship_symbol}/modules")
async def get_ship_modules(ship: ShipDep) -> JSONResponse:
    return ok([module_view(m) for m in ship.modules])


@router.post("/{ship_symbol}/jettison")
async def jettison(ship: ShipDep, game: GameDep, body: CargoRequest) -> JSONResponse:
    return ok(cargo.jettison(game, ship, body.symbol.upper(), body.units))


@router.post("/{ship_symbol}/transfer")
async def transfer_cargo(
    ship: ShipDep, agent: AgentDep, game: GameDep, body: TransferRequest
) -> JSONResponse:
    return ok(
        cargo.transfer(
            game, agent, ship, body.tradeSymbol.upper(), body.units, body.shipSymbol.upper()
        )
    )


@router.post("/{ship_symbol}/chart", status_code=201)
async def create_chart(ship: ShipDep, agent: AgentDep, game: GameDep) -> JSONResponse:
    return ok(exploration.chart(game, agent, ship), 201)


@router.post("/{ship_symbol}/scan/waypoints", status_code=201)
async def scan_waypoints(ship: ShipDep, game: GameDep) -> JSONResponse:
    return ok(exploration.scan_waypoints(game, ship), 201)


@router.post("/{ship_symbol}/scan/systems", status_code=201)
async def scan_systems(ship: ShipDep, game: GameDep) -> JSONResponse:
    return ok(exploration.scan_systems(game, ship), 201)


@router.post("/{ship_symbol}/scan/ships", status_code=201)
async def scan_ships(ship: ShipDep, game: GameDep) -> JSONResponse:
    return ok(exploration.scan_ships(game, ship), 201)


@router.post("/{ship_symbol}/negotiate/contract", status_code=201)
async def negotiate_contract(ship: ShipDep, agent: AgentDep, game: GameDep) -> JSONResponse:
    return ok(contracts.negotiate(game, agent, ship), 201)
