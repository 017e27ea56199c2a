"""The pure reconciler: desired against actual on hand-built worlds, time from a ManualClock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from conductor.plan import FleetPlan
from conductor.reconcile import (
    CurrentAssignment,
    Offer,
    ShipView,
    WaypointView,
    World,
    plan_actions,
)
from conductor.store import Override
from flotilla.clock import ManualClock

SYS = "X1-A"
HQ = f"{SYS}-HQ"  # shipyard + market
AST = f"{SYS}-AST"
MKT = f"{SYS}-MKT"
WAYPOINTS = (
    WaypointView(HQ, SYS, "PLANET", ("SHIPYARD", "MARKETPLACE")),
    WaypointView(AST, SYS, "ENGINEERED_ASTEROID"),
    WaypointView(MKT, SYS, "MOON", ("MARKETPLACE",)),
)
OFFERS = (
    Offer(HQ, SYS, "SHIP_MINING_DRONE", 30_000),
    Offer(HQ, SYS, "SHIP_PROBE", 20_000),
    Offer(HQ, SYS, "SHIP_ORE_HOUND", 80_000),
    Offer(f"{SYS}-FAR", SYS, "SHIP_MINING_DRONE", 10_000),  # cheaper, but none of ours there
)


def _plan(**counts: int) -> FleetPlan:
    roles = []
    kinds = {"miners": ("SHIP_MINING_DRONE", "mine"), "watch": ("SHIP_PROBE", "probe")}
    for i, (name, count) in enumerate(counts.items()):
        ship_type, behaviour = kinds[name]
        roles.append(
            {
                "name": name,
                "ship_type": ship_type,
                "count": count,
                "behaviour": behaviour,
                "priority": i,
            }
        )
    return FleetPlan.from_data({"reserve": 20_000, "roles": roles})


def _ship(
    symbol: str,
    ship_type: str,
    waypoint: str = HQ,
    status: str = "DOCKED",
    mounts: tuple[str, ...] | None = None,
) -> ShipView:
    return ShipView(symbol, ship_type, SYS, waypoint, status, mounts)


def _world(clock: ManualClock, ships: list[ShipView], credits: int = 100_000, **more: Any) -> World:
    return World(
        now=clock.now(),
        ships={s.symbol: s for s in ships},
        offers=OFFERS,
        waypoints=WAYPOINTS,
        credits=credits,
        **more,
    )


def _current(actions_world: World, plan: FleetPlan) -> dict[str, CurrentAssignment]:
    """The assignments after applying one pass's assignments."""
    current = dict(actions_world.assignments)
    for a in plan_actions(plan, actions_world).assignments:
        current[a.ship] = CurrentAssignment(
            a.ship,
            a.role,
            a.behaviour,
            dict(a.params),
            a.waypoint,
            a.mount_spec,
            a.parked,
            a.manual,
        )
    return current


def test_missing_ships_are_bought_where_ours_are_until_the_reserve() -> None:
    clock = ManualClock()
    world = _world(clock, [_ship("S-1", "SHIP_PROBE")], credits=85_000)
    actions = plan_actions(_plan(miners=3, watch=1), world)
    # 85k - 20k reserve: two drones at 30k at the HQ (the cheaper far yard has none of ours).
    assert [(p.role, p.ship_type, p.shipyard, p.price) for p in actions.purchases] == [
        ("miners", "SHIP_MINING_DRONE", HQ, 30_000),
        ("miners", "SHIP_MINING_DRONE", HQ, 30_000),
    ]
    assert actions.purchases[-1].credits_after == 25_000
    assert any("below the reserve of 20000" in n for n in actions.notes)
    assert actions.desired == {"miners": 3, "watch": 1}
    assert actions.actual == {"miners": 0, "watch": 1}


def test_no_purchase_when_paused_or_in_transit_or_credits_unknown() -> None:
    clock = ManualClock()
    plan = _plan(miners=1)
    assert not plan_actions(
        plan, _world(clock, [_ship("S-1", "SHIP_PROBE")], purchases_paused=True)
    ).purchases
    assert not plan_actions(
        plan, _world(clock, [_ship("S-1", "SHIP_PROBE", status="IN_TRANSIT")])
    ).purchases
    unknown = World(now=clock.now(), ships={"S-1": _ship("S-1", "SHIP_PROBE")}, offers=OFFERS)
    assert not plan_actions(plan, unknown).purchases


def test_ships_keep_their_roles_surplus_ships_go_idle_and_a_second_pass_changes_nothing() -> None:
    clock = ManualClock()
    ships = [_ship(f"S-{i}", "SHIP_MINING_DRONE", AST, "IN_ORBIT") for i in range(1, 5)]
    ships.append(_ship("S-9", "SHIP_PROBE"))
    assigned = {
        "S-3": CurrentAssignment("S-3", "miners", "mine", {}, AST),
        "S-4": CurrentAssignment("S-4", "miners", "mine", {}, AST),
    }
    world = _world(clock, ships, assignments=assigned)
    plan = _plan(miners=2, watch=1)
    actions = plan_actions(plan, world)
    assert actions.members == {"miners": ["S-3", "S-4"], "watch": ["S-9"]}
    by_ship = {a.ship: a for a in actions.assignments}
    assert set(by_ship) == {"S-1", "S-2", "S-9"}  # S-3, S-4 already right
    assert by_ship["S-1"].behaviour == by_ship["S-2"].behaviour == "idle"
    assert by_ship["S-9"].behaviour == "probe" and by_ship["S-9"].waypoint == HQ
    assert not actions.purchases
    after = World(
        now=world.now,
        ships=world.ships,
        assignments=_current(world, plan),
        offers=OFFERS,
        waypoints=WAYPOINTS,
        credits=100_000,
    )
    assert plan_actions(plan, after).assignments == []


def test_a_miner_without_a_waypoint_is_sent_to_its_systems_asteroid() -> None:
    clock = ManualClock()
    actions = plan_actions(_plan(miners=1), _world(clock, [_ship("S-1", "SHIP_MINING_DRONE")]))
    assert [(a.ship, a.behaviour, a.waypoint) for a in actions.assignments] == [
        ("S-1", "mine", AST)
    ]


def test_a_ship_whose_mounts_differ_from_the_spec_is_upgraded_first() -> None:
    clock = ManualClock()
    plan = FleetPlan.from_data(
        {
            "roles": [
                {
                    "name": "miners",
                    "ship_type": "SHIP_MINING_DRONE",
                    "count": 1,
                    "behaviour": "mine",
                    "mounts": ["MOUNT_MINING_LASER_II"],
                }
            ]
        }
    )
    ship = _ship("S-1", "SHIP_MINING_DRONE", mounts=("MOUNT_MINING_LASER_I",))
    (assign,) = plan_actions(plan, _world(clock, [ship])).assignments
    assert (assign.behaviour, assign.waypoint, assign.mount_spec) == (
        "upgrade",
        HQ,
        ("MOUNT_MINING_LASER_II",),
    )
    fitted = _ship("S-1", "SHIP_MINING_DRONE", mounts=("MOUNT_MINING_LASER_II",))
    (assign,) = plan_actions(plan, _world(clock, [fitted])).assignments
    assert assign.behaviour == "mine"


def test_an_override_holds_until_it_expires_on_the_clock() -> None:
    clock = ManualClock()
    plan = _plan(miners=1)
    override = Override("S-1", "survey", reason="look", expires_at=clock.now() + timedelta(60))
    ships = [_ship("S-1", "SHIP_MINING_DRONE")]

    def assignment() -> tuple[str, bool]:
        world = _world(clock, ships, overrides={"S-1": override})
        (a,) = plan_actions(plan, world).assignments
        return a.behaviour, a.manual

    assert assignment() == ("survey", True)
    clock.advance(59 * 86400)
    assert assignment() == ("survey", True)
    clock.advance(2 * 86400)
    assert assignment() == ("mine", False)


def test_parked_ships_keep_their_role_but_are_parked() -> None:
    clock = ManualClock()
    world = _world(clock, [_ship("S-1", "SHIP_MINING_DRONE")], parked={"S-1": "saturated"})
    (a,) = plan_actions(_plan(miners=1), world).assignments
    assert (a.role, a.behaviour, a.parked) == ("miners", "mine", True)
    assert "saturated" in a.reason


def test_auto_roles_choose_by_earnings_per_credit_else_the_cheapest() -> None:
    clock = ManualClock()
    plan = FleetPlan.from_data(
        {
            "roles": [
                {
                    "name": "best",
                    "ship_type": "auto",
                    "count": 1,
                    "behaviour": "mine",
                    "allowed_types": ["SHIP_ORE_HOUND", "SHIP_MINING_DRONE"],
                }
            ]
        }
    )
    ships = [_ship("S-1", "SHIP_PROBE")]
    fresh = plan_actions(plan, _world(clock, ships, credits=200_000))
    assert fresh.purchases[0].ship_type == "SHIP_MINING_DRONE"
    assert "cheapest" in fresh.choices[0].reason
    # Ore hounds: 4000/h for 80k (0.05/credit) beat drones: 1000/h for 30k (0.033).
    measured = plan_actions(
        plan,
        _world(
            clock,
            ships,
            credits=200_000,
            earnings={"SHIP_ORE_HOUND": 4000.0, "SHIP_MINING_DRONE": 1000.0},
        ),
    )
    assert measured.purchases[0].ship_type == "SHIP_ORE_HOUND"
    figures = measured.choices[0].figures
    assert figures["SHIP_ORE_HOUND"]["cph_per_credit"] == 0.05
    assert figures["SHIP_MINING_DRONE"]["price"] == 30_000


def test_priority_decides_who_buys_when_credits_are_short() -> None:
    clock = ManualClock()
    plan = FleetPlan.from_data(
        {
            "reserve": 0,
            "roles": [
                {
                    "name": "watch",
                    "ship_type": "SHIP_PROBE",
                    "count": 1,
                    "behaviour": "probe",
                    "priority": 5,
                },
                {
                    "name": "miners",
                    "ship_type": "SHIP_MINING_DRONE",
                    "count": 1,
                    "behaviour": "mine",
                    "priority": 1,
                },
            ],
        }
    )
    actions = plan_actions(
        plan, _world(clock, [_ship("S-1", "SHIP_MINING_DRONE", status="DOCKED")], credits=25_000)
    )
    # The drone role is filled by S-1; the probe is affordable.
    assert [p.role for p in actions.purchases] == ["watch"]
    actions = plan_actions(plan, _world(clock, [_ship("S-1", "SHIP_PROBE")], credits=35_000))
    # The miners come first: 30k of 35k; nothing left for anything else.
    assert [p.role for p in actions.purchases] == ["miners"]
