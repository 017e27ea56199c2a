"""Each behaviour as a state machine on its own, on the injected clock (`ManualClock`: a
ten-minute trip takes no time), against the FAKE SpaceTraders API of `conftest.FakeGame` (not
the gateway nor the simulator: these are unit tests of the behaviours' decisions). Every test
counts the calls the behaviour made, which is what its choices cost."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dispatcher.behaviours import make_behaviour
from dispatcher.behaviours.mine import Mine, expected_yield, wastes_too_much
from dispatcher.behaviours.trade import best_route
from dispatcher.behaviours.upgrade import mount_changes
from dispatcher.worldview import SURVEY_SLOTS
from flotilla import names
from flotilla.client import NotDocked, ShipInTransit, models
from flotilla.v1 import events_pb2

ASTEROID = "X1-T1-AST"
MARKET = "X1-T1-MKT"
FAR = "X1-T1-FAR"
SHIPYARD = "X1-T1-YRD"
GATE = "X1-T1-GATE"


# --- mine -----------------------------------------------------------------------------------


def test_the_waste_rule_skips_an_extraction_that_would_waste_more_than_half() -> None:
    assert not wastes_too_much(free=5, expected=10)  # wastes exactly half: extract
    assert wastes_too_much(free=4, expected=10)  # wastes 6 of 10: skip
    assert not wastes_too_much(free=40, expected=10)
    assert expected_yield(("MOUNT_MINING_LASER_I", "MOUNT_MINING_LASER_II"), []) == 35
    assert expected_yield(("MOUNT_MINING_LASER_I",), [8, 12]) == 10


async def test_a_miner_extracts_until_the_waste_rule_stops_it_then_sells_and_returns(
    bench: Any, make_assignment: Any
) -> None:
    game = bench.game
    # 44 units of hold, 10 per extraction: after four (40 units) a fifth would waste 6 of 10.
    game.add_ship("M-1", waypoint=ASTEROID, cargo_capacity=44)
    bench.know_everything()
    ship = bench.control("M-1")
    mine = make_behaviour(make_assignment("M-1", "mine", ASTEROID))
    credits = game.credits

    await bench.run(mine, ship, until=lambda: mine.cycle_ended)

    actions = game.calls_of("M-1")
    assert actions.count("extract") == 4
    assert isinstance(mine, Mine) and mine.skipped_for_waste == 1
    # iron and copper are sold at the market in reach (the far one is out of the tank's
    # reach); quartz, which no market buys, is jettisoned instead of blocking the hold.
    sold = [c.body for c in game.calls if c.action == "sell"]
    assert sorted((b["symbol"], b["units"]) for b in sold) == [
        ("COPPER_ORE", 10),
        ("IRON_ORE", 10),
        ("IRON_ORE", 10),
    ]
    assert "jettison" in actions
    assert game.credits > credits
    assert "get_ship" not in actions
    # Events: every extraction and every sale, and the ship's changed parts.
    assert len(bench.recorder.of(names.EXTRACTION_SUBJECT)) == 4
    assert len(bench.recorder.of(names.TRANSACTION_SUBJECT)) >= 3
    states = bench.recorder.of(names.SHIP_STATE_SUBJECT)
    versions = [s.version for s in states]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)

    # The next cycle starts by flying back to the asteroid.
    await bench.run(
        mine,
        ship,
        until=lambda: (
            game.ships["M-1"].waypoint == ASTEROID and game.calls_of("M-1").count("extract") == 5
        ),
    )


async def test_a_miner_that_knows_no_market_reads_the_marketplaces_and_sells(
    bench: Any, make_assignment: Any
) -> None:
    # As in a fresh local run: the system's waypoints are listed (the conductor does that), but
    # no ship has looked at a market yet. The load must be sold, not jettisoned as unsellable.
    from flotilla.client import models

    game = bench.game
    game.add_ship("M-1", waypoint=ASTEROID, cargo_capacity=30)
    game.add_ship("M-2", waypoint=ASTEROID, cargo_capacity=30)
    bench.world.record_waypoints(
        [models.Waypoint.model_validate(game._waypoint(s)) for s in game.waypoints]
    )
    assert not bench.world.markets
    first, second = bench.control("M-1"), bench.control("M-2")
    mine = make_behaviour(make_assignment("M-1", "mine", ASTEROID))
    credits = game.credits

    await bench.run(mine, first, until=lambda: mine.cycle_ended)

    sold = sorted((c.body["symbol"], c.body["units"]) for c in game.calls if c.action == "sell")
    assert ("IRON_ORE", 10) in sold and ("COPPER_ORE", 10) in sold
    jettisoned = [c.body["symbol"] for c in game.calls if c.action == "jettison"]
    assert jettisoned == ["QUARTZ_SAND"]  # the one good no market of the system buys
    assert game.credits > credits
    # Each marketplace of the system was read once, from afar, and is shared from then on.
    looked = [c.path for c in game.calls if c.action == "market"]
    marketplaces = [s for s, w in game.waypoints.items() if "MARKETPLACE" in w["traits"]]
    assert sorted(p.split("/")[4] for p in looked[: len(marketplaces)]) == sorted(marketplaces)
    assert set(marketplaces) <= set(bench.world.markets)
    # A second miner selling afterwards reads no market at all: the view has them now.
    second_mine = make_behaviour(make_assignment("M-2", "mine", ASTEROID))
    await bench.run(second_mine, second, until=lambda: second_mine.cycle_ended)
    assert "sell" in game.calls_of("M-2")
    assert "market" not in game.calls_of("M-2")


async def test_a_miner_whose_hold_is_full_goes_to_sell_without_waiting_out_the_cooldown(
    bench: Any, make_assignment: Any
) -> None:
    game = bench.game
    game.add_ship("M-1", waypoint=ASTEROID, cargo_capacity=44)
    bench.know_everything()
    ship = bench.control("M-1")
    mine = make_behaviour(make_assignment("M-1", "mine", ASTEROID))
    await bench.run(mine, ship, until=lambda: "navigate" in game.calls_of("M-1"))
    extracts = [c.at for c in game.calls if c.action == "extract"]
    leaving = next(c.at for c in game.calls if c.action == "navigate")
    assert len(extracts) == 4
    assert extracts[1] - extracts[0] >= 70  # each extraction waits for the last one's cooldown
    assert leaving == extracts[-1]  # the full hold leaves at once, not 70 s later


async def test_a_miner_waits_out_each_cooldown_on_the_clock(
    bench: Any, make_assignment: Any
) -> None:
    bench.game.add_ship("M-1", waypoint=ASTEROID, cargo_capacity=100)
    ship = bench.control("M-1")
    mine = make_behaviour(make_assignment("M-1", "mine", ASTEROID))
    start = bench.clock.monotonic()
    first = await mine.step(ship)
    assert first == start + 70  # the extraction's cooldown
    # Stepping early costs nothing: the machine knows the cooldown is still running.
    again = await mine.step(ship)
    assert again == first
    assert bench.game.calls_of("M-1") == ["extract"]
    bench.clock.advance_to(first)
    await mine.step(ship)
    assert bench.game.calls_of("M-1") == ["extract", "extract"]


async def test_a_miner_uses_the_best_shared_survey_and_drops_it_when_exhausted(
    bench: Any, make_assignment: Any
) -> None:
    game = bench.game
    game.add_ship("S-1", waypoint=ASTEROID, mounts=["MOUNT_SURVEYOR_I"])
    game.add_ship("M-1", waypoint=ASTEROID, cargo_capacity=1000)
    bench.know_everything()
    surveyor = make_behaviour(make_assignment("S-1", "survey", ASTEROID))
    await surveyor.step(bench.control("S-1"))
    assert len(bench.world.surveys_at(ASTEROID)) == 2
    assert len(bench.recorder.of(names.SURVEY_SUBJECT)) == 2

    miner_ship = bench.control("M-1")
    mine = make_behaviour(make_assignment("M-1", "mine", ASTEROID))
    # Two SMALL surveys of 2 uses each: four targeted extractions, then each is exhausted
    # (4224), dropped for everyone, and the miner goes on without.
    await bench.run(mine, miner_ship, until=lambda: game.calls_of("M-1").count("extract") == 1)
    actions = game.calls_of("M-1")
    assert actions.count("extract_survey") == 6  # 4 that worked, 2 refused as exhausted
    assert bench.world.surveys_at(ASTEROID) == []
    assert len(bench.recorder.deleted) == 2
    assert miner_ship.ship.units_of("COPPER_ORE") == 40  # the surveys' deposit
    assert bench.claims.held == {}  # every slot given back


async def test_survey_slots_follow_the_survey_size(bench: Any) -> None:
    survey = events_pb2.SurveyObservation(signature="SIG", waypoint_symbol=ASTEROID, size="SMALL")
    first = await bench.world.reserve(survey, "M-1")
    assert first is not None
    assert await bench.world.reserve(survey, "M-2") is None  # one slot for a small survey
    await bench.world.release(first)
    assert await bench.world.reserve(survey, "M-2") is not None
    large = events_pb2.SurveyObservation(signature="BIG", waypoint_symbol=ASTEROID, size="LARGE")
    holds = [await bench.world.reserve(large, f"M-{i}") for i in range(4)]
    assert sum(h is not None for h in holds) == SURVEY_SLOTS["LARGE"] == 3


async def test_a_miner_hands_its_load_to_a_waiting_hauler_which_sells_it(
    bench: Any, make_assignment: Any
) -> None:
    game = bench.game
    game.add_ship("M-1", waypoint=ASTEROID, cargo_capacity=20)
    game.add_ship("H-1", waypoint=ASTEROID, cargo_capacity=40, mounts=[])
    bench.know_everything()
    hauler_ship = bench.control("H-1")
    haul = make_behaviour(
        make_assignment("H-1", "haul", ASTEROID, check_seconds="300", fill_fraction="0.5")
    )
    await haul.step(hauler_ship)  # arrives (already there) and starts waiting
    hauler_ship.flush()

    async def peer(symbol: str) -> events_pb2.ShipState | None:
        value = bench.recorder.values.get((names.SHIPS_BUCKET, symbol))
        assert value is None or isinstance(value, events_pb2.ShipState)
        return value

    miner_ship = bench.control("M-1")
    miner_ship.peers = peer
    mine = make_behaviour(make_assignment("M-1", "mine", ASTEROID, hauler="H-1"))
    await bench.run(mine, miner_ship, until=lambda: mine.cycle_ended)
    assert "transfer" in game.calls_of("M-1")
    assert "sell" not in game.calls_of("M-1")
    assert sum(game.ships["H-1"].cargo.values()) == 20

    credits = game.credits
    await bench.run(haul, hauler_ship, until=lambda: haul.cycle_ended)
    actions = game.calls_of("H-1")
    assert actions.count("cargo") == 1  # one look, after the wait
    assert "sell" in actions
    assert game.credits > credits


# --- survey, sell, probe --------------------------------------------------------------------


async def test_a_surveyor_surveys_once_per_cooldown(bench: Any, make_assignment: Any) -> None:
    bench.game.add_ship("S-1", waypoint=MARKET, mounts=["MOUNT_SURVEYOR_I"])
    bench.know_everything()
    ship = bench.control("S-1")
    survey = make_behaviour(make_assignment("S-1", "survey", ASTEROID))
    await bench.run(survey, ship, until=lambda: bench.game.calls_of("S-1").count("survey") == 3)
    assert bench.game.calls_of("S-1") == ["navigate", "survey", "survey", "survey"]
    assert len(bench.world.surveys_at(ASTEROID)) == 6


async def test_sell_respects_the_trade_volume_and_then_idles(
    bench: Any, make_assignment: Any
) -> None:
    game = bench.game
    game.add_ship("T-1", waypoint=MARKET, status="DOCKED", cargo={"IRON_ORE": 25})
    bench.know_everything()
    ship = bench.control("T-1")
    sell = make_behaviour(make_assignment("T-1", "sell"))
    await bench.run(sell, ship, until=lambda: sell.state == "done")
    units = [c.body["units"] for c in game.calls if c.action == "sell"]
    assert units == [10, 10, 5]  # trade volume 10 per call
    assert await sell.step(ship) is None
    assert game.calls_of("T-1") == ["sell", "sell", "sell"]


async def test_sell_refuels_on_the_way_when_the_tank_is_low(
    bench: Any, make_assignment: Any
) -> None:
    game = bench.game
    game.add_ship("T-1", waypoint=SHIPYARD, fuel=20, cargo={"IRON_ORE": 10})
    bench.know_everything()
    ship = bench.control("T-1")
    sell = make_behaviour(make_assignment("T-1", "sell"))
    await bench.run(sell, ship, until=lambda: sell.state == "done")
    actions = game.calls_of("T-1")
    assert actions[:2] == ["dock", "refuel"]  # fuel is sold where it is, and the tank is low
    assert "sell" in actions


async def test_a_probe_makes_only_its_refresh_calls(bench: Any, make_assignment: Any) -> None:
    game = bench.game
    game.add_ship("P-1", waypoint=MARKET, fuel=0, fuel_capacity=0, mounts=[])
    ship = bench.control("P-1")
    probe = make_behaviour(make_assignment("P-1", "probe", MARKET, interval_seconds="600"))
    start = bench.clock.monotonic()
    await bench.run(probe, ship, until=lambda: len(game.calls) == 5)
    assert game.calls_of("P-1") == ["market"] * 5
    assert all(c.fence_token == 7 and c.node == "T" for c in game.calls)  # every call fenced
    assert bench.clock.monotonic() - start == 4 * 600
    observation = bench.world.markets[MARKET]
    assert {g.symbol for g in observation.goods} >= {"IRON_ORE", "FUEL"}
    assert len(bench.recorder.of(names.MARKET_SUBJECT)) == 5


async def test_a_probe_flies_once_then_only_refreshes_the_shipyard(
    bench: Any, make_assignment: Any
) -> None:
    game = bench.game
    game.add_ship("P-1", waypoint=ASTEROID, fuel=0, fuel_capacity=0, mounts=[])
    bench.know_everything()
    ship = bench.control("P-1")
    probe = make_behaviour(
        make_assignment("P-1", "probe", SHIPYARD, target="shipyard", interval_seconds="60")
    )
    await bench.run(probe, ship, until=lambda: game.calls_of("P-1").count("shipyard") == 3)
    assert game.calls_of("P-1") == ["navigate", "shipyard", "shipyard", "shipyard"]


# --- trade ----------------------------------------------------------------------------------


async def test_a_trader_makes_a_profit_on_a_price_gap_it_found(
    bench: Any, make_assignment: Any
) -> None:
    game = bench.game
    game.add_ship("T-1", waypoint=MARKET, fuel=1000, fuel_capacity=1000, cargo_capacity=30)
    bench.know_everything()
    ship = bench.control("T-1")
    route = best_route(ship)
    assert route is not None
    assert (route.symbol, route.buy_at, route.sell_at) == ("FOOD", MARKET, FAR)
    credits = game.credits
    trade = make_behaviour(make_assignment("T-1", "trade"))
    await bench.run(trade, ship, until=lambda: trade.cycle_ended)
    assert game.credits > credits
    actions = game.calls_of("T-1")
    assert actions.count("purchase") == 3 and actions.count("sell") == 3  # 30 units, lots of 10
    assert not trade.safe or ship.ship.units_of("FOOD") == 0


async def test_a_trader_without_a_profitable_route_waits_without_calls(
    bench: Any, make_assignment: Any
) -> None:
    game = bench.game
    game.add_ship("T-1", waypoint=MARKET)
    ship = bench.control("T-1")  # nothing known: no route
    trade = make_behaviour(make_assignment("T-1", "trade", replan_seconds="300"))
    wake = await trade.step(ship)
    assert wake == bench.clock.monotonic() + 300
    assert game.calls == []


# --- explore, upgrade, contract, idle -------------------------------------------------------


async def test_an_explorer_charts_its_system_then_jumps_on(
    bench: Any, make_assignment: Any
) -> None:
    game = bench.game
    game.waypoints["X1-T1-NEW1"] = {"type": "ASTEROID", "x": 5, "y": 5, "traits": []}
    game.waypoints["X1-T1-NEW2"] = {"type": "PLANET", "x": -10, "y": 5, "traits": []}
    game.add_ship("E-1", waypoint=MARKET, fuel=400, fuel_capacity=400, mounts=[])
    ship = bench.control("E-1")
    explore = make_behaviour(make_assignment("E-1", "explore"))
    await bench.run(explore, ship, until=lambda: explore.state == "done")
    # Every uncharted waypoint of both systems, each charted once.
    assert {"X1-T1-NEW1", "X1-T1-NEW2", GATE, "X1-T2-GATE"} <= game.charted
    actions = game.calls_of("E-1")
    assert actions.count("chart") == 4
    assert actions[0] == "waypoints"
    assert "jump" in actions and "jump_gate" in actions
    assert game.ships["E-1"].waypoint == "X1-T2-GATE"
    assert bench.world.waypoints["X1-T1-NEW1"].charted


def test_mount_changes_compare_multisets() -> None:
    assert mount_changes(("A", "B"), ("B", "C", "C")) == (["A"], ["C", "C"])
    assert mount_changes(("A", "A"), ("A", "A")) == ([], [])


async def test_upgrade_reaches_its_mount_spec(bench: Any, make_assignment: Any) -> None:
    game = bench.game
    game.add_ship("M-1", waypoint=MARKET, mounts=["MOUNT_MINING_LASER_I"])
    bench.know_everything()
    ship = bench.control("M-1")
    spec = ("MOUNT_MINING_LASER_II", "MOUNT_MINING_LASER_II")
    upgrade = make_behaviour(
        make_assignment("M-1", "upgrade", SHIPYARD).__class__(
            ship="M-1", behaviour="upgrade", waypoint=SHIPYARD, mount_spec=spec
        )
    )
    await bench.run(upgrade, ship, until=lambda: upgrade.state == "done")
    assert sorted(game.ships["M-1"].mounts) == list(spec)
    assert ship.ship.mounts == spec
    actions = game.calls_of("M-1")
    assert actions.count("mounts") == 3  # one removal, two installs
    assert actions.count("purchase") == 2
    assert "MOUNT_MINING_LASER_I" not in game.ships["M-1"].cargo  # sold, not carried
    assert await upgrade.step(ship) is None


async def test_a_contract_is_accepted_procured_delivered_and_fulfilled(
    bench: Any, make_assignment: Any
) -> None:
    game = bench.game
    game.add_contract("C1", "IRON_ORE", 30)
    game.add_ship("C-1", waypoint=MARKET, status="DOCKED")
    bench.know_everything()
    ship = bench.control("C-1")
    credits = game.credits
    contract = make_behaviour(make_assignment("C-1", "contract"))
    await bench.run(contract, ship, until=lambda: game.contracts["C1"]["fulfilled"])
    actions = game.calls_of("C-1")
    assert actions[:2] == ["contracts", "accept"]
    assert actions.count("purchase") == 3
    assert "deliver" in actions and "fulfill" in actions
    assert game.credits > credits - 30 * 70  # payments exceed what the goods cost
    # Then it asks for the next one.
    await bench.run(contract, ship, until=lambda: "C2" in game.contracts)


async def test_idle_makes_no_calls(bench: Any, make_assignment: Any) -> None:
    bench.game.add_ship("I-1")
    idle = make_behaviour(make_assignment("I-1", "idle"))
    assert await idle.step(bench.control("I-1")) is None
    parked = make_behaviour(
        make_assignment("I-1", "mine", ASTEROID).__class__(
            ship="I-1", behaviour="mine", parked=True
        )
    )
    assert parked.name == "idle"
    assert bench.game.calls == []


# --- errors a behaviour meets ---------------------------------------------------------------------


async def test_short_of_fuel_away_from_a_market_a_ship_drifts(
    bench: Any, make_assignment: Any
) -> None:
    game = bench.game
    game.add_ship("T-1", waypoint=ASTEROID, fuel=60, cargo={"IRON_ORE": 10})
    bench.know_everything()
    game.fail_next("navigate", 4203)  # the game disagrees with the fuel estimate
    ship = bench.control("T-1")
    sell = make_behaviour(make_assignment("T-1", "sell"))
    await bench.run(sell, ship, until=lambda: "sell" in game.calls_of("T-1"))
    actions = game.calls_of("T-1")
    assert actions[:3] == ["navigate", "flight_mode", "navigate"]
    assert game.calls[1].body == {"flightMode": "DRIFT"}


async def test_short_of_fuel_at_a_market_a_ship_refuels_and_goes(
    bench: Any, make_assignment: Any
) -> None:
    game = bench.game
    game.add_ship("T-1", waypoint=SHIPYARD, fuel=90, cargo={"IRON_ORE": 10})
    bench.know_everything()
    game.fail_next("navigate", 4203)
    ship = bench.control("T-1")
    sell = make_behaviour(make_assignment("T-1", "sell"))
    await bench.run(sell, ship, until=lambda: "sell" in game.calls_of("T-1"))
    actions = game.calls_of("T-1")
    assert actions[:5] == ["navigate", "dock", "refuel", "orbit", "navigate"]


async def test_a_full_hold_sends_a_miner_to_sell(bench: Any, make_assignment: Any) -> None:
    game = bench.game
    game.add_ship("M-1", waypoint=ASTEROID, cargo_capacity=100, cargo={"IRON_ORE": 5})
    bench.know_everything()
    game.fail_next("extract", 4228)  # full, though memory thought otherwise
    ship = bench.control("M-1")
    mine = make_behaviour(make_assignment("M-1", "mine", ASTEROID))
    await bench.run(mine, ship, until=lambda: mine.cycle_ended)
    actions = game.calls_of("M-1")
    assert actions[0] == "extract" and "sell" in actions
    assert actions.index("sell") < len(actions)


async def test_a_ship_in_transit_waits_for_its_arrival(bench: Any, make_assignment: Any) -> None:
    game = bench.game
    fake = game.add_ship("M-1", waypoint=ASTEROID, cargo_capacity=100)
    fake.status = "IN_TRANSIT"
    fake.arrival = bench.clock.now() + timedelta(seconds=40)
    ship = bench.control("M-1")
    ship.ship.status = "IN_ORBIT"  # memory is behind: it thinks the ship has arrived
    mine = make_behaviour(make_assignment("M-1", "mine", ASTEROID))
    try:
        await mine.step(ship)
    except ShipInTransit as exc:
        # The ship's task handles this error by sleeping until the arrival it carries.
        assert exc.arrival == fake.arrival
    else:
        raise AssertionError("expected the game to say the ship is in transit")
    assert game.calls_of("M-1") == ["extract"]


async def test_a_miner_that_finds_its_hold_fuller_than_it_knew_looks_then_sells(
    bench: Any, make_assignment: Any
) -> None:
    game = bench.game
    game.add_ship("M-1", waypoint=ASTEROID, cargo_capacity=40, cargo={"IRON_ORE": 40})
    bench.know_everything()
    ship = bench.control("M-1")
    ship.ship.inventory, ship.ship.cargo_units = {}, 0  # a stale snapshot: memory says empty
    mine = make_behaviour(make_assignment("M-1", "mine", ASTEROID))
    await bench.run(mine, ship, until=lambda: mine.cycle_ended)
    actions = game.calls_of("M-1")
    assert actions[:2] == ["extract", "cargo"]  # refused (4228), then one look at the hold
    assert actions.count("extract") == 1  # not a loop of refused extractions
    assert sum(c.body["units"] for c in game.calls if c.action == "sell") == 40
    assert "jettison" not in actions


async def test_a_sale_refused_as_not_docked_is_retried_not_abandoned(
    bench: Any, make_assignment: Any
) -> None:
    game = bench.game
    game.add_ship("T-1", waypoint=MARKET, status="IN_ORBIT", cargo={"IRON_ORE": 5})
    bench.know_everything()
    ship = bench.control("T-1")
    ship.ship.status = "DOCKED"  # memory is wrong: the game has it in orbit
    sell = make_behaviour(make_assignment("T-1", "sell"))
    try:
        await sell.step(ship)
    except NotDocked:
        ship.ship.set_status("IN_ORBIT")  # what the ship's task does with 4244
    else:
        raise AssertionError("expected the game to say the ship is not docked")
    await bench.run(sell, ship, until=lambda: sell.state == "done")
    assert game.calls_of("T-1") == ["sell", "dock", "sell"]
    assert "jettison" not in game.calls_of("T-1")


def _learn_cooldown(bench: Any, total: int, remaining: int, left: float) -> tuple[Any, Any]:
    """A fresh ship's control after it learnt a cooldown of `total` game seconds, with
    `remaining` reported and `left` real seconds to its expiration; and the cooldown."""
    bench.game.add_ship("M-1")
    ship = bench.control("M-1")
    cooldown = models.Cooldown(
        ship_symbol="M-1",
        total_seconds=total,
        remaining_seconds=remaining,
        expiration=bench.clock.now() + timedelta(seconds=left),
    )
    ship._learn_from_cooldown(cooldown)
    return ship, cooldown


def test_the_server_clock_learns_from_a_cooldown_under_a_time_scale(bench: Any) -> None:
    """A faster universe (the simulator's time scale) reports a cooldown's game length in
    totalSeconds and the real time left in remainingSeconds: the real one dates the call."""
    ship, scaled = _learn_cooldown(bench, total=1200, remaining=3, left=3)
    assert -1.0 <= ship.server_clock.offset() <= 0.0  # not 20 minutes behind
    assert ship.local(scaled.expiration) <= bench.clock.monotonic() + 4


def test_the_server_clock_is_never_ahead_under_a_slower_time_scale(bench: Any) -> None:
    """A slower universe (time scale below 1) reports a game length shorter than the real
    cooldown: dating the call from it would put the server's "now" ahead of the truth and
    wake the ship before its cooldown is over (a 4000 on every extraction)."""
    # 70 game seconds at a time scale of 0.95.
    ship, slowed = _learn_cooldown(bench, total=70, remaining=74, left=73.7)
    assert ship.server_clock.offset() <= 0.0  # never ahead of the server
    assert ship.local(slowed.expiration) >= bench.clock.monotonic() + 73.7
