"""The game's formulas: fuel, travel time, cooldowns, yields and prices, with injected time."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from flotilla.clock import ManualClock
from simulator import mechanics
from simulator.mechanics import Timeline


def test_rounding_sends_halves_up_like_the_game() -> None:
    assert [mechanics.round_half_up(v) for v in (0.5, 1.5, 2.5, 2.49)] == [1, 2, 3, 2]


@pytest.mark.parametrize(
    ("mode", "dist", "fuel"),
    [
        ("CRUISE", 10.4, 10),
        ("STEALTH", 10.5, 11),
        ("BURN", 10.0, 20),
        ("BURN", 0.6, 2),
        ("DRIFT", 250.0, 1),
        ("CRUISE", 0.0, 0),
        ("BURN", 0.0, 0),
    ],
)
def test_fuel_per_flight_mode(mode: str, dist: float, fuel: int) -> None:
    assert mechanics.fuel_cost(mode, dist) == fuel


def test_travel_time_per_flight_mode() -> None:
    # round(round(max(1, d)) * multiplier / speed + 15)
    assert mechanics.travel_seconds("CRUISE", 100, 30) == 98  # 100*25/30 + 15 = 98.3
    assert mechanics.travel_seconds("BURN", 100, 30) == 57  # 41.7 + 15 = 56.7
    assert mechanics.travel_seconds("DRIFT", 100, 30) == 848  # 833.3 + 15
    assert mechanics.travel_seconds("STEALTH", 100, 30) == 115
    assert mechanics.travel_seconds("CRUISE", 0, 3) == 23  # an orbital hop still takes time


def test_slower_modes_are_ordered_burn_cruise_stealth_drift() -> None:
    assert mechanics.is_slower("DRIFT", "CRUISE")
    assert not mechanics.is_slower("BURN", "CRUISE")


def test_cooldowns_are_sixty_plus_ten_per_power_and_jumps_grow_with_distance() -> None:
    assert mechanics.action_cooldown([1]) == 70  # a mining drone's laser I
    assert mechanics.action_cooldown([2, 1]) == 90
    assert mechanics.action_cooldown([]) == 60
    assert mechanics.jump_cooldown(1234.4) == 1294


def test_yield_is_laser_strength_plus_or_minus_five_each() -> None:
    rng = random.Random(3)
    yields = [mechanics.extraction_units(rng, [25, 10]) for _ in range(500)]
    assert min(yields) >= 25 and max(yields) <= 45
    assert len(set(yields)) > 10


def test_buying_raises_prices_and_selling_lowers_them_in_steps_of_trade_volume() -> None:
    supply = 0.0
    prices = []
    for _ in range(10):
        prices.append(mechanics.purchase_price(500, "EXCHANGE", supply))
        supply = mechanics.supply_after_trade(supply, 10, 10, bought=True)
    # Like ten buys of one trade volume each on the live server: each dearer, ~1.7x in all.
    assert prices == sorted(prices) and 1.5 < prices[-1] / prices[0] < 2
    assert mechanics.sell_price(500, "EXCHANGE", 0) < mechanics.purchase_price(500, "EXCHANGE", 0)
    supply = mechanics.supply_after_trade(0.0, 50, 10, bought=False)
    assert supply == 5.0
    assert mechanics.sell_price(500, "IMPORT", supply) < mechanics.sell_price(500, "IMPORT", 0)


def test_supply_recovers_towards_equilibrium_with_a_half_life() -> None:
    half_life = mechanics.SUPPLY_HALF_LIFE_SECONDS
    assert mechanics.supply_recovered(-4.0, 2.0, half_life) == pytest.approx(-1.0)
    assert mechanics.supply_recovered(-4.0, 2.0, 0) == -4.0
    assert mechanics.supply_recovered(-4.0, 2.0, 100 * half_life) == pytest.approx(2.0)


def test_supply_levels_follow_the_index() -> None:
    levels = [mechanics.supply_level(x) for x in (-5, -3, 0, 3, 5)]
    assert levels == ["SCARCE", "LIMITED", "MODERATE", "HIGH", "ABUNDANT"]


def test_fuel_is_billed_in_whole_market_units_of_one_hundred() -> None:
    assert [mechanics.fuel_market_units(u) for u in (0, 1, 100, 101, 400)] == [0, 1, 1, 2, 4]


def test_timeline_divides_game_time_by_the_scale_and_keeps_real_utc() -> None:
    clock = ManualClock(datetime(2025, 3, 1, tzinfo=UTC))
    timeline = Timeline(clock, time_scale=60)
    assert timeline.after(3600) == datetime(2025, 3, 1, 0, 1, tzinfo=UTC)  # an hour in a minute
    clock.advance(30)
    assert timeline.real_seconds_until(datetime(2025, 3, 1, 0, 1, tzinfo=UTC)) == 30
    assert timeline.game_seconds_between(
        datetime(2025, 3, 1, tzinfo=UTC), clock.now()
    ) == pytest.approx(1800)


def test_manual_clock_only_moves_forward() -> None:
    clock = ManualClock()
    clock.advance(1.5)
    assert clock.monotonic() == 1.5
    with pytest.raises(ValueError):
        clock.advance(-1)
