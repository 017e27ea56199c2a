"""Extraction, siphoning and surveys."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from simulator.actions import mining
from simulator.routes.deps import GameDep, ShipDep, ok

router = APIRouter(prefix="/my/ships")


class ExtractRequest(BaseModel):
    survey: dict[str, Any] | None = None


@router.post("/{ship_symbol}/extract", status_code=201)
async def extract_resources(
    ship: ShipDep, game: GameDep, body: ExtractRequest | None = None
) -> JSONResponse:
    survey = body.survey if body is not None else None
    return ok(mining.extract(game, ship, survey), 201)


@router.post("/{ship_symbol}/extract/survey", status_code=201)
async def extract_resources_with_survey(
    ship: ShipDep, game: GameDep, body: dict[str, Any]
) -> JSONResponse:
    return ok(mining.extract(game, ship, body), 201)


@router.post("/{ship_symbol}/siphon", status_code=201)
async def siphon_resources(ship: ShipDep, game: GameDep) -> JSONResponse:
    return ok(mining.siphon(game, ship), 201)


@router.post("/{ship_symbol}/survey", status_code=201)
async def create_survey(ship: ShipDep, game: GameDep) -> JSONResponse:
    return ok(mining.survey(game, ship), 201)
