"""Taking resources: extraction with mining lasers (optionally guided by a survey), siphoning
gas giants, and surveying asteroids for richer deposits. An UNSTABLE site (see
`Game.site_modifiers`) yields half as much."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from simulator import catalog, mechanics
from simulator.actions.rules import require_no_cooldown, require_orbit
from simulator.errors import ApiError, ErrorCode
from simulator.game import Game
from simulator.state import Ship, Survey
from simulator.universe import Waypoint
from simulator.views import Json, cargo_view, cooldown_view, iso, survey_view

__all__ = [
    "SURVEY_LIFETIME_GAME_SECONDS",
    "SURVEY_SIZES",
    "SURVEY_SIZE_WEIGHTS",
    "extract",
    "siphon",
    "survey",
]

SURVEY_SIZES = {"SMALL": 10, "MODERATE": 25, "LARGE": 50}  # extractions a survey allows
SURVEY_SIZE_WEIGHTS = {"SMALL": 6, "MODERATE": 3, "LARGE": 1}
SURVEY_LIFETIME_GAME_SECONDS = (900, 3600)


def _require_gear(ship: Ship, mounts: frozenset[str], code: ErrorCode, what: str) -> list[Any]:
    found = ship.mounts_among(mounts)
    if not found:
        raise ApiError(code, f"Ship {ship.symbol} has no {what}.", {"shipSymbol": ship.symbol})
    return found


def _require_room(ship: Ship) -> None:
    if ship.cargo_free <= 0:
        raise ApiError(
            ErrorCode.CARGO_FULL,
            f"Ship {ship.symbol} has no room left in its hold.",
            {"shipSymbol": ship.symbol, "cargoCapacity": ship.cargo_capacity},
        )


def _take(
    game: Game, ship: Ship, waypoint: Waypoint, weights: dict[str, int], strengths: list[int]
) -> tuple[str, int, list[str]]:
    symbol = mechanics.weighted_choice(game.rng, weights)
    units = mechanics.extraction_units(game.rng, strengths)
    modifiers = game.site_modifiers(waypoint)
    if "UNSTABLE" in modifiers:
        units //= 2
    units = min(units, ship.cargo_free)
    ship.add_cargo(symbol, units)
    game.extraction_log(waypoint.symbol).times.append(game.time.now())
    return symbol, units, modifiers


def extract(game: Game, ship: Ship, survey: Json | None = None) -> Json:
    """Mine the asteroid the ship orbits; with a survey, only that survey's deposits."""
    require_orbit(game, ship)
    require_no_cooldown(game, ship)
    waypoint = game.waypoint(ship.nav.waypoint_symbol)
    if waypoint.type not in catalog.MINEABLE_TYPES:
        raise ApiError(
            ErrorCode.EXTRACT_INVALID_WAYPOINT,
            f"Waypoint {waypoint.symbol} is a {waypoint.type}; only asteroids can be mined.",
            {"waypointSymbol": waypoint.symbol},
        )
    lasers = _require_gear(
        ship, catalog.MINING_LASERS, ErrorCode.MISSING_MINING_LASERS, "mining lasers"
    )
    weights = dict(waypoint.deposits)
    used_survey: Survey | None = None
    if survey is not None:
        used_survey = _valid_survey(game, ship, survey)
        weights = {}
        for deposit in used_survey.deposits:
            weights[deposit] = weights.get(deposit, 0) + 1
    _require_room(ship)
    if not weights:
        raise ApiError(
            ErrorCode.EXTRACT_INVALID_WAYPOINT,
            f"Waypoint {waypoint.symbol} has nothing left to extract.",
            {"waypointSymbol": waypoint.symbol},
        )
    symbol, units, modifiers = _take(
        game, ship, waypoint, weights, [m.strength or 0 for m in lasers]
    )
    if used_survey is not None:
        used_survey.extractions_left -= 1
    game.start_cooldown(ship, mechanics.action_cooldown(m.power for m in lasers))
    data: Json = {
        "extraction": {"shipSymbol": ship.symbol, "yield": {"symbol": symbol, "units": units}},
        "cooldown": cooldown_view(ship, game),
        "cargo": cargo_view(ship),
    }
    if modifiers:
        data["modifiers"] = [catalog.MODIFIERS[m].view() for m in modifiers]
    data["events"] = []
    return data


def _valid_survey(game: Game, ship: Ship, offered: Json) -> Survey:
    signature = str(offered.get("signature", ""))
    survey = game.surveys.get(signature)
    if survey is None or survey_view(survey) != {
        key: offered.get(key) for key in ("signature", "symbol", "deposits", "expiration", "size")
    }:
        raise ApiError(
            ErrorCode.SURVEY_VERIFICATION,
            "The survey could not be verified; send it exactly as the server returned it.",
            {"signature": signature},
        )
    if game.time.now() > survey.expiration:
        raise ApiError(
            ErrorCode.SURVEY_EXPIRATION,
            f"Survey {signature} expired at {iso(survey.expiration)}.",
            {"signature": signature, "expiration": iso(survey.expiration)},
        )
    if survey.waypoint != ship.nav.waypoint_symbol:
        raise ApiError(
            ErrorCode.EXTRACT_INVALID_SURVEY_LOCATION,
            f"Survey {signature} is for {survey.waypoint}, not {ship.nav.waypoint_symbol}.",
            {
                "signature": signature,
                "surveyWaypoint": survey.waypoint,
                "waypointSymbol": ship.nav.waypoint_symbol,
            },
        )
    if survey.extractions_left <= 0:
        raise ApiError(
            ErrorCode.SURVEY_EXHAUSTED,
            f"Survey {signature} has been exhausted.",
            {"signature": signature},
        )
    return survey


def siphon(game: Game, ship: Ship) -> Json:
    """Draw gas from the gas giant the ship orbits."""
    require_orbit(game, ship)
    require_no_cooldown(game, ship)
    waypoint = game.waypoint(ship.nav.waypoint_symbol)
    if waypoint.type not in catalog.SIPHONABLE_TYPES:
        raise ApiError(
            ErrorCode.SIPHON_INVALID_WAYPOINT,
            f"Waypoint {waypoint.symbol} is a {waypoint.type}; only gas giants can be siphoned.",
            {"waypointSymbol": waypoint.symbol},
        )
    siphons = _require_gear(ship, catalog.GAS_SIPHONS, ErrorCode.MISSING_GAS_SIPHONS, "gas siphons")
    _require_room(ship)
    symbol, units, _ = _take(
        game, ship, waypoint, dict(waypoint.deposits), [m.strength or 0 for m in siphons]
    )
    game.start_cooldown(ship, mechanics.action_cooldown(m.power for m in siphons))
    return {
        "siphon": {"shipSymbol": ship.symbol, "yield": {"symbol": symbol, "units": units}},
        "cooldown": cooldown_view(ship, game),
        "cargo": cargo_view(ship),
        "events": [],
    }


def survey(game: Game, ship: Ship) -> Json:
    """Survey the asteroid the ship orbits: one survey per point of surveyor strength."""
    require_orbit(game, ship)
    require_no_cooldown(game, ship)
    surveyors = _require_gear(ship, catalog.SURVEYORS, ErrorCode.MISSING_SURVEYOR, "surveyor")
    waypoint = game.waypoint(ship.nav.waypoint_symbol)
    if waypoint.type not in catalog.MINEABLE_TYPES:
        raise ApiError(
            ErrorCode.SURVEY_WAYPOINT_TYPE,
            f"Waypoint {waypoint.symbol} is a {waypoint.type}; only asteroids can be surveyed.",
            {"waypointSymbol": waypoint.symbol},
        )
    detectable = {d for m in surveyors for d in m.deposits}
    weights = {s: w for s, w in waypoint.deposits.items() if s in detectable}
    surveys = []
    now = game.time.now()
    for _ in range(sum(m.strength or 0 for m in surveyors)):
        if not weights:
            break
        deposits = [
            mechanics.weighted_choice(game.rng, weights) for _ in range(game.rng.randint(3, 7))
        ]
        size = mechanics.weighted_choice(game.rng, SURVEY_SIZE_WEIGHTS)
        lifetime = game.rng.randint(*SURVEY_LIFETIME_GAME_SECONDS)
        found = Survey(
            signature=game.new_survey_signature(waypoint.symbol),
            waypoint=waypoint.symbol,
            deposits=deposits,
            expiration=_truncated(game.time.after(lifetime, now)),
            size=size,
            extractions_left=SURVEY_SIZES[size],
        )
        game.surveys[found.signature] = found
        surveys.append(survey_view(found))
    game.start_cooldown(ship, mechanics.action_cooldown(m.power for m in surveyors))
    return {"cooldown": cooldown_view(ship, game), "surveys": surveys}


def _truncated(moment: datetime) -> datetime:
    """Millisecond precision, so the survey a client sends back compares equal."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
