"""What route handlers share: the game, the calling agent, paging and the response envelope."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request
from fastapi.responses import JSONResponse

from simulator.game import Game
from simulator.state import Agent, Ship
from simulator.views import meta

__all__ = [
    "AgentDep",
    "GameDep",
    "LimitQuery",
    "MaybeAgentDep",
    "PageQuery",
    "ShipDep",
    "current_agent",
    "get_game",
    "ok",
    "ok_page",
    "optional_agent",
    "own_ship",
    "paged",
]

_T = TypeVar("_T")


def get_game(request: Request) -> Game:
    """The game of the app serving the request."""
    game: Game = request.app.state.game
    return game


GameDep = Annotated[Game, Depends(get_game)]


def current_agent(request: Request, game: GameDep) -> Agent:
    """The agent whose token the request carries; 401 without a valid one."""
    return game.agent_for_authorization(request.headers.get("authorization"))


def optional_agent(request: Request, game: GameDep) -> Agent | None:
    """The calling agent on public routes, where a token is optional (but must be valid)."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    return game.agent_for_authorization(header)


AgentDep = Annotated[Agent, Depends(current_agent)]
MaybeAgentDep = Annotated[Agent | None, Depends(optional_agent)]
PageQuery = Annotated[int, Query(ge=1, description="Page number, from 1.")]
LimitQuery = Annotated[int, Query(ge=1, le=20, description="Items per page, 1 to 20.")]


def own_ship(ship_symbol: str, agent: AgentDep, game: GameDep) -> Ship:
    """The calling agent's ship named in the path; 404 for anyone else's."""
    return game.ship(agent, ship_symbol)


ShipDep = Annotated[Ship, Depends(own_ship)]


def ok(data: Any, status_code: int = 200) -> JSONResponse:
    """A response in the API's `{"data": ...}` envelope."""
    return JSONResponse({"data": data}, status_code=status_code)


def paged(items: Sequence[_T], page: int, limit: int) -> tuple[Sequence[_T], dict[str, int]]:
    """One page of `items` and the `meta` that describes it."""
    start = (page - 1) * limit
    return items[start : start + limit], meta(len(items), page, limit)


def ok_page(data: list[Any], page_meta: dict[str, int]) -> JSONResponse:
    """A paged response: `{"data": [...], "meta": {total, page, limit}}`."""
    return JSONResponse({"data": data, "meta": page_meta})
