"""Server status, registration, agents and factions."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from simulator import catalog
from simulator.errors import ApiError, ErrorCode, not_found
from simulator.game import API_VERSION
from simulator.routes.deps import AgentDep, GameDep, LimitQuery, PageQuery, ok, ok_page, paged
from simulator.views import agent_view, contract_view, faction_view, iso, ship_view

__all__ = [
    "RegisterRequest",
    "get_agent",
    "get_agents",
    "get_faction",
    "get_factions",
    "get_my_agent",
    "get_status",
    "register",
    "router",
]

router = APIRouter()


class RegisterRequest(BaseModel):
    """The body of `POST /register`."""

    symbol: str = Field(min_length=3, max_length=14)
    faction: str
    email: str | None = None


@router.get("", include_in_schema=False)
@router.get("/")
async def get_status(game: GameDep) -> JSONResponse:
    """The server's status: version, reset date, counts and leaderboards."""
    agents = sorted(game.agents.values(), key=lambda a: -a.credits)[:10]
    charts: dict[str, int] = {}
    for waypoint in game.universe.waypoints.values():
        if waypoint.charted_on is not None and waypoint.charted_by:
            charts[waypoint.charted_by] = charts.get(waypoint.charted_by, 0) + 1
    return JSONResponse(
        {
            "status": "SpaceTraders simulator is running.",
            "version": API_VERSION,
            "resetDate": game.reset_date,
            "description": "A local SpaceTraders universe simulated by Flotilla.",
            "stats": {
                "accounts": len(game.agents),
                "agents": len(game.agents),
                "ships": len(game.ships),
                "systems": len(game.universe.systems),
                "waypoints": len(game.universe.waypoints),
            },
            "leaderboards": {
                "mostCredits": [{"agentSymbol": a.symbol, "credits": a.credits} for a in agents],
                "mostSubmittedCharts": [
                    {"agentSymbol": symbol, "chartCount": count}
                    for symbol, count in sorted(charts.items(), key=lambda kv: -kv[1])[:10]
                ],
            },
            "serverResets": {"next": iso(game.reset_at()), "frequency": "weekly"},
            "announcements": [],
            "links": [],
        }
    )


@router.post("/register", status_code=201)
async def register(body: RegisterRequest, game: GameDep) -> JSONResponse:
    """Register a new agent: its token, its starting ships and a first contract."""
    faction = body.faction.upper()
    if faction not in catalog.ALL_FACTION_SYMBOLS:
        raise ApiError(
            ErrorCode.UNPROCESSABLE_INPUT,
            "The request is invalid; see data.issues.",
            {"issues": [{"path": ["faction"], "message": f"Unknown faction {body.faction}"}]},
        )
    agent = game.register(body.symbol, faction)
    ships = [s for s in game.ships.values() if s.agent_symbol == agent.symbol]
    contract = game.agent_contracts(agent)[0]
    return ok(
        {
            "token": agent.token,
            "agent": agent_view(agent, game),
            "faction": faction_view(faction, game),
            "contract": contract_view(contract),
            "ships": [ship_view(s, game) for s in ships],
        },
        201,
    )


@router.get("/my/agent")
async def get_my_agent(agent: AgentDep, game: GameDep) -> JSONResponse:
    """The calling agent, with its account id and credits."""
    return ok(agent_view(agent, game))


@router.get("/agents")
async def get_agents(game: GameDep, page: PageQuery = 1, limit: LimitQuery = 10) -> JSONResponse:
    """Every agent, public details only, paged."""
    items, page_meta = paged(list(game.agents.values()), page, limit)
    return ok_page([agent_view(a, game, private=False) for a in items], page_meta)


@router.get("/agents/{agent_symbol}")
async def get_agent(agent_symbol: str, game: GameDep) -> JSONResponse:
    """One agent's public details."""
    agent = game.agents.get(agent_symbol.upper())
    if agent is None:
        raise not_found(f"Agent {agent_symbol}")
    return ok(agent_view(agent, game, private=False))


@router.get("/factions")
async def get_factions(game: GameDep, page: PageQuery = 1, limit: LimitQuery = 10) -> JSONResponse:
    """The factions with a home in this universe, paged."""
    homes = [f for f in catalog.FACTIONS if f in game.universe.headquarters]
    items, page_meta = paged(homes, page, limit)
    return ok_page([faction_view(f, game) for f in items], page_meta)


@router.get("/factions/{faction_symbol}")
async def get_faction(faction_symbol: str, game: GameDep) -> JSONResponse:
    """One faction."""
    symbol = faction_symbol.upper()
    if symbol not in game.universe.headquarters:
        raise not_found(f"Faction {faction_symbol}")
    return ok(faction_view(symbol, game))
