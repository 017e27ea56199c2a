"""Game rules over the API, in process and on a manual clock: each broken rule answers with the
official error code and status, and time-driven state (flights, cooldowns, markets, surveys)
follows the clock at the configured time scale."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from flotilla.clock import ManualClock
from simulator.game import Game


def game_of(client: httpx.AsyncClient) -> Game:
    game: Game = client.app.game  # type: ignore[attr-defined]
    return game


def parse(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


async def expect_error(response: httpx.Response, status: int, code: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code, error
    return error


class Player:
    """One registered agent and shortcuts to its calls."""

    def __init__(self, client: httpx.AsyncClient, data: dict[str, Any]) -> None:
        self.client = client
        self.headers = data["headers"]
        self.agent = data["agent"]
        self.contract = data["contract"]
        self.frigate = data["ships"][0]["symbol"]
        self.probe = data["ships"][1]["symbol"]
        self.system = self.agent["headquarters"].rsplit("-", 1)[0]

    async def post(self, path: str, body: Any = None) -> httpx.Response:
        return await self.client.post(path, json=body, headers=self.headers)

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(path, params=params, headers=self.headers)

    async def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        response = await self.client.request(method, path, json=body, headers=self.headers)
        assert response.status_code == status, response.text
        return response.json()["data"]

    def place(self, ship: str, waypoint: str, status: str = "IN_ORBIT") -> None:
        """Put a ship somewhere directly (test set-up, not an API call)."""
        nav = game_of(self.client).ships[ship].nav
        nav.waypoint_symbol = nav.origin = nav.destination = waypoint
        nav.system_symbol = waypoint.rsplit("-", 1)[0]
        nav.status = status

    def waypoint_of_type(self, waypoint_type: str) -> str:
        game = game_of(self.client)
        return next(
            w.symbol
            for w in game.system_waypoints(self.agent["headquarters"])
            if w.type == waypoint_type
        )


@pytest.fixture
async def player(make_client: Any, register: Any) -> Player:
    client = make_client(time_scale=10)
    return Player(client, await register(client))


async def test_navigation_takes_the_formula_time_at_the_time_scale(
    player: Player, clock: ManualClock
) -> None:
    field = player.waypoint_of_type("ASTEROID_FIELD")
    await player.ok("POST", f"/my/ships/{player.frigate}/orbit")
    flight = await player.ok(
        "POST", f"/my/ships/{player.frigate}/navigate", {"waypointSymbol": field}
    )
    game = game_of(player.client)
    origin, target = game.waypoint(player.agent["headquarters"]), game.waypoint(field)
    from simulator import mechanics

    dist = mechanics.distance(origin.x, origin.y, target.x, target.y)
    game_seconds = mechanics.travel_seconds("CRUISE", dist, 30)
    route = flight["nav"]["route"]
    real = (parse(route["arrival"]) - parse(route["departureTime"])).total_seconds()
    assert real == pytest.approx(game_seconds / 10, abs=0.002)
    assert flight["fuel"]["consumed"]["amount"] == mechanics.fuel_cost("CRUISE", dist)

    error = await expect_error(await player.post(f"/my/ships/{player.frigate}/dock"), 400, 4214)
    assert error["data"]["secondsToArrival"] == int(-(-real // 1))
    assert error["data"]["destinationSymbol"] == field
    clock.advance(real)
    nav = await player.ok("GET", f"/my/ships/{player.frigate}/nav")
    assert nav["status"] == "IN_ORBIT" and nav["waypointSymbol"] == field


async def test_navigation_rules(player: Player) -> None:
    ship = f"/my/ships/{player.frigate}"
    here = player.agent["headquarters"]
    await expect_error(await player.post(f"{ship}/navigate", {"waypointSymbol": here}), 400, 4236)
    await player.ok("POST", f"{ship}/orbit")
    await expect_error(await player.post(f"{ship}/navigate", {"waypointSymbol": here}), 400, 4204)
    other_system = next(s for s in game_of(player.client).universe.systems if s != player.system)
    elsewhere = game_of(player.client).universe.systems[other_system].waypoints[0]
    await expect_error(
        await player.post(f"{ship}/navigate", {"waypointSymbol": elsewhere}), 400, 4202
    )
    await expect_error(
        await player.post(f"{ship}/navigate", {"waypointSymbol": "X1-NOPE-A1"}), 400, 4201
    )
    game_of(player.client).ships[player.frigate].fuel = 0
    far = player.waypoint_of_type("JUMP_GATE")
    error = await expect_error(
        await player.post(f"{ship}/navigate", {"waypointSymbol": far}), 400, 4203
    )
    assert error["data"]["fuelAvailable"] == 0
    drift = await player.ok("PATCH", f"{ship}/nav", {"flightMode": "DRIFT"})
    assert drift["nav"]["flightMode"] == "DRIFT"
    game_of(player.client).ships[player.frigate].fuel = 1
    flight = await player.ok("POST", f"{ship}/navigate", {"waypointSymbol": far})
    assert flight["fuel"]["current"] == 0  # drifting costs a single unit


async def test_orbit_and_dock_are_idempotent(player: Player) -> None:
    ship = f"/my/ships/{player.frigate}"
    for _ in range(2):
        assert (await player.ok("POST", f"{ship}/dock"))["nav"]["status"] == "DOCKED"
    for _ in range(2):
        assert (await player.ok("POST", f"{ship}/orbit"))["nav"]["status"] == "IN_ORBIT"


async def test_extraction_cooldown_is_reported_in_game_seconds_and_real_time(
    player: Player, clock: ManualClock
) -> None:
    ship = f"/my/ships/{player.frigate}"
    player.place(player.frigate, player.waypoint_of_type("ENGINEERED_ASTEROID"))
    assert (await player.get(f"{ship}/cooldown")).status_code == 204
    extracted = await player.ok("POST", f"{ship}/extract", None, 201)
    cooldown = extracted["cooldown"]
    assert cooldown["totalSeconds"] == 80  # 60 + 10 x power 2 of a mining laser II
    assert cooldown["remainingSeconds"] == 8  # at time scale 10
    assert parse(cooldown["expiration"]) == parse(extracted["cooldown"]["expiration"])
    assert 20 <= extracted["extraction"]["yield"]["units"] <= 30
    error = await expect_error(await player.post(f"{ship}/extract"), 409, 4000)
    assert error["data"]["cooldown"]["shipSymbol"] == player.frigate
    clock.advance(7.5)
    assert (await player.ok("GET", f"{ship}/cooldown"))["remainingSeconds"] == 1
    clock.advance(0.5)
    assert (await player.get(f"{ship}/cooldown")).status_code == 204
    idle = (await player.ok("GET", ship))["cooldown"]
    assert idle == {"shipSymbol": player.frigate, "totalSeconds": 0, "remainingSeconds": 0}


async def test_extraction_rules(player: Player, clock: ManualClock) -> None:
    ship = f"/my/ships/{player.frigate}"
    await expect_error(await player.post(f"{ship}/extract"), 400, 4236)
    await player.ok("POST", f"{ship}/orbit")
    await expect_error(await player.post(f"{ship}/extract"), 400, 4205)
    player.place(player.probe, player.waypoint_of_type("ASTEROID_FIELD"))
    await expect_error(await player.post(f"/my/ships/{player.probe}/extract"), 400, 4243)
    await expect_error(await player.post(f"/my/ships/{player.probe}/survey"), 400, 4240)
    player.place(player.frigate, player.waypoint_of_type("ASTEROID_FIELD"))
    game_of(player.client).ships[player.frigate].cargo["IRON_ORE"] = 40
    await expect_error(await player.post(f"{ship}/extract"), 400, 4228)
    game_of(player.client).ships[player.frigate].cargo["IRON_ORE"] = 35
    extracted = await player.ok("POST", f"{ship}/extract", None, 201)
    assert extracted["extraction"]["yield"]["units"] == 5  # capped by the free cargo


async def test_over_mining_makes_a_site_unstable(player: Player, clock: ManualClock) -> None:
    game = game_of(player.client)
    field = player.waypoint_of_type("ASTEROID_FIELD")
    player.place(player.frigate, field)
    seen: set[str] = set()
    for _ in range(18):
        game.ships[player.frigate].cargo.clear()
        data = await player.ok("POST", f"/my/ships/{player.frigate}/extract", None, 201)
        seen.update(m["symbol"] for m in data.get("modifiers", []))
        clock.advance(8)  # 80 game seconds apart: under one a game minute, the site stays calm
    assert seen == set()
    for _ in range(17):
        game.extraction_log(field).times.append(clock.now())
    waypoint = await player.ok("GET", f"/systems/{player.system}/waypoints/{field}")
    assert [m["symbol"] for m in waypoint["modifiers"]] == ["UNSTABLE"]


async def test_surveys_guide_extraction_until_they_expire_or_run_out(
    player: Player, clock: ManualClock
) -> None:
    ship = f"/my/ships/{player.frigate}"
    field = player.waypoint_of_type("ASTEROID_FIELD")
    player.place(player.frigate, field)
    surveyed = await player.ok("POST", f"{ship}/survey", None, 201)
    assert len(surveyed["surveys"]) == 2  # a surveyor II has strength 2
    assert surveyed["cooldown"]["totalSeconds"] == 90
    survey = surveyed["surveys"][0]
    assert survey["symbol"] == field and survey["size"] in {"SMALL", "MODERATE", "LARGE"}
    clock.advance(9)
    tampered = {**survey, "deposits": [{"symbol": "DIAMONDS"}]}
    await expect_error(await player.post(f"{ship}/extract/survey", tampered), 400, 4220)
    extracted = await player.ok("POST", f"{ship}/extract/survey", survey, 201)
    assert extracted["extraction"]["yield"]["symbol"] in {d["symbol"] for d in survey["deposits"]}
    clock.advance(8)
    game = game_of(player.client)
    game.surveys[survey["signature"]].extractions_left = 0
    await expect_error(await player.post(f"{ship}/extract/survey", survey), 400, 4224)
    game.surveys[survey["signature"]].extractions_left = 3
    player.place(player.frigate, player.waypoint_of_type("ENGINEERED_ASTEROID"))
    await expect_error(await player.post(f"{ship}/extract/survey", survey), 400, 4270)
    player.place(player.frigate, field)
    clock.advance((parse(survey["expiration"]) - clock.now()).total_seconds() + 1)
    await expect_error(await player.post(f"{ship}/extract/survey", survey), 400, 4221)
    # The deprecated way: the survey inside the body of /extract.
    fresh = (await player.ok("POST", f"{ship}/survey", None, 201))["surveys"][0]
    clock.advance(9)
    await player.ok("POST", f"{ship}/extract", {"survey": fresh}, 201)


async def test_prices_move_with_trades_and_exports_recover_over_time(
    player: Player, clock: ManualClock
) -> None:
    ship = f"/my/ships/{player.frigate}"
    hq = player.agent["headquarters"]
    market_path = f"/systems/{player.system}/waypoints/{hq}/market"
    anonymous = (await player.client.get(market_path)).json()["data"]
    assert "tradeGoods" not in anonymous  # prices only with a ship present
    goods = {g["symbol"]: g for g in (await player.ok("GET", market_path))["tradeGoods"]}
    assert goods["FUEL"]["type"] == "EXCHANGE"
    export = next(g for g in goods.values() if g["type"] == "EXPORT")
    for _ in range(3):
        await player.ok("POST", f"{ship}/purchase", {"symbol": "FUEL", "units": 10}, 201)
    await player.ok("POST", f"{ship}/purchase", {"symbol": export["symbol"], "units": 5}, 201)
    after = {g["symbol"]: g for g in (await player.ok("GET", market_path))["tradeGoods"]}
    assert after["FUEL"]["purchasePrice"] > goods["FUEL"]["purchasePrice"]
    assert after[export["symbol"]]["purchasePrice"] > export["purchasePrice"]
    clock.advance(3600)  # ten game hours at time scale 10
    later = {g["symbol"]: g for g in (await player.ok("GET", market_path))["tradeGoods"]}
    # Production brings the export back; an exchange good moves only with trades.
    assert later[export["symbol"]]["purchasePrice"] == export["purchasePrice"]
    assert later["FUEL"]["purchasePrice"] == after["FUEL"]["purchasePrice"]
    sale = await player.ok("POST", f"{ship}/sell", {"symbol": "FUEL", "units": 30}, 201)
    assert sale["transaction"]["type"] == "SELL"
    market = (await player.ok("GET", market_path))["transactions"]
    assert [t["type"] for t in market] == ["PURCHASE"] * 4 + ["SELL"]


async def test_trade_rules(make_client: Any, register: Any) -> None:
    client = make_client(starting_credits=100)
    player = Player(client, await register(client))
    ship = f"/my/ships/{player.frigate}"
    market_path = f"/systems/{player.system}/waypoints/{player.agent['headquarters']}/market"
    goods = {g["symbol"]: g for g in (await player.ok("GET", market_path))["tradeGoods"]}
    export = next(g for g in goods.values() if g["type"] == "EXPORT")
    error = await expect_error(
        await player.post(f"{ship}/purchase", {"symbol": export["symbol"], "units": 5}), 400, 4600
    )
    assert error["data"]["creditsAvailable"] == 100
    too_many = {"symbol": "FUEL", "units": goods["FUEL"]["tradeVolume"] + 1}
    await expect_error(await player.post(f"{ship}/purchase", too_many), 400, 4604)
    await expect_error(
        await player.post(f"{ship}/purchase", {"symbol": "DIAMONDS", "units": 1}), 400, 4601
    )
    await expect_error(
        await player.post(f"{ship}/sell", {"symbol": "DIAMONDS", "units": 1}), 400, 4602
    )
    await expect_error(await player.post(f"{ship}/sell", {"symbol": "FUEL", "units": 1}), 400, 4218)
    game_of(client).ships[player.frigate].cargo["FUEL"] = 1
    await expect_error(await player.post(f"{ship}/sell", {"symbol": "FUEL", "units": 2}), 400, 4219)
    await expect_error(await player.post(f"{ship}/sell", {"symbol": "FUEL", "units": 0}), 422, 3001)
    await expect_error(await player.post(f"{ship}/sell", {"symbol": "FUEL"}), 422, 3001)
    await player.ok("POST", f"{ship}/orbit")
    await expect_error(await player.post(f"{ship}/sell", {"symbol": "FUEL", "units": 1}), 400, 4244)


async def test_refuel_bills_whole_market_units_and_can_use_cargo(player: Player) -> None:
    ship = f"/my/ships/{player.frigate}"
    game_of(player.client).ships[player.frigate].fuel = 250
    refuelled = await player.ok("POST", f"{ship}/refuel", {"units": 101})
    assert refuelled["fuel"]["current"] == 351
    assert refuelled["transaction"]["units"] == 2
    game_of(player.client).ships[player.frigate].cargo["FUEL"] = 1
    from_cargo = await player.ok("POST", f"{ship}/refuel", {"fromCargo": True})
    assert from_cargo["fuel"]["current"] == 400 and from_cargo["cargo"]["units"] == 0


async def test_buying_ships_and_fitting_mounts(player: Player) -> None:
    game = game_of(player.client)
    yard = next(
        w.symbol for w in game.system_waypoints(player.agent["headquarters"]) if w.has_shipyard
    )
    order = {"shipType": "SHIP_MINING_DRONE", "waypointSymbol": yard}
    player.place(player.probe, player.agent["headquarters"], "DOCKED")
    await expect_error(await player.post("/my/ships", order), 400, 4245)
    player.place(player.probe, yard, "DOCKED")
    bought = await player.ok("POST", "/my/ships", order, 201)
    assert bought["ship"]["symbol"] == f"{player.agent['symbol']}-3"
    assert bought["transaction"]["shipSymbol"] == "SHIP_MINING_DRONE"
    drone = bought["ship"]["symbol"]
    game.ships[drone].cargo["MOUNT_SURVEYOR_I"] = 1
    install = f"/my/ships/{drone}/mounts/install"
    surveyor = {"symbol": "MOUNT_SURVEYOR_I"}
    await expect_error(await player.post(install, surveyor), 400, 4249)  # solar power is used up
    removed = await player.ok(
        "POST", f"/my/ships/{drone}/mounts/remove", {"symbol": "MOUNT_MINING_LASER_I"}, 201
    )
    assert {i["symbol"] for i in removed["cargo"]["inventory"]} >= {"MOUNT_MINING_LASER_I"}
    installed = await player.ok("POST", install, surveyor, 201)
    assert [m["symbol"] for m in installed["mounts"]] == ["MOUNT_SURVEYOR_I"]
    assert installed["transaction"]["totalPrice"] == game.shipyards[yard].modifications_fee
    game.ships[player.probe].cargo["MOUNT_SENSOR_ARRAY_I"] = 1
    await expect_error(  # a probe frame has no mounting point at all
        await player.post(
            f"/my/ships/{player.probe}/mounts/install", {"symbol": "MOUNT_SENSOR_ARRAY_I"}
        ),
        400,
        4250,
    )
    player.place(drone, player.agent["headquarters"], "DOCKED")
    await expect_error(
        await player.post(f"/my/ships/{drone}/mounts/remove", {"symbol": "MOUNT_SURVEYOR_I"}),
        400,
        4246,
    )
    game.agents[player.agent["symbol"]].credits = 10
    await expect_error(await player.post("/my/ships", order), 400, 4216)


async def test_contracts_pay_on_accept_and_on_fulfilment(player: Player) -> None:
    game = game_of(player.client)
    contract = player.contract
    deliver = contract["terms"]["deliver"][0]
    path = f"/my/contracts/{contract['id']}"
    body = {"shipSymbol": player.frigate, "tradeSymbol": deliver["tradeSymbol"], "units": 1}
    await expect_error(await player.post(f"{path}/deliver", body), 400, 4505)
    await expect_error(await player.post(f"{path}/fulfill"), 400, 4505)
    accepted = await player.ok("POST", f"{path}/accept")
    advance = contract["terms"]["payment"]["onAccepted"]
    assert accepted["agent"]["credits"] == 175_000 + advance
    ship = game.ships[player.frigate]
    ship.cargo[deliver["tradeSymbol"]] = 40
    player.place(player.frigate, player.agent["headquarters"], "DOCKED")
    if deliver["destinationSymbol"] != player.agent["headquarters"]:
        await expect_error(await player.post(f"{path}/deliver", body), 400, 4510)
    player.place(player.frigate, deliver["destinationSymbol"], "DOCKED")
    wrong = {**body, "tradeSymbol": "DIAMONDS"}
    await expect_error(await player.post(f"{path}/deliver", wrong), 400, 4508)
    remaining = deliver["unitsRequired"]
    while remaining:
        units = min(remaining, 40)
        ship.cargo[deliver["tradeSymbol"]] = units
        await player.ok("POST", f"{path}/deliver", {**body, "units": units})
        remaining -= units
    fulfilled = await player.ok("POST", f"{path}/fulfill")
    assert (
        fulfilled["agent"]["credits"]
        == 175_000 + advance + contract["terms"]["payment"]["onFulfilled"]
    )
    await expect_error(await player.post(f"{path}/fulfill"), 400, 4504)
    negotiated = await player.ok(
        "POST", f"/my/ships/{player.frigate}/negotiate/contract", None, 201
    )
    await expect_error(
        await player.post(f"/my/ships/{player.frigate}/negotiate/contract"), 400, 4511
    )
    assert negotiated["contract"]["id"] != contract["id"]
    assert (await player.get("/my/contracts/nope")).status_code == 404


async def test_contract_deadlines_follow_the_time_scale(player: Player, clock: ManualClock) -> None:
    contract = player.contract
    assert (parse(contract["deadlineToAccept"]) - clock.now()).total_seconds() == 8640
    clock.advance(8641)
    path = f"/my/contracts/{contract['id']}/accept"
    await expect_error(await player.post(path), 400, 4503)


async def test_transfer_rules(player: Player, make_client: Any, register: Any) -> None:
    ship = f"/my/ships/{player.frigate}"
    game = game_of(player.client)
    game.ships[player.frigate].cargo["FUEL"] = 2
    body = {"tradeSymbol": "FUEL", "units": 1, "shipSymbol": player.probe}
    await expect_error(
        await player.post(f"{ship}/transfer", {**body, "shipSymbol": "NOBODY-1"}), 400, 4231
    )
    await expect_error(
        await player.post(f"{ship}/transfer", {**body, "shipSymbol": player.frigate}), 400, 4233
    )
    await expect_error(await player.post(f"{ship}/transfer", body), 400, 4234)
    player.place(player.probe, player.agent["headquarters"], "IN_ORBIT")
    await expect_error(await player.post(f"{ship}/transfer", body), 400, 4271)
    other = await register(player.client, "OTHER")
    await expect_error(
        await player.post(f"{ship}/transfer", {**body, "shipSymbol": other["ships"][0]["symbol"]}),
        400,
        4232,
    )


async def test_jump_gates_connect_systems(player: Player, clock: ManualClock) -> None:
    game = game_of(player.client)
    gate = player.waypoint_of_type("JUMP_GATE")
    player.place(player.frigate, gate)
    connections = (await player.ok("GET", f"/systems/{player.system}/waypoints/{gate}/jump-gate"))[
        "connections"
    ]
    await expect_error(
        await player.post(f"/my/ships/{player.frigate}/jump", {"waypointSymbol": gate}), 400, 4255
    )
    credits = game.agents[player.agent["symbol"]].credits
    jumped = await player.ok(
        "POST", f"/my/ships/{player.frigate}/jump", {"waypointSymbol": connections[0]}
    )
    assert jumped["nav"]["waypointSymbol"] == connections[0]
    assert jumped["agent"]["credits"] == credits - jumped["transaction"]["totalPrice"]
    here, there = (game.universe.systems[s] for s in (player.system, jumped["nav"]["systemSymbol"]))
    from simulator import mechanics

    dist = mechanics.distance(here.x, here.y, there.x, there.y)
    assert jumped["cooldown"]["totalSeconds"] == mechanics.jump_cooldown(dist)


async def test_lists_are_paged_and_filtered(player: Player, api_document: Any) -> None:
    path = f"/systems/{player.system}/waypoints"
    first = await player.client.get(path, params={"limit": 20})
    body = first.json()
    assert body["meta"] == {"total": body["meta"]["total"], "page": 1, "limit": 20}
    second = (await player.client.get(path, params={"limit": 20, "page": 2})).json()
    assert len(body["data"]) + len(second["data"]) == min(40, body["meta"]["total"])
    too_big = await player.client.get(path, params={"limit": 21})
    await expect_error(too_big, 422, 3001)
    api_document.validate("GET", path, 422, too_big.content)
    both = await player.client.get(path, params={"traits": "MARKETPLACE,SHIPYARD"})
    assert both.json()["data"] and all(
        {"MARKETPLACE", "SHIPYARD"} <= {t["symbol"] for t in w["traits"]}
        for w in both.json()["data"]
    )
    repeated = await player.client.get(
        path, params=[("traits", "MARKETPLACE"), ("traits", "SHIPYARD")]
    )
    assert repeated.json()["data"] == both.json()["data"]
    gas = await player.client.get(path, params={"type": "GAS_GIANT"})
    assert {w["type"] for w in gas.json()["data"]} == {"GAS_GIANT"}
    ships = await player.get("/my/ships", limit=1, page=2)
    assert ships.json()["meta"] == {"total": 2, "page": 2, "limit": 1}
    assert ships.json()["data"][0]["symbol"] == player.probe
