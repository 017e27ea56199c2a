"""The admin route that seeds an agent with ships for benchmarks and tests: refused unless the
simulator is started with it enabled, outside the rate limit, all-or-nothing on bad input, and
the ships it makes are ordinary ships that the API lists and lets act."""

from __future__ import annotations

import argparse
from typing import Any

import httpx
import pytest

from flotilla.kit.options import add_setting_options, option_values
from flotilla.settings import load_settings
from simulator import catalog
from simulator.config import RateLimitSection, SimulatorConfig, SimulatorSettings
from simulator.declaration import SERVICE
from simulator.game import Game

SEED_URL = "http://simulator.test/admin/agents/{agent}/ships"


def game_of(client: httpx.AsyncClient) -> Game:
    game: Game = client.app.game  # type: ignore[attr-defined]
    return game


async def all_ships(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    ships: list[dict[str, Any]] = []
    page = 1
    while True:
        response = await client.get(
            "/my/ships", params={"page": page, "limit": 20}, headers=headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        ships += body["data"]
        if page * 20 >= body["meta"]["total"]:
            return ships
        page += 1


def asteroids(game: Game, headquarters: str) -> list[str]:
    return [
        w.symbol for w in game.system_waypoints(headquarters) if w.type in catalog.MINEABLE_TYPES
    ]


async def test_the_route_is_refused_unless_enabled(make_client: Any, register: Any) -> None:
    client = make_client()  # the default: off
    data = await register(client)
    response = await client.post(
        SEED_URL.format(agent=data["agent"]["symbol"]),
        json={"ships": [{"type": "SHIP_MINING_DRONE", "count": 3}]},
    )
    assert response.status_code == 403, response.text
    assert "FLOTILLA_SIMULATOR_ADMIN_ENABLED" in response.json()["error"]["message"]
    assert len(await all_ships(client, data["headers"])) == 2  # the starting fleet only


async def test_seeded_ships_are_listed_spread_over_their_waypoints_and_can_act(
    make_client: Any, register: Any
) -> None:
    client = make_client(admin_enabled=True)
    data = await register(client)
    agent, headers = data["agent"], data["headers"]
    rocks = asteroids(game_of(client), agent["headquarters"])
    assert len(rocks) >= 1
    where = [rocks[0], agent["headquarters"]]
    response = await client.post(
        SEED_URL.format(agent=agent["symbol"].lower()),
        json={
            "ships": [
                {
                    "type": "SHIP_MINING_DRONE",
                    "count": 5,
                    "waypoints": where,
                    "status": "IN_ORBIT",
                    "cargo": {"IRON_ORE": 10, "QUARTZ_SAND": 2},
                },
                {"type": "SHIP_PROBE", "count": 3},
            ]
        },
    )
    assert response.status_code == 201, response.text
    drones, probes = response.json()["data"]["ships"]
    assert len(drones) == 5 and len(probes) == 3

    listed = {s["symbol"]: s for s in await all_ships(client, headers)}
    assert len(listed) == 2 + 8
    for index, symbol in enumerate(drones):
        ship = listed[symbol]
        assert ship["frame"]["symbol"] == "FRAME_DRONE"
        assert ship["nav"]["waypointSymbol"] == where[index % 2]
        assert ship["nav"]["status"] == "IN_ORBIT"
        assert ship["cargo"]["units"] == 12
        assert {i["symbol"]: i["units"] for i in ship["cargo"]["inventory"]} == {
            "IRON_ORE": 10,
            "QUARTZ_SAND": 2,
        }
        assert ship["fuel"]["current"] == ship["fuel"]["capacity"]
    for symbol in probes:
        assert listed[symbol]["frame"]["symbol"] == "FRAME_PROBE"
        assert listed[symbol]["nav"]["waypointSymbol"] == agent["headquarters"]
        assert listed[symbol]["nav"]["status"] == "DOCKED"

    # An ordinary ship: it mines where it was put, into the hold it was given.
    extracted = await client.post(f"/my/ships/{drones[0]}/extract", headers=headers)
    assert extracted.status_code == 201, extracted.text
    assert extracted.json()["data"]["cargo"]["units"] > 12


async def test_seeding_spends_no_rate_limit(make_client: Any, register: Any) -> None:
    # Two requests a second and no burst: any point spent by seeding would show.
    client = make_client(
        SimulatorConfig(admin_enabled=True, rate_limit=RateLimitSection(static=2, burst=0))
    )
    data = await register(client)  # spends one point
    for _ in range(3):
        response = await client.post(
            SEED_URL.format(agent=data["agent"]["symbol"]),
            json={"ships": [{"type": "SHIP_PROBE", "count": 2}]},
        )
        assert response.status_code == 201, response.text
    allowed = await client.get("/my/agent", headers=data["headers"])
    assert allowed.status_code == 200, allowed.text
    refused = await client.get("/my/agent", headers=data["headers"])
    assert refused.status_code == 429  # the pool is empty now: seeding spent none of it


async def test_bad_input_names_the_field_and_creates_nothing(
    make_client: Any, register: Any
) -> None:
    client = make_client(admin_enabled=True)
    data = await register(client)
    url = SEED_URL.format(agent=data["agent"]["symbol"])
    good = {"type": "SHIP_PROBE", "count": 1}
    cases = [
        ({"ships": [good, {"type": "SHIP_NONESUCH", "count": 1}]}, ["ships", "1", "type"]),
        ({"ships": [good, {"type": "SHIP_PROBE", "count": 0}]}, ["ships", "1", "count"]),
        (
            {"ships": [good, {"type": "SHIP_PROBE", "count": 1, "waypoints": ["X9-NOPE-A1"]}]},
            ["ships", "1", "waypoints", "0"],
        ),
        (
            {"ships": [{"type": "SHIP_MINING_DRONE", "count": 1, "cargo": {"IRON_ORE": 99}}]},
            ["ships", "0", "cargo"],
        ),
        (
            {"ships": [{"type": "SHIP_MINING_DRONE", "count": 1, "cargo": {"GOLDEN_FLEECE": 1}}]},
            ["ships", "0", "cargo", "GOLDEN_FLEECE"],
        ),
        ({"ships": [{"type": "SHIP_PROBE", "count": 1, "status": "IN_TRANSIT"}]}, None),
        ({"ships": []}, ["ships"]),
    ]
    for body, path in cases:
        response = await client.post(url, json=body)
        assert response.status_code == 422, (body, response.text)
        issues = response.json()["error"]["data"]["issues"]
        if path is not None:
            assert [issue["path"] for issue in issues] == [path], (body, issues)
        else:
            assert issues[0]["path"][-1] == "status", issues
    unknown = await client.post(SEED_URL.format(agent="NOBODY"), json={"ships": [good]})
    assert unknown.status_code == 404, unknown.text
    assert len(await all_ships(client, data["headers"])) == 2


def _settings_from(argv: list[str]) -> SimulatorSettings:
    """Settings as `flotilla simulator <argv>` builds them (options over the environment)."""
    parser = argparse.ArgumentParser()
    options = add_setting_options(parser, SimulatorSettings, SERVICE.option_prefix())
    values, names = option_values(parser.parse_args(argv), options)
    return load_settings(SimulatorSettings, values, option_names=names)


def test_the_option_and_its_variable_turn_it_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLOTILLA_SIMULATOR_ADMIN_ENABLED", raising=False)
    assert not _settings_from([]).config.admin_enabled
    assert _settings_from(["--admin-enabled"]).config.admin_enabled
    monkeypatch.setenv("FLOTILLA_SIMULATOR_ADMIN_ENABLED", "true")
    assert _settings_from([]).config.admin_enabled
    assert not _settings_from(["--no-admin-enabled"]).config.admin_enabled
