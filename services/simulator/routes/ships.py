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

__all__ = [
    "CargoRequest",
    "FlightMode",
    "FlightModeRequest",
    "TransferRequest",
    "WaypointRequest",
    "create_chart",
    "dock_ship",
    "get_mounts",
    "get_my_ship",
    "get_my_ship_cargo",
    "get_my_ships",
    "get_ship_cooldown",
    "get_ship_modules",
    "get_ship_nav",
    "jettison",
    "jump_ship",
    "navigate_ship",
    "negotiate_contract",
    "orbit_ship",
    "patch_ship_nav",
    "router",
    "scan_ships",
    "scan_systems",
    "scan_waypoints",
    "transfer_cargo",
]

router = APIRouter(prefix="/my/ships")

FlightMode = Literal["DRIFT", "STEALTH", "CRUISE", "BURN"]


class WaypointRequest(BaseModel):
    """A body naming a waypoint (navigate, jump)."""

    waypointSymbol: str = Field(min_length=1)


class FlightModeRequest(BaseModel):
    """The body of a flight-mode change."""

    flightMode: FlightMode = "CRUISE"


class CargoRequest(BaseModel):
    """The body of a jettison: which good and how many units."""

    symbol: str = Field(min_length=1)
    units: int


class TransferRequest(BaseModel):
    """The body of a cargo transfer to another ship."""

    tradeSymbol: str = Field(min_length=1)
    units: int
    shipSymbol: str = Field(min_length=1)


@router.get("")
async def get_my_ships(
    agent: AgentDep, game: GameDep, page: PageQuery = 1, limit: LimitQuery = 10
) -> JSONResponse:
    """The agent's ships, paged."""
    items, page_meta = paged(game.agent_ships(agent), page, limit)
    return ok_page([ship_view(s, game) for s in items], page_meta)


@router.get("/{ship_symbol}")
async def get_my_ship(ship: ShipDep, game: GameDep) -> JSONResponse:
    """One of the agent's ships."""
    return ok(ship_view(ship, game))


@router.get("/{ship_symbol}/cargo")
async def get_my_ship_cargo(ship: ShipDep) -> JSONResponse:
    """A ship's cargo."""
    return ok(cargo_view(ship))


@router.get("/{ship_symbol}/nav")
async def get_ship_nav(ship: ShipDep, game: GameDep) -> JSONResponse:
    """A ship's navigation state."""
    return ok(nav_view(ship, game))


@router.patch("/{ship_symbol}/nav")
async def patch_ship_nav(ship: ShipDep, game: GameDep, body: FlightModeRequest) -> JSONResponse:
    """Change a ship's flight mode (in flight, only to a faster one)."""
    return ok(navigation.set_flight_mode(game, ship, body.flightMode))


@router.post("/{ship_symbol}/orbit")
async def orbit_ship(ship: ShipDep, game: GameDep) -> JSONResponse:
    """Move a ship from the dock into orbit."""
    return ok(navigation.orbit(game, ship))


@router.post("/{ship_symbol}/dock")
async def dock_ship(ship: ShipDep, game: GameDep) -> JSONResponse:
    """Dock a ship at its waypoint."""
    return ok(navigation.dock(game, ship))


@router.post("/{ship_symbol}/navigate")
async def navigate_ship(ship: ShipDep, game: GameDep, body: WaypointRequest) -> JSONResponse:
    """Fly a ship to a waypoint of its system."""
    return ok(navigation.navigate(game, ship, body.waypointSymbol.upper()))


@router.post("/{ship_symbol}/jump")
async def jump_ship(
    ship: ShipDep, agent: AgentDep, game: GameDep, body: WaypointRequest
) -> JSONResponse:
    """Jump a ship through a jump gate to another system."""
    return ok(navigation.jump(game, agent, ship, body.waypointSymbol.upper()))


@router.get("/{ship_symbol}/cooldown", response_model=None)
async def get_ship_cooldown(ship: ShipDep, game: GameDep) -> Response:
    """A ship's reactor cooldown, or 204 when there is none."""
    if game.cooldown_remaining(ship) <= 0:
        return Response(status_code=204)
    return ok(cooldown_view(ship, game))


@router.get("/{ship_symbol}/mounts")
async def get_mounts(ship: ShipDep) -> JSONResponse:
    """A ship's mounts."""
    return ok([mount_view(m) for m in ship.mounts])


@router.get("/{ship_symbol}/modules")
async def get_ship_modules(ship: ShipDep) -> JSONResponse:
    """A ship's modules."""
    return ok([module_view(m) for m in ship.modules])


@router.post("/{ship_symbol}/jettison")
async def jettison(ship: ShipDep, game: GameDep, body: CargoRequest) -> JSONResponse:
    """Throw cargo out of a ship's hold."""
    return ok(cargo.jettison(game, ship, body.symbol.upper(), body.units))


@router.post("/{ship_symbol}/transfer")
async def transfer_cargo(
    ship: ShipDep, agent: AgentDep, game: GameDep, body: TransferRequest
) -> JSONResponse:
    """Move cargo to another of the agent's ships at the same waypoint."""
    return ok(
        cargo.transfer(
            game, agent, ship, body.tradeSymbol.upper(), body.units, body.shipSymbol.upper()
        )
    )


@router.post("/{ship_symbol}/chart", status_code=201)
async def create_chart(ship: ShipDep, agent: AgentDep, game: GameDep) -> JSONResponse:
    """Chart the uncharted waypoint a ship is at."""
    return ok(exploration.chart(game, agent, ship), 201)


@router.post("/{ship_symbol}/scan/waypoints", status_code=201)
async def scan_waypoints(ship: ShipDep, game: GameDep) -> JSONResponse:
    """Scan the waypoints of a ship's system."""
    return ok(exploration.scan_waypoints(game, ship), 201)


@router.post("/{ship_symbol}/scan/systems", status_code=201)
async def scan_systems(ship: ShipDep, game: GameDep) -> JSONResponse:
    """Scan for systems within reach of a ship's sensors."""
    return ok(exploration.scan_systems(game, ship), 201)


@router.post("/{ship_symbol}/scan/ships", status_code=201)
async def scan_ships(ship: ShipDep, game: GameDep) -> JSONResponse:
    """Scan for other ships in a ship's system."""
    return ok(exploration.scan_ships(game, ship), 201)


@router.post("/{ship_symbol}/negotiate/contract", status_code=201)
async def negotiate_contract(ship: ShipDep, agent: AgentDep, game: GameDep) -> JSONResponse:
    """Negotiate a new contract with the faction of the waypoint where a ship is docked."""
    return ok(contracts.negotiate(game, agent, ship), 201)
