"""Extraction, siphoning and surveys."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from simulator.actions import mining
from simulator.routes.deps import GameDep, ShipDep, ok

__all__ = [
    "ExtractRequest",
    "create_survey",
    "extract_resources",
    "extract_resources_with_survey",
    "router",
    "siphon_resources",
]

router = APIRouter(prefix="/my/ships")


class ExtractRequest(BaseModel):
    """The optional body of an extraction: a survey to target its deposits."""

    survey: dict[str, Any] | None = None


@router.post("/{ship_symbol}/extract", status_code=201)
async def extract_resources(
    ship: ShipDep, game: GameDep, body: ExtractRequest | None = None
) -> JSONResponse:
    """Extract resources at the ship's waypoint, from a survey's deposits when one is given."""
    survey = body.survey if body is not None else None
    return ok(mining.extract(game, ship, survey), 201)


@router.post("/{ship_symbol}/extract/survey", status_code=201)
async def extract_resources_with_survey(
    ship: ShipDep, game: GameDep, body: dict[str, Any]
) -> JSONResponse:
    """Extract resources using the survey sent as the body."""
    return ok(mining.extract(game, ship, body), 201)


@router.post("/{ship_symbol}/siphon", status_code=201)
async def siphon_resources(ship: ShipDep, game: GameDep) -> JSONResponse:
    """Siphon gas at the ship's waypoint (a gas giant)."""
    return ok(mining.siphon(game, ship), 201)


@router.post("/{ship_symbol}/survey", status_code=201)
async def create_survey(ship: ShipDep, game: GameDep) -> JSONResponse:
    """Survey the ship's waypoint for deposits to target."""
    return ok(mining.survey(game, ship), 201)
