"""The conductor against the simulator through the gateway: a plan of N ships of a type ends
with exactly N — alone, killed during a purchase and restarted, beside a second conductor, with
answers lost — the reserve is never crossed, every ship's assignment matches its role, a manual
override holds until it expires, and the dry run's answer is what the reconciler then does.

Lost answers are the simulator's after-the-action faults: the purchase is applied, then its
connection dropped, so the gateway can only report the outcome unknown (and never resends).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from conductor.core import Conductor
from conductor.plan import FleetPlan
from tests.conductor.stack import Stack, full_stack, kill, start_process, wait_for

pytestmark = pytest.mark.slow

DRONE_FRAME = "FRAME_DRONE"
SEED = 11


def drones(n: int, reserve: int = 10_000, extra: str = "") -> str:
    return f"""\
reserve: {reserve}
roles:
  - name: miners
    ship_type: SHIP_MINING_DRONE
    count: {n}
    behaviour: mine
  - name: watch
    ship_type: SHIP_PROBE
    count: 1
    behaviour: probe
    params: {{target: shipyard}}
{extra}"""


async def _settled(stack: Stack, conductors: list[Conductor], n: int) -> None:
    """Wait until the API shows `n` drones and no purchase is in doubt, then for several more
    passes of the leader: the count must not move."""

    # Waiting reads the conductors' views, not the API, so that the only requests are the
    # conductors' own (the simulator's fault draws then follow one order on every run).
    def seen() -> int:
        return max(
            sum(1 for s in c.view.ships().values() if s.ship_type == "SHIP_MINING_DRONE")
            for c in conductors
        )

    async def reached() -> bool:
        return seen() >= n and await stack.journal() is None

    await wait_for(reached, 120, f"{n} drones")

    def passes() -> int:
        return sum(c.passes for c in conductors)

    start = passes()

    async def more_passes() -> bool:
        return passes() >= start + 8

    await wait_for(more_passes, 60, "more reconcile passes")
    assert seen() == n
    assert await stack.count(DRONE_FRAME) == n


async def _check_roles(stack: Stack, reserve: int, conductor: Conductor) -> None:
    ships = {s.symbol: s for s in await stack.ships()}
    assignments = await stack.assignments()
    assert set(assignments) == set(ships), "every ship, and only ships of the fleet, assigned"
    for symbol, ship in ships.items():
        a = assignments[symbol]
        frame = ship.frame.symbol if ship.frame else ""
        expected = {
            DRONE_FRAME: ("miners", "mine"),
            "FRAME_PROBE": ("watch", "probe"),
            "FRAME_FRIGATE": ("", "idle"),
        }[frame]
        assert (a.role, a.behaviour) == expected, (symbol, a)
        if frame == DRONE_FRAME:
            assert a.waypoint_symbol, "a miner is sent to an asteroid"
        if frame == "FRAME_PROBE":
            assert a.waypoint_symbol == ship.nav.waypoint_symbol  # it stays at its shipyard
    agent = await stack.api.get_agent()
    assert agent.credits >= reserve
    for d in await conductor.decisions(kind="purchase"):
        if "credits_after" in d.figures:
            assert d.figures["credits_after"] >= reserve, d


async def test_a_plan_is_reached_exactly_and_the_dry_run_said_so(
    nats_url: str, migrated_url: str, tmp_path: Path
) -> None:
    async with full_stack(nats_url, migrated_url, tmp_path) as stack, stack.conductor() as running:
        conductor: Conductor = running.exposed["conductor"]

        async def assigned() -> bool:
            return len(await stack.assignments()) == 2

        await wait_for(assigned, 60, "the starting ships assigned")
        proposed = FleetPlan.from_yaml(drones(3, reserve=30_000))
        dry = await conductor.dry_run(proposed)
        assert [p.ship_type for p in dry.purchases] == ["SHIP_MINING_DRONE"] * 3
        assert len({p.shipyard for p in dry.purchases}) == 1
        assert all(p.credits_after >= 30_000 for p in dry.purchases)
        before = await stack.assignments()
        await conductor.replace_plan(proposed, author="test")
        await _settled(stack, [conductor], 3)
        await _check_roles(stack, 30_000, conductor)
        after = await stack.assignments()
        # What the dry run said about the ships already there is what was written.
        for a in dry.assignments:
            got = after[a.ship]
            assert (got.role, got.behaviour, got.waypoint_symbol) == (
                a.role,
                a.behaviour,
                a.waypoint,
            )
        bought = set(after) - set(before)
        assert len(bought) == len(dry.purchases)
        shipyard = dry.purchases[0].shipyard
        ships = {s.symbol: s for s in await stack.ships()}
        assert {ships[s].nav.waypoint_symbol for s in bought} == {shipyard}
        purchases = await conductor.decisions(kind="purchase")
        assert [d.reason for d in purchases] == ["bought"] * 3


async def test_the_reserve_stops_purchases_short_of_the_plan(
    nats_url: str, migrated_url: str, tmp_path: Path
) -> None:
    async with full_stack(nats_url, migrated_url, tmp_path) as stack:
        credits = (await stack.api.get_agent()).credits
        reserve = credits - 70_000  # room for two drones (about 32 000 each), not three
        async with stack.conductor(drones(5, reserve=reserve)) as running:
            conductor: Conductor = running.exposed["conductor"]
            await _settled(stack, [conductor], 2)
            await _check_roles(stack, reserve, conductor)
            actions = conductor.last_actions
            assert actions is not None
            assert any("below the reserve" in note for note in actions.notes)


async def test_a_manual_override_holds_until_it_expires(
    nats_url: str, migrated_url: str, tmp_path: Path
) -> None:
    async with (
        full_stack(nats_url, migrated_url, tmp_path) as stack,
        stack.conductor(drones(1)) as running,
    ):
        conductor: Conductor = running.exposed["conductor"]
        await _settled(stack, [conductor], 1)
        drone = next(
            s.symbol for s in await stack.ships() if s.frame and s.frame.symbol == DRONE_FRAME
        )
        expires = conductor.clock.now() + timedelta(seconds=4)
        await conductor.set_override(drone, "survey", reason="look", expires_at=expires)

        async def overridden() -> bool:
            a = (await stack.assignments()).get(drone)
            return a is not None and a.manual and a.behaviour == "survey"

        await wait_for(overridden, 30, "the override written")
        flips: list[Any] = []

        async def back() -> bool:
            a = (await stack.assignments()).get(drone)
            if a is not None and not a.manual and a.behaviour == "mine":
                flips.append(conductor.clock.now())
                return True
            return False

        await wait_for(back, 30, "the role's assignment back")
        assert flips[0] >= expires
        assert await stack.count(DRONE_FRAME) == 1  # the overridden ship was not replaced


async def test_two_conductors_buy_exactly_the_plan(
    nats_url: str, migrated_url: str, tmp_path: Path
) -> None:
    async with full_stack(nats_url, migrated_url, tmp_path) as stack:
        plan = drones(4)
        async with (
            stack.conductor(plan, holder="one") as a,
            stack.conductor(plan, holder="two") as b,
        ):
            ca: Conductor = a.exposed["conductor"]
            cb: Conductor = b.exposed["conductor"]

            async def one_bought() -> bool:
                return await stack.count(DRONE_FRAME) >= 1

            await wait_for(one_bought, 60, "a first purchase")
            assert ca.leader.is_leader != cb.leader.is_leader
            # The leader steps down mid-plan; the other takes over.
            leader, other = (a, cb) if ca.leader.is_leader else (b, ca)
            await leader.stop()

            async def took_over() -> bool:
                return other.leader.is_leader

            await wait_for(took_over, 30, "the standby leading")
            await _settled(stack, [ca, cb], 4)
            await _check_roles(stack, 10_000, other)


async def test_a_conductor_killed_during_a_purchase_is_replaced_without_buying_twice(
    nats_url: str, migrated_url: str, tmp_path: Path
) -> None:
    # Every answer takes a second: the kill lands while a purchase is in flight.
    async with full_stack(nats_url, migrated_url, tmp_path, latency_ms=1000) as stack:
        plan = drones(3)
        process = await start_process(stack, plan, "doomed")
        try:

            async def in_flight() -> bool:
                return await stack.journal() is not None

            await wait_for(in_flight, 120, "a purchase in flight")
            kill(process)
            await process.wait()
        finally:
            kill(process)
        assert await stack.journal() is not None, "the purchase in doubt is journalled"
        async with stack.conductor(plan, holder="heir") as running:
            conductor: Conductor = running.exposed["conductor"]
            await _settled(stack, [conductor], 3)
            assert conductor.buyer.listings >= 1, "the fleet was listed before buying again"
            await _check_roles(stack, 10_000, conductor)


async def test_lost_answers_are_settled_by_listing_the_fleet(
    nats_url: str, migrated_url: str, tmp_path: Path
) -> None:
    # 10 % of requests lose their answer; ten purchases make one lost purchase likely, and
    # the fault seed makes it certain (the assertion below fails if none was lost).
    async with (
        full_stack(
            nats_url, migrated_url, tmp_path, credits=1_000_000, drop_rate=0.1, seed=SEED
        ) as stack,
        stack.conductor(drones(10)) as running,
    ):
        conductor: Conductor = running.exposed["conductor"]
        await _settled(stack, [conductor], 10)
        await _check_roles(stack, 10_000, conductor)
        outcomes = [d.reason for d in await conductor.decisions(kind="purchase")]
        assert outcomes.count("bought") <= 10
        assert "unknown" in outcomes or conductor.buyer.listings > 1, outcomes


async def test_an_auto_role_buys_the_type_earning_most_per_credit(
    nats_url: str, migrated_url: str, tmp_path: Path
) -> None:
    base = drones(1, reserve=10_000).replace("watch", "watch\n    priority: 0", 1)
    async with (
        full_stack(nats_url, migrated_url, tmp_path) as stack,
        stack.conductor(base) as running,
    ):
        conductor: Conductor = running.exposed["conductor"]
        await _settled(stack, [conductor], 1)
        drone = next(s for s, v in conductor.view.ships().items() if v.ship_type.endswith("DRONE"))
        # The drone has earned 50 000 credits in the last half hour (rows as the persister
        # writes them); no probe has earned anything.
        now = conductor.clock.now()
        async with conductor.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO credit_minutes"
                " (minute, agent, ship_symbol, behaviour, kind, credits, transactions)"
                " VALUES (%s, %s, %s, 'mine', 'sell', 50000, 10)",
                (
                    now.replace(second=0, microsecond=0) - timedelta(minutes=30),
                    conductor.agent,
                    drone,
                ),
            )

        async def measured() -> bool:
            return "SHIP_MINING_DRONE" in conductor.world().earnings

        await wait_for(measured, 30, "the earnings read")
        # The probe is cheaper, but only the drone has measured earnings per credit.
        auto = """\
  - name: best
    ship_type: auto
    allowed_types: [SHIP_PROBE, SHIP_MINING_DRONE]
    count: 1
    behaviour: mine
    priority: 5
"""
        await conductor.replace_plan(FleetPlan.from_yaml(base + auto), author="test")
        await _settled(stack, [conductor], 2)
        assert conductor.last_actions is not None
        assert conductor.last_actions.members["best"] != []
        (choice,) = await conductor.decisions(kind="auto_choice")
        assert choice.role == "best" and choice.reason.startswith("SHIP_MINING_DRONE: highest")
        assert choice.figures["SHIP_MINING_DRONE"]["cph_per_ship"] > 0
        assert choice.figures["SHIP_PROBE"]["cph_per_ship"] is None
        assert choice.figures["SHIP_PROBE"]["price"] < choice.figures["SHIP_MINING_DRONE"]["price"]
        probes = sum(1 for s in await stack.ships() if s.frame and s.frame.symbol == "FRAME_PROBE")
        assert probes == 1
