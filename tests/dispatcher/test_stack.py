"""The behaviours end to end: real NATS, the simulator and the gateway started by the kit, and a
real dispatcher node (see `stack.py`). The simulator's game state is the oracle; the gateway's
request log counts the calls. Ships are given to the agent by the simulator (no request spent),
docked where the test puts them. The unit tests of each state machine's decisions stay in
test_behaviours.py (on the fake game, on a manual clock).

Not provoked here, because the simulator cannot be made to produce them on cue or no behaviour
meets them against it: survey expiry and exhaustion (4221/4224 — covered on the fake game), a
trade-volume refusal (4604: the behaviours sell in the lots the market announces)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from .stack import Stack, eventually, running_stack

pytestmark = pytest.mark.slow


def cycles(stack: Stack, behaviour: str) -> float:
    """Cycles of `behaviour` the node finished (observations of its requests-per-cycle)."""
    return stack.metric("requests_per_cycle_count", behaviour=behaviour)


async def test_a_miner_earns_credits_and_never_extracts_to_waste(nats_url: str) -> None:
    async with running_stack(nats_url) as stack:
        probe = stack.first("SATELLITE")  # docked at the shipyard's station, A3
        miner = stack.ship("SHIP_MINING_DRONE", "A3")
        # The oracle of the waste rule: the room in the hold at each extraction, as the
        # simulator sees it (an observer on the game's ship; it changes nothing).
        extractions: list[tuple[int, int]] = []
        add_cargo = miner.add_cargo

        def observed(symbol: str, units: int) -> None:
            extractions.append((miner.cargo_free, units))
            add_cargo(symbol, units)

        miner.add_cargo = observed  # type: ignore[method-assign]
        await stack.assign(probe.symbol, "probe", stack.at("A3"), interval_seconds="2")
        await stack.assign(miner.symbol, "mine", stack.at("B1"))
        credits = stack.agent.credits
        async with stack.dispatching(nats_url):
            await eventually(lambda: cycles(stack, "mine") >= 2, what="two mining cycles")
            assert stack.agent.credits > credits
            mine: Any = stack.behaviour(miner.symbol)
            assert mine.skipped_for_waste >= 2  # each load ends by the rule, not by a 4228
            assert stack.metric("behaviour_steps_total", behaviour="mine") > 0
            assert stack.metric("ready_to_request_seconds_count") > 0
            assert stack.metric("leases_total", change="acquired") == 2
        # Every extraction had room for at least half of the yield the ship could expect: the
        # average of its earlier yields (its laser's strength, 10, before it had any).
        assert len(extractions) >= 3
        for i, (free, _units) in enumerate(extractions):
            earlier = [u for _, u in extractions[max(0, i - 8) : i]]
            expected = sum(earlier) / len(earlier) if earlier else 10.0
            assert free >= expected / 2, (i, free, expected, extractions)
        actions = stack.actions_of(miner.symbol)
        assert 4228 not in stack.errors_of(miner.symbol)
        assert actions.count("sell") >= 2
        assert miner.symbol not in {a for a in actions}  # never a look at the whole ship


async def test_probes_make_only_their_refresh_calls(nats_url: str) -> None:
    async with running_stack(nats_url) as stack:
        market = stack.first("SATELLITE")  # at A3
        shipyard = stack.ship("SHIP_PROBE", "A3")
        await stack.assign(market.symbol, "probe", stack.at("A3"), interval_seconds="0.3")
        await stack.assign(
            shipyard.symbol, "probe", stack.at("A3"), target="shipyard", interval_seconds="0.3"
        )
        async with stack.dispatching(nats_url) as node:
            await eventually(
                lambda: (
                    len(stack.calls_of(market.symbol)) >= 5
                    and len(stack.calls_of(shipyard.symbol)) >= 5
                ),
                what="five refreshes each",
            )
            assert cycles(stack, "probe") >= 10
            node.ctx.registry.exposition()  # a scrape: the gauges are refreshed
            assert stack.metric("ships_owned") == 2
            # One request per probe cycle, each measured from the instant the probe was due.
            assert stack.metric("requests_per_cycle_sum", behaviour="probe") == cycles(
                stack, "probe"
            )
            assert stack.metric("ready_to_request_seconds_count") >= 8
        # On stop the node handed both ships back.
        released = node.ctx.registry.registry.get_sample_value(
            "flotilla_dispatcher_leases_total", {"change": "released"}
        )
        assert released == 2
        markets = {r.endpoint for r in stack.calls_of(market.symbol)}
        assert markets == {"/systems/{systemSymbol}/waypoints/{waypointSymbol}/market"}
        shipyards = {r.endpoint for r in stack.calls_of(shipyard.symbol)}
        assert shipyards == {"/systems/{systemSymbol}/waypoints/{waypointSymbol}/shipyard"}
        assert not stack.errors_of(market.symbol) and not stack.errors_of(shipyard.symbol)


async def test_upgrade_reaches_its_mount_spec(nats_url: str) -> None:
    async with running_stack(nats_url) as stack:
        probe = stack.first("SATELLITE")
        drone = stack.ship("SHIP_MINING_DRONE", "A1")  # flies to the shipyard at A3
        spec = ("MOUNT_SURVEYOR_I",)
        await stack.assign(probe.symbol, "probe", stack.at("A3"), interval_seconds="5")
        await stack.assign(drone.symbol, "upgrade", stack.at("A3"), mount_spec=spec)
        async with stack.dispatching(nats_url):
            await eventually(
                lambda: getattr(stack.behaviour(drone.symbol), "state", "") == "done",
                what="the refit done",
            )
        assert tuple(m.symbol for m in drone.mounts) == spec
        assert drone.nav.waypoint_symbol == stack.at("A3")
        actions = stack.actions_of(drone.symbol)
        assert actions.count("remove") == 1 and actions.count("install") == 1
        assert "MOUNT_MINING_LASER_I" not in drone.cargo  # sold where it was removed


async def test_a_contract_is_fulfilled_and_the_next_one_accepted(nats_url: str) -> None:
    async with running_stack(nats_url) as stack:
        probe = stack.first("SATELLITE")
        ship = stack.ship("SHIP_COMMAND_FRIGATE", "A3")
        (first,) = stack.game.agent_contracts(stack.agent)
        await stack.assign(probe.symbol, "probe", stack.at("A3"), interval_seconds="5")
        await stack.assign(ship.symbol, "contract")
        async with stack.dispatching(nats_url):
            await eventually(lambda: first.fulfilled, what="the first contract fulfilled")
            await eventually(
                lambda: any(
                    c.accepted and c.id != first.id for c in stack.game.agent_contracts(stack.agent)
                ),
                what="the next contract accepted",
            )
        assert first.accepted
        assert all(d.units_fulfilled >= d.units_required for d in first.deliveries)
        actions = stack.actions_of(ship.symbol)
        assert (
            "deliver" in actions
            and "fulfill" in actions
            and "negotiate" in " ".join(r.endpoint for r in stack.calls_of(ship.symbol))
        )


async def test_a_trader_profits_from_a_price_gap_it_found(nats_url: str) -> None:
    async with running_stack(nats_url) as stack:
        # Probes at four markets of the home system; their prices are the trader's only view.
        watched = ("A1", "J1", "H1", "G1")
        for where in watched:
            probe = stack.ship("SHIP_PROBE", where)
            await stack.assign(probe.symbol, "probe", stack.at(where), interval_seconds="5")
        trader = stack.ship("SHIP_COMMAND_FRIGATE", "A1")
        await stack.assign(trader.symbol, "trade")
        async with stack.dispatching(nats_url):
            await eventually(lambda: cycles(stack, "probe") >= len(watched), what="probes")
            credits = stack.agent.credits
            await stack.assign(trader.symbol, "trade", replan_seconds="0.5")
            await eventually(lambda: cycles(stack, "trade") >= 1, what="one trade made")
            trade: Any = stack.behaviour(trader.symbol)
            route = trade.route
        assert route.buy_at != route.sell_at
        assert {route.buy_at, route.sell_at} <= {stack.at(w) for w in watched}
        assert trader.cargo.get(route.symbol, 0) == 0
        assert stack.agent.credits > credits  # the game's own account of the trip
        actions = stack.actions_of(trader.symbol)
        assert actions.count("purchase") >= 1 and actions.count("sell") >= 1


async def test_every_error_a_behaviour_meets_is_handled_and_the_ship_goes_on(
    nats_url: str,
) -> None:
    """Each ship's snapshot (what the node starts from) is written as the game shows it, then
    the game is changed behind the node's back — as another client of the agent would — so
    that its first action meets the error."""
    async with running_stack(nats_url, time_scale=400.0) as stack:
        game = stack.game
        probe = stack.first("SATELLITE")
        await stack.assign(probe.symbol, "probe", stack.at("A3"), interval_seconds="5")
        await stack.remember(probe)
        asteroid = stack.at("B1")

        def at_the_asteroid() -> Any:
            ship = stack.ship("SHIP_MINING_DRONE", "B1")
            ship.nav.status = "IN_ORBIT"
            return ship

        cooling, full, flying, docked, empty, orbiting = (at_the_asteroid() for _ in range(6))
        empty.cargo["IRON_ORE"] = empty.cargo_capacity
        orbiting.nav.waypoint_symbol = stack.at("A3")
        orbiting.nav.status = "DOCKED"
        orbiting.cargo["IRON_ORE"] = 5
        for ship in (cooling, full, flying, docked, empty, orbiting):
            await stack.remember(ship)

        async def change_the_game_then_assign() -> None:
            game.start_cooldown(cooling, 1200)  # 3 s: 4000
            full.cargo["IRON_ORE"] = full.cargo_capacity  # 4228
            flying.nav.status = "IN_TRANSIT"  # 4214, arriving in 2 s
            flying.nav.arrival = game.time.now() + timedelta(seconds=2)
            docked.nav.status = "DOCKED"  # 4236
            empty.fuel = 1  # 4203 on the way to sell: no fuel sold here, so it drifts
            orbiting.nav.status = "IN_ORBIT"  # 4244
            for ship in (cooling, full, flying, docked, empty, orbiting):
                behaviour = "sell" if ship is orbiting else "mine"
                await stack.assign(ship.symbol, behaviour, asteroid)

        expected = {
            cooling.symbol: (4000, "extract"),
            full.symbol: (4228, "sell"),
            flying.symbol: (4214, "extract"),
            docked.symbol: (4236, "extract"),
            empty.symbol: (4203, "sell"),
            orbiting.symbol: (4244, "sell"),
        }

        def recovered(ship: str) -> bool:
            code, then = expected[ship]
            calls = stack.calls_of(ship)
            first = next((i for i, c in enumerate(calls) if c.error_code == code), None)
            return first is not None and any(
                c.endpoint.endswith(then) and not c.error_code for c in calls[first + 1 :]
            )

        async with stack.dispatching(nats_url):
            # The ships start once the probe has shown where ore sells (a seller that knows no
            # market jettisons its cargo).
            await eventually(lambda: cycles(stack, "probe") >= 1, what="the market seen")
            await change_the_game_then_assign()
            await eventually(
                lambda: all(recovered(ship) for ship in expected),
                what=lambda: "; ".join(
                    f"{ship} after {code}: {stack.actions_of(ship)} {stack.errors_of(ship)}"
                    for ship, (code, _) in expected.items()
                    if not recovered(ship)
                ),
            )
            for ship, (code, _) in expected.items():
                runner = stack.runner(ship)
                assert runner is not None and not runner.task.done(), ship
                behaviour = "sell" if ship == orbiting.symbol else "mine"
                assert stack.metric("errors_total", behaviour=behaviour, code=str(code)) >= 1
        flight_modes = [r for r in stack.calls_of(empty.symbol) if r.method == "PATCH"]
        assert flight_modes, "the ship short of fuel drifted"
        assert empty.nav.flight_mode == "DRIFT" or empty.nav.waypoint_symbol != asteroid


async def test_a_miner_earns_through_injected_faults(nats_url: str) -> None:
    faults = {
        "error_500_rate": 0.05,
        "error_502_rate": 0.05,
        "html_429_rate": 0.05,
        "drop_rate": 0.05,
        "seed": 3,
    }
    async with running_stack(nats_url, faults=faults) as stack:
        probe = stack.first("SATELLITE")
        miner = stack.ship("SHIP_MINING_DRONE", "A3")
        await stack.assign(probe.symbol, "probe", stack.at("A3"), interval_seconds="1")
        await stack.assign(miner.symbol, "mine", stack.at("B1"))
        credits = stack.agent.credits
        async with stack.dispatching(nats_url):
            await eventually(lambda: cycles(stack, "mine") >= 2, what="two mining cycles")
            runner = stack.runner(miner.symbol)
            assert runner is not None and not runner.task.done()
        assert stack.agent.credits > credits
        assert stack.faults_injected() >= 3


async def test_a_miner_uses_the_surveyors_surveys_and_drops_exhausted_ones(
    nats_url: str,
) -> None:
    """The surveys' uses are changed in the game (a small one would run out by itself only
    after ten extractions). Expiry (4221) is not provoked: the world view drops a survey when
    it expires, and changing its expiration in the game makes it fail verification (4220)
    instead."""
    async with running_stack(nats_url) as stack:
        game = stack.game
        surveyor = stack.ship("SHIP_COMMAND_FRIGATE", "B1")  # a surveyor II among its mounts
        miner = stack.ship("SHIP_MINING_DRONE", "B1")
        probe = stack.first("SATELLITE")
        await stack.assign(probe.symbol, "probe", stack.at("A3"), interval_seconds="5")
        await stack.assign(surveyor.symbol, "survey", stack.at("B1"))
        await stack.assign(miner.symbol, "mine", stack.at("B1"))

        def targeted(code: int = 0) -> int:
            return sum(
                1
                for r in stack.calls_of(miner.symbol)
                if r.endpoint.endswith("/extract/survey") and r.error_code == code
            )

        async with stack.dispatching(nats_url):
            await eventually(
                lambda: targeted() >= 1,
                what=lambda: (
                    f"a survey used: {stack.actions_of(miner.symbol)[:30]}"
                    f" {stack.errors_of(miner.symbol)[:30]}"
                    f" {stack.actions_of(surveyor.symbol)[:10]}"
                    f" {stack.errors_of(surveyor.symbol)[:10]}"
                ),
            )
            # No new surveys for a while; every survey known is used up (4224 at its next use).
            await stack.assign(surveyor.symbol, "idle")
            await eventually(
                lambda: getattr(stack.behaviour(surveyor.symbol), "name", "") == "idle",
                what="the surveyor idle",
            )
            for survey in game.surveys.values():
                survey.extractions_left = 0
            plain = stack.actions_of(miner.symbol).count("extract")
            await eventually(lambda: targeted(4224) >= 1, what="an exhausted survey met")
            # Each is dropped for everyone, and the miner goes on without (a plain extraction).
            await eventually(
                lambda: stack.actions_of(miner.symbol).count("extract") > plain,
                what="an extraction without a survey",
            )
            assert stack.node is not None
            assert not stack.node.exposed["world"].surveys_at(stack.at("B1"))
            await stack.assign(surveyor.symbol, "survey", stack.at("B1"))
            used = targeted()
            await eventually(lambda: targeted() > used, what="a fresh survey used after it")
            runner = stack.runner(miner.symbol)
            assert runner is not None and not runner.task.done()
        # Every survey went back exactly as the game issued it (no 4220), and was used where
        # it was made (no 4270).
        assert 4220 not in stack.errors_of(miner.symbol)
        assert 4270 not in stack.errors_of(miner.symbol)
        assert stack.actions_of(surveyor.symbol).count("survey") >= 2
