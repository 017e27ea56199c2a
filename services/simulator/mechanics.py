"""The game's formulas: distance, fuel, travel time, cooldowns, yields and market prices.

All durations here are game seconds; `Timeline` turns them into real time at the configured
time scale. Rounding is half-up (the game's JavaScript `Math.round`), never Python's
banker's rounding.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from flotilla.clock import Clock

__all__ = [
    "COOLDOWN_BASE_SECONDS",
    "COOLDOWN_SECONDS_PER_POWER",
    "EQUILIBRIUM",
    "FLIGHT_MODES",
    "FUEL_UNITS_PER_MARKET_UNIT",
    "MODE_SPEED_ORDER",
    "PRICE_SLOPE",
    "SPREAD",
    "SUPPLY_HALF_LIFE_SECONDS",
    "TRAVEL_BASE_SECONDS",
    "TRAVEL_MULTIPLIER",
    "YIELD_SPREAD_PER_LASER",
    "Timeline",
    "action_cooldown",
    "distance",
    "extraction_units",
    "fuel_cost",
    "fuel_market_units",
    "is_slower",
    "jump_cooldown",
    "mid_price",
    "purchase_price",
    "round_half_up",
    "sell_price",
    "supply_after_trade",
    "supply_level",
    "supply_recovered",
    "travel_seconds",
    "weighted_choice",
]

FLIGHT_MODES = ("DRIFT", "STEALTH", "CRUISE", "BURN")
# Seconds per distance unit at engine speed 1; the API's navigate multipliers since v2.1.
TRAVEL_MULTIPLIER = {"CRUISE": 25.0, "DRIFT": 250.0, "BURN": 12.5, "STEALTH": 30.0}
# Faster first: switching to a mode later in this list mid-flight slows the ship down.
MODE_SPEED_ORDER = ("BURN", "CRUISE", "STEALTH", "DRIFT")
TRAVEL_BASE_SECONDS = 15

COOLDOWN_BASE_SECONDS = 60
COOLDOWN_SECONDS_PER_POWER = 10
YIELD_SPREAD_PER_LASER = 5

# Market model: the supply index x moves by units / tradeVolume per trade; mid price is
# base * 2^(-PRICE_SLOPE * x); x drifts back to its market's equilibrium with a half-life.
PRICE_SLOPE = 0.09
SUPPLY_MIN, SUPPLY_MAX = -10.0, 10.0
SUPPLY_HALF_LIFE_SECONDS = 600.0
EQUILIBRIUM = {"EXPORT": 2.5, "IMPORT": -2.5, "EXCHANGE": 0.0}
SPREAD = {"EXPORT": 0.05, "IMPORT": 0.05, "EXCHANGE": 0.03}
FUEL_UNITS_PER_MARKET_UNIT = 100


def round_half_up(value: float) -> int:
    """Round like JavaScript's Math.round: halves go up."""
    return math.floor(value + 0.5)


def distance(ax: float, ay: float, bx: float, by: float) -> float:
    """Euclidean distance between two points of one coordinate space."""
    return math.hypot(bx - ax, by - ay)


def fuel_cost(flight_mode: str, dist: float) -> int:
    """Fuel a flight of `dist` uses in `flight_mode`: CRUISE and STEALTH one per unit, BURN
    double (at least 2), DRIFT 1; nothing at all between a body and its orbitals (d = 0)."""
    units = round_half_up(dist)
    if units == 0:
        return 0
    if flight_mode == "BURN":
        return max(2, 2 * units)
    if flight_mode == "DRIFT":
        return 1
    return units


def travel_seconds(flight_mode: str, dist: float, engine_speed: int) -> int:
    """Game seconds of a flight: round(round(max(1, d)) * multiplier / speed + 15)."""
    multiplier = TRAVEL_MULTIPLIER[flight_mode]
    return round_half_up(round_half_up(max(1.0, dist)) * multiplier / max(1, engine_speed) + 15)


def is_slower(new_mode: str, old_mode: str) -> bool:
    """Whether switching from `old_mode` to `new_mode` slows a ship down."""
    return MODE_SPEED_ORDER.index(new_mode) > MODE_SPEED_ORDER.index(old_mode)


def action_cooldown(power_requirements: Iterable[int]) -> int:
    """Game seconds of an extraction, siphon, survey or scan cooldown: 60 + 10 × Σ power of the
    mounts used."""
    return COOLDOWN_BASE_SECONDS + COOLDOWN_SECONDS_PER_POWER * sum(power_requirements)


def jump_cooldown(system_distance: float) -> int:
    """Game seconds of the reactor cooldown after a jump: 60 + round(distance between systems)."""
    return COOLDOWN_BASE_SECONDS + round_half_up(system_distance)


def extraction_units(rng: random.Random, strengths: Iterable[int]) -> int:
    """Units one extraction yields before the cargo cap: each laser gives its strength ± 5."""
    total = 0
    for strength in strengths:
        total += strength + rng.randint(-YIELD_SPREAD_PER_LASER, YIELD_SPREAD_PER_LASER)
    return max(0, total)


def weighted_choice(rng: random.Random, weights: Mapping[str, int]) -> str:
    """One key of `weights`, drawn with probability proportional to its weight."""
    symbols = sorted(weights)
    return rng.choices(symbols, weights=[weights[s] for s in symbols])[0]


# --- markets ----------------------------------------------------------------------------------


def mid_price(base_price: int, supply_index: float) -> float:
    """The price at the middle of the spread for a supply index (more supply, cheaper)."""
    return float(base_price * 2.0 ** (-PRICE_SLOPE * supply_index))


def purchase_price(base_price: int, trade_type: str, supply_index: float) -> int:
    """What a ship pays per unit when it buys."""
    return max(1, math.ceil(mid_price(base_price, supply_index) * (1 + SPREAD[trade_type])))


def sell_price(base_price: int, trade_type: str, supply_index: float) -> int:
    """What a ship receives per unit when it sells."""
    return max(1, math.floor(mid_price(base_price, supply_index) * (1 - SPREAD[trade_type])))


def supply_after_trade(supply_index: float, units: int, trade_volume: int, bought: bool) -> float:
    """The supply index after a trade: buying takes supply away, selling adds it."""
    step = units / max(1, trade_volume)
    moved = supply_index - step if bought else supply_index + step
    return min(SUPPLY_MAX, max(SUPPLY_MIN, moved))


def supply_recovered(supply_index: float, equilibrium: float, game_seconds: float) -> float:
    """The supply index after `game_seconds` of production and consumption without trades."""
    if game_seconds <= 0:
        return supply_index
    keep = 0.5 ** (game_seconds / SUPPLY_HALF_LIFE_SECONDS)
    return float(equilibrium + (supply_index - equilibrium) * keep)


def supply_level(supply_index: float) -> str:
    """The SupplyLevel name for a supply index."""
    if supply_index <= -4:
        return "SCARCE"
    if supply_index <= -2:
        return "LIMITED"
    if supply_index <= 2:
        return "MODERATE"
    if supply_index <= 4:
        return "HIGH"
    return "ABUNDANT"


def fuel_market_units(tank_units: int) -> int:
    """Market units of FUEL billed for `tank_units` of fuel (1 market unit = 100 tank units)."""
    return math.ceil(tank_units / FUEL_UNITS_PER_MARKET_UNIT)


# --- time -------------------------------------------------------------------------------------


class Timeline:
    """Game time at a time scale: game durations become real durations divided by the scale,
    while every timestamp stays real UTC from the injected clock."""

    def __init__(self, clock: Clock, time_scale: float) -> None:
        self.clock = clock
        self.time_scale = time_scale

    def now(self) -> datetime:
        """The current real time, from the injected clock."""
        return self.clock.now()

    def after(self, game_seconds: float, start: datetime | None = None) -> datetime:
        """The real moment `game_seconds` of game time after `start` (default: now)."""
        return (start or self.now()) + timedelta(seconds=game_seconds / self.time_scale)

    def game_seconds_between(self, earlier: datetime, later: datetime) -> float:
        """Game seconds that pass between two real moments."""
        return (later - earlier).total_seconds() * self.time_scale

    def real_seconds_until(self, moment: datetime) -> float:
        """Real seconds from now until `moment` (0 once it has passed)."""
        return max(0.0, (moment - self.now()).total_seconds())
