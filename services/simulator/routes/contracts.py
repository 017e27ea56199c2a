"""The agent's contracts."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from simulator.actions import contracts
from simulator.routes.deps import AgentDep, GameDep, LimitQuery, PageQuery, ok, ok_page, paged
from simulator.views import contract_view

__all__ = [
    "DeliverRequest",
    "accept_contract",
    "deliver_contract",
    "fulfill_contract",
    "get_contract",
    "get_contracts",
    "router",
]

router = APIRouter(prefix="/my/contracts")


class DeliverRequest(BaseModel):
    """The body of a contract delivery."""

    shipSymbol: str = Field(min_length=1)
    tradeSymbol: str = Field(min_length=1)
    units: int


@router.get("")
async def get_contracts(
    agent: AgentDep, game: GameDep, page: PageQuery = 1, limit: LimitQuery = 10
) -> JSONResponse:
    """The agent's contracts, paged."""
    items, page_meta = paged(game.agent_contracts(agent), page, limit)
    return ok_page([contract_view(c) for c in items], page_meta)


@router.get("/{contract_id}")
async def get_contract(contract_id: str, agent: AgentDep, game: GameDep) -> JSONResponse:
    """One of the agent's contracts."""
    return ok(contract_view(game.contract(agent, contract_id)))


@router.post("/{contract_id}/accept")
async def accept_contract(contract_id: str, agent: AgentDep, game: GameDep) -> JSONResponse:
    """Accept a contract and receive its advance."""
    return ok(contracts.accept(game, agent, game.contract(agent, contract_id)))


@router.post("/{contract_id}/deliver")
async def deliver_contract(
    contract_id: str, agent: AgentDep, game: GameDep, body: DeliverRequest
) -> JSONResponse:
    """Deliver cargo from a ship towards a contract."""
    contract = game.contract(agent, contract_id)
    ship = game.ship(agent, body.shipSymbol)
    return ok(contracts.deliver(game, agent, contract, ship, body.tradeSymbol.upper(), body.units))


@router.post("/{contract_id}/fulfill")
async def fulfill_contract(contract_id: str, agent: AgentDep, game: GameDep) -> JSONResponse:
    """Fulfil a contract whose deliveries are complete."""
    return ok(contracts.fulfill(game, agent, game.contract(agent, contract_id)))
