"""The universe is generated from the seed alone and holds what a new agent needs."""

from __future__ import annotations

from typing import Any

from simulator import catalog
from simulator.universe import generate_universe


def _fingerprint(seed: int) -> list[tuple[object, ...]]:
    universe = generate_universe(seed, 8)
    return [
        (w.symbol, w.type, w.x, w.y, tuple(w.traits), w.market, w.shipyard)
        for w in universe.waypoints.values()
    ] + [(s.symbol, s.x, s.y, tuple(s.connections)) for s in universe.systems.values()]


def test_the_same_seed_gives_the_same_universe_and_another_seed_another() -> None:
    assert _fingerprint(5) == _fingerprint(5)
    assert _fingerprint(5) != _fingerprint(6)


def test_every_system_is_reachable_through_jump_gates() -> None:
    universe = generate_universe(3, 12)
    start = next(iter(universe.systems))
    seen, frontier = {start}, [start]
    while frontier:
        for other in universe.systems[frontier.pop()].connections:
            if other not in seen:
                seen.add(other)
                frontier.append(other)
    assert seen == set(universe.systems)
    for system in universe.systems.values():
        assert universe.waypoints[system.jump_gate].type == "JUMP_GATE"


def test_a_home_system_has_what_a_new_miner_needs_near_headquarters() -> None:
    universe = generate_universe(1, 8)
    hq = universe.headquarters["COSMIC"]
    waypoints = [universe.waypoints[w] for w in universe.system_of(hq).waypoints]
    types = {w.type for w in waypoints}
    assert {
        "PLANET",
        "MOON",
        "ORBITAL_STATION",
        "ASTEROID_FIELD",
        "ENGINEERED_ASTEROID",
        "GAS_GIANT",
        "JUMP_GATE",
        "ASTEROID",
    } <= types
    yards = [w for w in waypoints if w.has_shipyard]
    assert any("SHIP_ORE_HOUND" in w.shipyard and "SHIP_PROBE" in w.shipyard for w in yards)
    field = next(w for w in waypoints if w.type == "ASTEROID_FIELD")
    ore_buyers = [
        w
        for w in waypoints
        if w.market and set(field.deposits) & set(catalog.MARKET_PROFILES[w.market].imports)
    ]
    assert ore_buyers
    assert all(w.x == universe.waypoints[hq].x for w in waypoints if w.orbits == hq)


def test_waypoints_carry_real_types_and_traits() -> None:
    universe = generate_universe(2, 8)
    known_types = {
        "PLANET",
        "GAS_GIANT",
        "MOON",
        "ORBITAL_STATION",
        "JUMP_GATE",
        "ASTEROID_FIELD",
        "ASTEROID",
        "ENGINEERED_ASTEROID",
        "ASTEROID_BASE",
        "FUEL_STATION",
    }
    for waypoint in universe.waypoints.values():
        assert waypoint.type in known_types
        assert all(trait in catalog.TRAITS for trait in waypoint.traits)
        if waypoint.has_market:
            assert "MARKETPLACE" in waypoint.traits
    assert any(not w.charted for w in universe.waypoints.values())


async def test_the_api_serves_the_same_galaxy_for_the_same_seed(make_client: Any) -> None:
    async def galaxy(seed: int) -> list[Any]:
        client = make_client(seed=seed)
        systems = (await client.get("/systems", params={"limit": 20})).json()["data"]
        first = systems[0]["symbol"]
        waypoints = await client.get(f"/systems/{first}/waypoints", params={"limit": 20})
        return [systems, waypoints.json()["data"]]

    assert await galaxy(11) == await galaxy(11)
    assert await galaxy(11) != await galaxy(12)
