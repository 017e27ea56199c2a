"""Set-up routes for benchmarks and tests, outside the API (under `/admin`, not `/v2`: no rate
limit, no faults, not counted): `POST /admin/agents/{agent_symbol}/ships` gives an agent ships
of chosen types, spread over chosen waypoints, docked or in orbit, with cargo aboard, without
spending a request or a credit on each; `GET /admin/rate-limit` shows how each client address
spent the rate limit: its recent burst windows, when each opened and how many requests it was
allowed until the next one opened (a whole cycle of the limit, to measure a client by).

They answer only when `SimulatorConfig.admin_enabled` is set (`--admin-enabled`); otherwise
every one of them is refused with 403 and nothing changes. No token is asked for: a simulator
with them enabled is a test fixture, not a game.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from flotilla.settings import env_name
from simulator import catalog
from simulator.config import SimulatorSettings
from simulator.errors import ApiError, ErrorCode, not_found
from simulator.game import Game
from simulator.routes.deps import GameDep, ok

__all__ = [
    "ADMIN_PREFIX",
    "MAX_SEEDED_SHIPS",
    "SeedGroup",
    "SeedRequest",
    "rate_limit_windows",
    "router",
    "seed_ships",
]

ADMIN_PREFIX = "/admin"
# Ships one request may create (a benchmark fleet of 10,000 fits in one).
MAX_SEEDED_SHIPS = 50_000


class SeedGroup(BaseModel):
    """Ships of one type: how many, where (in turn over `waypoints`; the agent's headquarters
    when empty), docked or in orbit, and the cargo each starts with."""

    type: str = Field(min_length=1, description="a ship type, e.g. SHIP_MINING_DRONE")
    count: int = Field(ge=1, le=MAX_SEEDED_SHIPS)
    waypoints: list[str] = Field(default_factory=list)
    status: Literal["DOCKED", "IN_ORBIT"] = "DOCKED"
    cargo: dict[str, Annotated[int, Field(ge=1)]] = Field(default_factory=dict)


class SeedRequest(BaseModel):
    """The body of `POST /admin/agents/{agent_symbol}/ships`."""

    ships: list[SeedGroup] = Field(min_length=1)


def _enabled(game: GameDep) -> Game:
    if not game.config.admin_enabled:
        variable = env_name(SimulatorSettings, "config", "admin_enabled")
        raise ApiError(
            403,
            f"The admin routes are off; start the simulator with --admin-enabled ({variable}=true)"
            " to use them, in benchmarks and tests only.",
        )
    return game


EnabledGame = Annotated[Game, Depends(_enabled)]
router = APIRouter(prefix=ADMIN_PREFIX, include_in_schema=False)


def _invalid(path: list[str | int], message: str) -> ApiError:
    return ApiError(
        ErrorCode.UNPROCESSABLE_INPUT,
        "The request is invalid; see data.issues.",
        {"issues": [{"path": [str(p) for p in path], "message": message}]},
    )


def _check(game: Game, groups: list[SeedGroup]) -> None:
    """Refuse the whole request (nothing created) when any group cannot be made as asked."""
    if sum(group.count for group in groups) > MAX_SEEDED_SHIPS:
        raise _invalid(["ships"], f"at most {MAX_SEEDED_SHIPS} ships per request")
    for index, group in enumerate(groups):
        spec = catalog.SHIP_TYPES.get(group.type.upper())
        if spec is None:
            raise _invalid(["ships", index, "type"], f"unknown ship type {group.type}")
        for at, waypoint in enumerate(group.waypoints):
            if waypoint.upper() not in game.universe.waypoints:
                raise _invalid(["ships", index, "waypoints", at], f"unknown waypoint {waypoint}")
        for symbol in group.cargo:
            if symbol.upper() not in catalog.TRADE_GOODS:
                raise _invalid(["ships", index, "cargo", symbol], f"unknown good {symbol}")
        capacity = sum(
            catalog.MODULES[m].capacity or 0 for m in spec.modules if m.startswith("MODULE_CARGO")
        )
        units = sum(group.cargo.values())
        if units > capacity:
            raise _invalid(
                ["ships", index, "cargo"],
                f"{units} units do not fit in the {capacity}-unit hold of a {spec.type}",
            )


@router.post("/agents/{agent_symbol}/ships", status_code=201)
async def seed_ships(agent_symbol: str, body: SeedRequest, game: EnabledGame) -> JSONResponse:
    """Give the agent the ships the body lists; answers their symbols, per group."""
    agent = game.agents.get(agent_symbol.upper())
    if agent is None:
        raise not_found(f"Agent {agent_symbol}")
    _check(game, body.ships)
    created: list[list[str]] = []
    for group in body.ships:
        ships = game.seed_ships(
            agent,
            group.type.upper(),
            group.count,
            [w.upper() for w in group.waypoints] or [agent.headquarters],
            status=group.status,
            cargo={symbol.upper(): units for symbol, units in group.cargo.items()},
        )
        created.append([ship.symbol for ship in ships])
    return ok({"agentSymbol": agent.symbol, "ships": created}, 201)


@router.get("/rate-limit")
async def rate_limit_windows(request: Request, game: EnabledGame) -> JSONResponse:
    """Per client address, its recent burst windows, oldest first: `openedAt` on the
    simulator's monotonic clock (seconds; comparable only on the same machine) and `requests`
    allowed from then until the next window opened. Empty with the rate limit off."""
    limiter = request.app.limiter
    addresses: dict[str, list[dict[str, float | int]]] = {}
    for address in [] if limiter is None else limiter.addresses():
        addresses[address] = [
            {"openedAt": window.opened_at, "requests": window.requests}
            for window in limiter.burst_windows(address)
        ]
    return ok({"addresses": addresses})
