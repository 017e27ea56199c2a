"""Markets and shipyards from a ship: sell, purchase, refuel, buy ships, fit mounts."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from simulator.actions import trading
from simulator.routes.deps import AgentDep, GameDep, ShipDep, ok

__all__ = [
    "MountRequest",
    "PurchaseShipRequest",
    "RefuelRequest",
    "TradeRequest",
    "install_mount",
    "purchase_cargo",
    "purchase_ship",
    "refuel_ship",
    "remove_mount",
    "router",
    "sell_cargo",
]

router = APIRouter(prefix="/my/ships")


class TradeRequest(BaseModel):
    """The body of a sale or purchase: which good and how many units."""

    symbol: str = Field(min_length=1)
    units: int


class RefuelRequest(BaseModel):
    """The body of a refuel: how many tank units (a full tank by default), optionally from the
    cargo."""

    units: int | None = Field(default=None, ge=1)
    fromCargo: bool = False


class MountRequest(BaseModel):
    """A body naming a mount to install or remove."""

    symbol: str = Field(min_length=1)


class PurchaseShipRequest(BaseModel):
    """The body of a ship purchase: the type and the shipyard."""

    shipType: str = Field(min_length=1)
    waypointSymbol: str = Field(min_length=1)


@router.post("", status_code=201)
async def purchase_ship(agent: AgentDep, game: GameDep, body: PurchaseShipRequest) -> JSONResponse:
    """Buy a ship at a shipyard where one of the agent's ships is."""
    data = trading.buy_ship(game, agent, body.shipType.upper(), body.waypointSymbol.upper())
    return ok(data, 201)


@router.post("/{ship_symbol}/sell", status_code=201)
async def sell_cargo(
    ship: ShipDep, agent: AgentDep, game: GameDep, body: TradeRequest
) -> JSONResponse:
    """Sell cargo to the market at a ship's waypoint."""
    return ok(trading.sell(game, agent, ship, body.symbol.upper(), body.units), 201)


@router.post("/{ship_symbol}/purchase", status_code=201)
async def purchase_cargo(
    ship: ShipDep, agent: AgentDep, game: GameDep, body: TradeRequest
) -> JSONResponse:
    """Buy cargo from the market at a ship's waypoint."""
    return ok(trading.purchase(game, agent, ship, body.symbol.upper(), body.units), 201)


@router.post("/{ship_symbol}/refuel")
async def refuel_ship(
    ship: ShipDep, agent: AgentDep, game: GameDep, body: RefuelRequest | None = None
) -> JSONResponse:
    """Refuel a ship at its waypoint's market (or from FUEL in its cargo)."""
    request = body or RefuelRequest()
    return ok(trading.refuel(game, agent, ship, request.units, request.fromCargo))


@router.post("/{ship_symbol}/mounts/install", status_code=201)
async def install_mount(
    ship: ShipDep, agent: AgentDep, game: GameDep, body: MountRequest
) -> JSONResponse:
    """Install a mount from a ship's cargo at a shipyard."""
    return ok(trading.install_mount(game, agent, ship, body.symbol.upper()), 201)


@router.post("/{ship_symbol}/mounts/remove", status_code=201)
async def remove_mount(
    ship: ShipDep, agent: AgentDep, game: GameDep, body: MountRequest
) -> JSONResponse:
    """Remove a mount from a ship at a shipyard, into its cargo."""
    return ok(trading.remove_mount(game, agent, ship, body.symbol.upper()), 201)
