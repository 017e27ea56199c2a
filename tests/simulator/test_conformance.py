"""A scripted game over real HTTP, with plain httpx, in which every response of every covered
operation (errors included) must match the official OpenAPI document read from `../shared`.

The exceptions where the simulator follows the live API instead of the document are listed, with
their reasons, in `DOCUMENT_EXCEPTIONS` (conftest.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from simulator.config import RateLimitSection, SimulatorConfig
from simulator.server import running_simulator

TIME_SCALE = 200.0  # an 80 s extraction cooldown lasts 0.4 s; the second call still hits it


def wait_until(timestamp: str) -> None:
    """Sleep until an ISO time the API returned (an arrival or a cooldown expiration)."""
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    delay = moment.timestamp() - time.time()
    if delay > 0:
        time.sleep(delay + 0.01)


class Game:
    """A plain httpx client whose every response is checked against the document."""

    def __init__(self, http: httpx.Client, document: Any) -> None:
        self.http = http
        self.document = document
        self.headers: dict[str, str] = {}

    def call(self, method: str, path: str, expect: int, json: Any = None, **params: Any) -> Any:
        response = self.http.request(
            method, path, json=json, params=params or None, headers=self.headers
        )
        api_path = urlsplit(str(response.url)).path.removeprefix("/v2")
        self.document.validate(method, api_path or "/", response.status_code, response.content)
        assert response.status_code == expect, (method, path, response.text)
        return response.json() if response.content else None

    def data(
        self, method: str, path: str, expect: int = 200, json: Any = None, **params: Any
    ) -> Any:
        return self.call(method, path, expect, json, **params)["data"]

    def error(self, method: str, path: str, expect: int, code: int, json: Any = None) -> Any:
        error = self.call(method, path, expect, json)["error"]
        assert error["code"] == code, error
        return error


@pytest.fixture
def game(api_document: Any) -> Iterator[Game]:
    config = SimulatorConfig(
        seed=7, time_scale=TIME_SCALE, rate_limit=RateLimitSection(enabled=False)
    )
    with running_simulator(config) as url, httpx.Client(base_url=url, timeout=10) as http:
        yield Game(http, api_document)


def test_scripted_game_follows_the_official_document(game: Game, api_document: Any) -> None:
    status = game.call("GET", "/", 200)
    assert status["resetDate"]

    # Register: the token comes back in data.token; the symbol is then taken (409, 4111).
    game.error("GET", "/my/agent", 401, 4103)
    registered = game.data("POST", "/register", 201, {"symbol": "scripted", "faction": "COSMIC"})
    game.error("POST", "/register", 409, 4111, {"symbol": "SCRIPTED", "faction": "COSMIC"})
    game.headers = {"Authorization": f"Bearer {registered['token']}"}
    agent = game.data("GET", "/my/agent")
    assert agent["credits"] == 175_000
    assert game.data("GET", f"/agents/{agent['symbol']}")["symbol"] == "SCRIPTED"
    ships = game.call("GET", "/my/ships", 200, limit=20)
    assert ships["meta"]["total"] == 2
    frigate = next(s for s in ships["data"] if s["frame"]["symbol"] == "FRAME_FRIGATE")
    ship = frigate["symbol"]
    probe = next(s for s in ships["data"] if s["symbol"] != ship)["symbol"]
    contract = game.data("GET", "/my/contracts")[0]
    assert game.data("GET", f"/my/contracts/{contract['id']}")["id"] == contract["id"]
    wanted = contract["terms"]["deliver"][0]

    # Find an asteroid field and a market that buys its ore, near headquarters.
    system = agent["headquarters"].rsplit("-", 1)[0]
    assert game.data("GET", f"/systems/{system}")["symbol"] == system
    assert game.call("GET", "/systems", 200)["meta"]["total"] >= 2
    field = game.data("GET", f"/systems/{system}/waypoints", type="ASTEROID_FIELD")[0]
    assert game.data("GET", f"/systems/{system}/waypoints/{field['symbol']}")["type"] == (
        "ASTEROID_FIELD"
    )
    markets = game.call("GET", f"/systems/{system}/waypoints", 200, traits="MARKETPLACE", limit=20)
    buyers = [
        w["symbol"]
        for w in markets["data"]
        if any(
            g["symbol"] == wanted["tradeSymbol"]
            for g in game.data("GET", f"/systems/{system}/waypoints/{w['symbol']}/market")[
                "imports"
            ]
        )
    ]
    market = wanted["destinationSymbol"] if wanted["destinationSymbol"] in buyers else buyers[0]
    gate = game.data("GET", f"/systems/{system}/waypoints", type="JUMP_GATE")[0]["symbol"]
    assert game.data("GET", f"/systems/{system}/waypoints/{gate}/jump-gate")["connections"]

    # Orbit and fly to the field: docked ships cannot navigate (4236), flying ones cannot mine.
    game.error("POST", f"/my/ships/{ship}/navigate", 400, 4236, {"waypointSymbol": field["symbol"]})
    assert game.data("POST", f"/my/ships/{ship}/orbit")["nav"]["status"] == "IN_ORBIT"
    flight = game.data(
        "POST", f"/my/ships/{ship}/navigate", json={"waypointSymbol": field["symbol"]}
    )
    assert flight["nav"]["status"] == "IN_TRANSIT"
    in_transit = game.error("POST", f"/my/ships/{ship}/extract", 400, 4214)
    assert in_transit["data"]["secondsToArrival"] >= 0
    wait_until(flight["nav"]["route"]["arrival"])
    assert game.data("GET", f"/my/ships/{ship}/nav")["status"] == "IN_ORBIT"
    game.data("PATCH", f"/my/ships/{ship}/nav", json={"flightMode": "CRUISE"})

    # Survey, then extract until full, hitting and honouring the cooldown (4000).
    surveyed = game.data("POST", f"/my/ships/{ship}/survey", 201)
    wait_until(surveyed["cooldown"]["expiration"])
    extraction = game.data(
        "POST", f"/my/ships/{ship}/extract/survey", 201, json=surveyed["surveys"][0]
    )
    conflict = game.error("POST", f"/my/ships/{ship}/extract", 409, 4000)
    assert conflict["data"]["cooldown"]["remainingSeconds"] >= 1
    assert game.data("GET", f"/my/ships/{ship}/cooldown")["expiration"]
    cargo = extraction["cargo"]
    while cargo["units"] < cargo["capacity"]:
        wait_until(extraction["cooldown"]["expiration"])
        extraction = game.data("POST", f"/my/ships/{ship}/extract", 201)
        cargo = extraction["cargo"]
    wait_until(extraction["cooldown"]["expiration"])
    assert game.call("GET", f"/my/ships/{ship}/cooldown", 204) is None
    game.error("POST", f"/my/ships/{ship}/extract", 400, 4228)
    assert game.data("GET", f"/my/ships/{ship}/cargo")["units"] == cargo["capacity"]

    # Fly to the market, dock, sell everything but the contract's good, refuel.
    flight = game.data("POST", f"/my/ships/{ship}/navigate", json={"waypointSymbol": market})
    wait_until(flight["nav"]["route"]["arrival"])
    game.error("POST", f"/my/ships/{ship}/sell", 400, 4244, {"symbol": "IRON_ORE", "units": 1})
    game.data("POST", f"/my/ships/{ship}/dock")
    goods = {
        g["symbol"]: g
        for g in game.data("GET", f"/systems/{system}/waypoints/{market}/market")["tradeGoods"]
    }
    first = next(iter(goods.values()))
    game.error(
        "POST",
        f"/my/ships/{ship}/sell",
        400,
        4604,
        {"symbol": first["symbol"], "units": first["tradeVolume"] + 1},
    )
    credits = agent["credits"]
    for item in game.data("GET", f"/my/ships/{ship}/cargo")["inventory"]:
        if item["symbol"] == wanted["tradeSymbol"] or item["symbol"] not in goods:
            if item["symbol"] not in goods:
                game.data(
                    "POST",
                    f"/my/ships/{ship}/jettison",
                    json={"symbol": item["symbol"], "units": item["units"]},
                )
            continue
        sale = game.data(
            "POST",
            f"/my/ships/{ship}/sell",
            201,
            {"symbol": item["symbol"], "units": item["units"]},
        )
        assert sale["agent"]["credits"] == credits + sale["transaction"]["totalPrice"]
        credits = sale["agent"]["credits"]
    refuel = game.data("POST", f"/my/ships/{ship}/refuel")
    assert refuel["fuel"]["current"] == refuel["fuel"]["capacity"]
    assert refuel["agent"]["credits"] == credits - refuel["transaction"]["totalPrice"]
    credits = refuel["agent"]["credits"]

    # Buy an ore hound at the shipyard, buy a mount and install it.
    yard = game.data("GET", f"/systems/{system}/waypoints", traits="SHIPYARD")[0]["symbol"]
    if yard != market:
        game.data("POST", f"/my/ships/{ship}/orbit")
        flight = game.data("POST", f"/my/ships/{ship}/navigate", json={"waypointSymbol": yard})
        wait_until(flight["nav"]["route"]["arrival"])
        game.data("POST", f"/my/ships/{ship}/dock")
    shipyard = game.data("GET", f"/systems/{system}/waypoints/{yard}/shipyard")
    assert "SHIP_ORE_HOUND" in {s["type"] for s in shipyard["ships"]}
    bought = game.data(
        "POST", "/my/ships", 201, {"shipType": "SHIP_ORE_HOUND", "waypointSymbol": yard}
    )
    hound = bought["ship"]["symbol"]
    assert bought["agent"]["credits"] == credits - bought["transaction"]["price"]
    game.error(
        "POST", f"/my/ships/{hound}/mounts/install", 400, 4247, {"symbol": "MOUNT_MINING_LASER_I"}
    )
    yard_goods = game.data("GET", f"/systems/{system}/waypoints/{yard}/market")["tradeGoods"]
    mount = next(g["symbol"] for g in yard_goods if g["symbol"] == "MOUNT_MINING_LASER_I")
    game.data("POST", f"/my/ships/{hound}/purchase", 201, {"symbol": mount, "units": 1})
    installed = game.data("POST", f"/my/ships/{hound}/mounts/install", 201, {"symbol": mount})
    assert mount in {m["symbol"] for m in installed["mounts"]}
    assert mount in {m["symbol"] for m in game.data("GET", f"/my/ships/{hound}/mounts")}
    game.data("GET", f"/my/ships/{hound}")

    # Accept the contract and deliver the ore to its destination.
    accepted = game.data("POST", f"/my/contracts/{contract['id']}/accept")
    assert accepted["contract"]["accepted"] is True
    game.error("POST", f"/my/contracts/{contract['id']}/accept", 400, 4501)
    destination = wanted["destinationSymbol"]
    if game.data("GET", f"/my/ships/{ship}/nav")["waypointSymbol"] != destination:
        game.data("POST", f"/my/ships/{ship}/orbit")
        flight = game.data(
            "POST", f"/my/ships/{ship}/navigate", json={"waypointSymbol": destination}
        )
        wait_until(flight["nav"]["route"]["arrival"])
        game.data("POST", f"/my/ships/{ship}/dock")
    held = {
        i["symbol"]: i["units"] for i in game.data("GET", f"/my/ships/{ship}/cargo")["inventory"]
    }
    units = min(held.get(wanted["tradeSymbol"], 0), wanted["unitsRequired"])
    if units == 0:  # no luck at the asteroid: buy one unit at the destination
        game.data(
            "POST", f"/my/ships/{ship}/purchase", 201, {"symbol": wanted["tradeSymbol"], "units": 1}
        )
        units = 1
    delivered = game.data(
        "POST",
        f"/my/contracts/{contract['id']}/deliver",
        json={"shipSymbol": ship, "tradeSymbol": wanted["tradeSymbol"], "units": units},
    )
    assert delivered["contract"]["terms"]["deliver"][0]["unitsFulfilled"] == units
    game.error("POST", f"/my/contracts/{contract['id']}/fulfill", 400, 4502)
    assert game.call("GET", "/my/contracts", 200)["meta"]["total"] == 1
    game.error("GET", f"/my/ships/{probe}-NOPE", 404, 404)

    covered = {(method, template) for method, template, _ in api_document.checked}
    assert len(covered) >= 34, sorted(covered)


def goto(game: Game, ship: str, waypoint: str, *, dock: bool = False) -> None:
    nav = game.data("GET", f"/my/ships/{ship}/nav")
    if nav["waypointSymbol"] != waypoint:
        game.data("POST", f"/my/ships/{ship}/orbit")
        flight = game.data("POST", f"/my/ships/{ship}/navigate", json={"waypointSymbol": waypoint})
        wait_until(flight["nav"]["route"]["arrival"])
    game.data("POST", f"/my/ships/{ship}/dock" if dock else f"/my/ships/{ship}/orbit")


def test_fleet_operations_follow_the_official_document(game: Game, api_document: Any) -> None:
    registered = game.data("POST", "/register", 201, {"symbol": "FLEET", "faction": "COSMIC"})
    game.headers = {"Authorization": "Bearer not-a-token"}
    game.error("GET", "/my/ships", 401, 4104)
    game.headers = {"Authorization": f"Bearer {registered['token']}"}
    frigate, probe = (s["symbol"] for s in registered["ships"])
    contract = registered["contract"]
    wanted = contract["terms"]["deliver"][0]
    destination = wanted["destinationSymbol"]
    system = destination.rsplit("-", 1)[0]
    assert game.data("GET", "/factions/COSMIC")["symbol"] == "COSMIC"
    assert game.call("GET", "/factions", 200)["meta"]["total"] >= 1
    assert game.call("GET", "/agents", 200)["meta"]["total"] >= 1
    assert game.data("GET", f"/my/ships/{frigate}/modules")

    # Fulfil the first contract by buying its good where it is delivered, then negotiate.
    game.data("POST", f"/my/contracts/{contract['id']}/accept")
    goto(game, frigate, destination, dock=True)
    remaining = wanted["unitsRequired"]
    while remaining:
        units = min(remaining, 40)
        game.data(
            "POST",
            f"/my/ships/{frigate}/purchase",
            201,
            {"symbol": wanted["tradeSymbol"], "units": units},
        )
        game.data(
            "POST",
            f"/my/contracts/{contract['id']}/deliver",
            json={"shipSymbol": frigate, "tradeSymbol": wanted["tradeSymbol"], "units": units},
        )
        remaining -= units
    fulfilled = game.data("POST", f"/my/contracts/{contract['id']}/fulfill")
    assert fulfilled["contract"]["fulfilled"] is True
    negotiated = game.data("POST", f"/my/ships/{frigate}/negotiate/contract", 201)
    game.error("POST", f"/my/ships/{frigate}/negotiate/contract", 400, 4511)
    assert negotiated["contract"]["accepted"] is False

    # Cargo between two ships at one place; mounts off and on again.
    yard = game.data("GET", f"/systems/{system}/waypoints", traits="SHIPYARD")[0]["symbol"]
    goto(game, frigate, yard, dock=True)
    goto(game, probe, yard, dock=True)
    game.data("POST", f"/my/ships/{frigate}/purchase", 201, {"symbol": "FUEL", "units": 2})
    game.error(
        "POST",
        f"/my/ships/{frigate}/transfer",
        400,
        4217,
        {"tradeSymbol": "FUEL", "units": 1, "shipSymbol": probe},
    )
    jettisoned = game.data(
        "POST", f"/my/ships/{frigate}/jettison", json={"symbol": "FUEL", "units": 1}
    )
    assert jettisoned["cargo"]["units"] == 1
    game.data("POST", "/my/ships", 201, {"shipType": "SHIP_MINING_DRONE", "waypointSymbol": yard})
    drone = game.call("GET", "/my/ships", 200)["data"][-1]["symbol"]
    moved = game.data(
        "POST",
        f"/my/ships/{frigate}/transfer",
        json={"tradeSymbol": "FUEL", "units": 1, "shipSymbol": drone},
    )
    assert moved["cargo"]["units"] == 0
    removed = game.data(
        "POST", f"/my/ships/{drone}/mounts/remove", 201, {"symbol": "MOUNT_MINING_LASER_I"}
    )
    assert removed["mounts"] == []
    game.data("POST", f"/my/ships/{drone}/mounts/install", 201, {"symbol": "MOUNT_MINING_LASER_I"})
    game.error(
        "POST", "/my/ships", 400, 4605, {"shipType": "SHIP_BULK_FREIGHTER", "waypointSymbol": yard}
    )

    # Scans, a siphon at the gas giant, a faster flight mode mid-flight, a jump and a chart.
    scanned = game.data("POST", f"/my/ships/{frigate}/scan/waypoints", 201)
    assert scanned["waypoints"]
    wait_until(scanned["cooldown"]["expiration"])
    assert game.data("POST", f"/my/ships/{frigate}/scan/systems", 201)["systems"]
    wait_until(game.data("GET", f"/my/ships/{frigate}")["cooldown"]["expiration"])
    assert game.data("POST", f"/my/ships/{frigate}/scan/ships", 201)["ships"]
    giant_waypoint = game.data("GET", f"/systems/{system}/waypoints", type="GAS_GIANT")[0]
    giant = giant_waypoint["symbol"]
    wait_until(game.data("GET", f"/my/ships/{frigate}")["cooldown"]["expiration"])
    game.data("POST", f"/my/ships/{frigate}/orbit")
    flight = game.data("POST", f"/my/ships/{frigate}/navigate", json={"waypointSymbol": giant})
    game.error("PATCH", f"/my/ships/{frigate}/nav", 400, 4269, {"flightMode": "DRIFT"})
    faster = game.data("PATCH", f"/my/ships/{frigate}/nav", json={"flightMode": "BURN"})
    assert faster["nav"]["route"]["arrival"] <= flight["nav"]["route"]["arrival"]
    wait_until(faster["nav"]["route"]["arrival"])
    siphoned = game.data("POST", f"/my/ships/{frigate}/siphon", 201)
    assert siphoned["siphon"]["yield"]["units"] > 0
    game.error("POST", f"/my/ships/{frigate}/jump", 409, 4000, {"waypointSymbol": "X1-NONE-A1"})
    wait_until(siphoned["cooldown"]["expiration"])
    game.data("PATCH", f"/my/ships/{frigate}/nav", json={"flightMode": "CRUISE"})
    gate = game.data("GET", f"/systems/{system}/waypoints", type="JUMP_GATE")[0]["symbol"]
    game.error("POST", f"/my/ships/{frigate}/jump", 400, 4254, {"waypointSymbol": gate})
    goto(game, frigate, giant_waypoint["orbitals"][0]["symbol"], dock=True)  # its fuel market
    game.data("POST", f"/my/ships/{frigate}/refuel")
    goto(game, frigate, gate, dock=True)
    game.data("POST", f"/my/ships/{frigate}/refuel")
    game.data("POST", f"/my/ships/{frigate}/orbit")
    target = game.data("GET", f"/systems/{system}/waypoints/{gate}/jump-gate")["connections"][0]
    jumped = game.data("POST", f"/my/ships/{frigate}/jump", json={"waypointSymbol": target})
    assert jumped["nav"]["systemSymbol"] == target.rsplit("-", 1)[0]
    assert jumped["transaction"]["tradeSymbol"] == "ANTIMATTER"
    game.error("POST", f"/my/ships/{frigate}/chart", 400, 4230)
    there = game.call(
        "GET",
        f"/systems/{jumped['nav']['systemSymbol']}/waypoints",
        200,
        traits="UNCHARTED",
        limit=20,
    )["data"]
    if there:
        goto(game, frigate, there[0]["symbol"])
        charted = game.data("POST", f"/my/ships/{frigate}/chart", 201)
        assert charted["waypoint"]["traits"][0]["symbol"] != "UNCHARTED"

    covered = {(method, template) for method, template, _ in api_document.checked}
    for operation in [
        ("POST", "/my/contracts/{contractId}/fulfill"),
        ("POST", "/my/ships/{shipSymbol}/negotiate/contract"),
        ("POST", "/my/ships/{shipSymbol}/transfer"),
        ("POST", "/my/ships/{shipSymbol}/jettison"),
        ("POST", "/my/ships/{shipSymbol}/mounts/remove"),
        ("POST", "/my/ships/{shipSymbol}/scan/waypoints"),
        ("POST", "/my/ships/{shipSymbol}/jump"),
        ("POST", "/my/ships/{shipSymbol}/chart"),
        ("POST", "/my/ships/{shipSymbol}/siphon"),
    ]:
        assert operation in covered, operation
