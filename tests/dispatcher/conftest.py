"""Helpers for the dispatcher's tests.

`FakeGame` is a FAKE of the SpaceTraders API behind the gateway: a small in-memory game that
answers the dispatcher's calls (as `ApiResult`s, the way the gateway would) and records every
call. It follows the API's shapes and the rules the behaviours rely on (cooldowns, flights and
fuel, cargo capacity, trade volume, survey exhaustion) on the test's injected `ManualClock`, so
that each behaviour's decisions are unit-tested in milliseconds, and it can be told to answer
any error on cue. The same behaviours against the real gateway and simulator, on real NATS,
are in test_stack.py (`stack.py`).

`Recorder` stands in for the JetStream publisher in unit tests (it keeps what would be sent).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from google.protobuf.message import Message

from dispatcher.assignments import Assignment
from dispatcher.control import ShipControl
from dispatcher.leases import Lease
from dispatcher.settings import DispatcherSettings
from dispatcher.ship import ShipModel
from dispatcher.timing import ManualTimers, ServerClock
from dispatcher.transport import FencedTransport
from dispatcher.worldview import WorldView
from flotilla.client import CallRequest, SpaceTradersClient
from flotilla.clock import Clock, ManualClock
from flotilla.settings import load_settings
from flotilla.v1.api_pb2 import ApiResult, CallOutcome, ShipFence

SYSTEM = "X1-T1"
ASTEROID = f"{SYSTEM}-AST"
MARKET = f"{SYSTEM}-MKT"
FAR_MARKET = f"{SYSTEM}-FAR"
SHIPYARD = f"{SYSTEM}-YRD"
GATE = f"{SYSTEM}-GATE"
EXTRACT_COOLDOWN = 70
SURVEY_COOLDOWN = 70
SURVEY_USES = {"SMALL": 2, "MODERATE": 4, "LARGE": 6}


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class GameError(Exception):
    """An API error answer."""

    def __init__(
        self, code: int, message: str, data: dict[str, Any] | None = None, status: int = 400
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data or {}
        self.status = status


@dataclass
class FakeShip:
    symbol: str
    waypoint: str = ASTEROID
    status: str = "IN_ORBIT"
    flight_mode: str = "CRUISE"
    origin: str = ASTEROID
    departure: datetime | None = None
    arrival: datetime | None = None
    fuel: int = 100
    fuel_capacity: int = 100
    cargo_capacity: int = 40
    cargo: dict[str, int] = field(default_factory=dict)
    cooldown_until: datetime | None = None
    cooldown_total: int = 0
    mounts: list[str] = field(default_factory=lambda: ["MOUNT_MINING_LASER_I"])
    speed: int = 30


@dataclass
class FakeGood:
    type: str
    purchase_price: int
    sell_price: int
    trade_volume: int = 10
    supply: str = "MODERATE"


@dataclass
class Call:
    """One call the fake answered: what a test counts."""

    method: str
    path: str
    body: dict[str, Any] | None
    ship: str
    fence_token: int
    node: str
    at: float = 0.0  # the game clock's monotonic reading when the call arrived

    @property
    def action(self) -> str:
        """The last path segment(s) that name the action (`orbit`, `extract/survey`, ...)."""
        if self.method == "PATCH":
            return "flight_mode"
        for pattern, name in _ACTION_NAMES:
            match = re.fullmatch(pattern, self.path)
            if match:
                return match.expand(name)
        return self.path


_ACTION_NAMES = [
    (r"/my/ships/[^/]+/extract/survey", "extract_survey"),
    (r"/my/ships/[^/]+/scan/waypoints", "scan"),
    (r"/my/ships/[^/]+/mounts/(install|remove)", "mounts"),
    (r"/my/ships/[^/]+/negotiate/contract", "negotiate"),
    (r"/my/ships/[^/]+/([a-z]+)", r"\1"),
    (r"/my/ships/[^/]+", "get_ship"),
    (r"/systems/[^/]+/waypoints/[^/]+/market", "market"),
    (r"/systems/[^/]+/waypoints/[^/]+/shipyard", "shipyard"),
    (r"/systems/[^/]+/waypoints/[^/]+/jump-gate", "jump_gate"),
    (r"/systems/[^/]+/waypoints", "waypoints"),
    (r"/my/contracts", "contracts"),
    (r"/my/contracts/[^/]+/(accept|deliver|fulfill)", r"\1"),
]


class FakeGame:
    """A FAKE SpaceTraders API (see the module docstring) used as the dispatcher's transport."""

    def __init__(self, clock: Clock, agent: str = "FAKE") -> None:
        self.clock = clock
        self.agent = agent
        self.credits = 100_000
        self.ships: dict[str, FakeShip] = {}
        self.waypoints: dict[str, dict[str, Any]] = {
            ASTEROID: {"type": "ASTEROID", "x": 0, "y": 0, "traits": ["COMMON_METAL_DEPOSITS"]},
            MARKET: {"type": "PLANET", "x": 30, "y": 40, "traits": ["MARKETPLACE"]},
            FAR_MARKET: {"type": "MOON", "x": 300, "y": 400, "traits": ["MARKETPLACE"]},
            SHIPYARD: {
                "type": "ORBITAL_STATION",
                "x": 10,
                "y": 0,
                "traits": ["SHIPYARD", "MARKETPLACE"],
            },
            GATE: {"type": "JUMP_GATE", "x": -20, "y": 0, "traits": []},
        }
        self.charted: set[str] = {ASTEROID, MARKET, FAR_MARKET, SHIPYARD}
        self.markets: dict[str, dict[str, FakeGood]] = {
            MARKET: {
                "IRON_ORE": FakeGood("IMPORT", 60, 50),
                "COPPER_ORE": FakeGood("IMPORT", 80, 70),
                "FUEL": FakeGood("EXCHANGE", 70, 60, 100),
                "FOOD": FakeGood("EXPORT", 20, 15),
            },
            FAR_MARKET: {
                "IRON_ORE": FakeGood("IMPORT", 120, 100),
                "FOOD": FakeGood("IMPORT", 90, 80),
                "FUEL": FakeGood("EXCHANGE", 70, 60, 100),
            },
            SHIPYARD: {
                "MOUNT_MINING_LASER_II": FakeGood("EXPORT", 5000, 2500, 5),
                "MOUNT_MINING_LASER_I": FakeGood("EXPORT", 2000, 1000, 5),
                "MOUNT_SURVEYOR_I": FakeGood("EXPORT", 3000, 1500, 5),
                "FUEL": FakeGood("EXCHANGE", 70, 60, 100),
            },
        }
        self.deposits = ["IRON_ORE", "COPPER_ORE", "QUARTZ_SAND"]
        self._deposit_cycle = itertools.cycle(range(len(self.deposits)))
        self.surveys: dict[str, dict[str, Any]] = {}
        self._survey_ids = itertools.count(1)
        self.contracts: dict[str, dict[str, Any]] = {}
        self.gate_connections: list[str] = ["X1-T2-GATE"]
        self.calls: list[Call] = []
        self._faults: list[tuple[str, GameError]] = []
        self._lock = asyncio.Lock()
        self._query: dict[str, str] = {}

    # --- set-up helpers ---------------------------------------------------------------------------

    def add_ship(self, symbol: str, **fields: Any) -> FakeShip:
        ship = FakeShip(symbol=symbol, **fields)
        self.ships[symbol] = ship
        return ship

    def add_contract(
        self, contract_id: str, good: str, units: int, destination: str = MARKET
    ) -> None:
        self.contracts[contract_id] = {
            "id": contract_id,
            "factionSymbol": "COSMIC",
            "type": "PROCUREMENT",
            "accepted": False,
            "fulfilled": False,
            "terms": {
                "deadline": _iso(self.clock.now() + timedelta(days=7)),
                "payment": {"onAccepted": 1000, "onFulfilled": 5000},
                "deliver": [
                    {
                        "tradeSymbol": good,
                        "destinationSymbol": destination,
                        "unitsRequired": units,
                        "unitsFulfilled": 0,
                    }
                ],
            },
        }

    def fail_next(
        self, action: str, code: int, data: dict[str, Any] | None = None, status: int = 400
    ) -> None:
        """Answer the next call of `action` with API error `code` (nothing else happens)."""
        self._faults.append((action, GameError(code, f"fake error {code}", data, status)))

    def calls_of(self, ship: str) -> list[str]:
        return [c.action for c in self.calls if c.ship == ship]

    # --- the transport -----------------------------------------------------------------------

    async def send(self, request: CallRequest) -> ApiResult:
        call = Call(
            request.method.upper(),
            request.path,
            request.body,
            request.ship_symbol,
            request.fence.token if request.fence is not None else 0,
            request.node,
            self.clock.monotonic(),
        )
        self.calls.append(call)
        self._query = dict(request.query)
        for index, (action, error) in enumerate(self._faults):
            if action == call.action:
                del self._faults[index]
                return self._error(error)
        try:
            async with self._lock:
                status, data, meta = self._answer(call)
        except GameError as error:
            return self._error(error)
        body: dict[str, Any] = {"data": data}
        if meta is not None:
            body["meta"] = meta
        return ApiResult(
            outcome=CallOutcome.CALL_OUTCOME_COMPLETED,
            status=status,
            json_body=json.dumps(body).encode(),
        )

    def _error(self, error: GameError) -> ApiResult:
        payload = {"error": {"code": error.code, "message": error.message, "data": error.data}}
        return ApiResult(
            outcome=CallOutcome.CALL_OUTCOME_COMPLETED,
            status=error.status,
            json_body=json.dumps(payload).encode(),
            error_code=error.code,
            error_message=error.message,
        )

    # --- shapes ------------------------------------------------------------------------------

    def _point(self, symbol: str) -> dict[str, Any]:
        w = self.waypoints[symbol]
        return {
            "symbol": symbol,
            "type": w["type"],
            "systemSymbol": _system(symbol),
            "x": w["x"],
            "y": w["y"],
        }

    def _land(self, ship: FakeShip) -> None:
        if (
            ship.status == "IN_TRANSIT"
            and ship.arrival is not None
            and ship.arrival <= self.clock.now()
        ):
            ship.status = "IN_ORBIT"

    def _nav(self, ship: FakeShip) -> dict[str, Any]:
        self._land(ship)
        now = self.clock.now()
        return {
            "systemSymbol": _system(ship.waypoint),
            "waypointSymbol": ship.waypoint,
            "status": ship.status,
            "flightMode": ship.flight_mode,
            "route": {
                "origin": self._point(ship.origin),
                "destination": self._point(ship.waypoint),
                "departureTime": _iso(ship.departure or now),
                "arrival": _iso(ship.arrival or now),
            },
        }

    def _fuel(self, ship: FakeShip) -> dict[str, Any]:
        return {"current": ship.fuel, "capacity": ship.fuel_capacity}

    def _cargo(self, ship: FakeShip) -> dict[str, Any]:
        return {
            "capacity": ship.cargo_capacity,
            "units": sum(ship.cargo.values()),
            "inventory": [
                {"symbol": s, "units": u} for s, u in sorted(ship.cargo.items()) if u > 0
            ],
        }

    def _cooldown(self, ship: FakeShip) -> dict[str, Any]:
        now = self.clock.now()
        if ship.cooldown_until is None or ship.cooldown_until <= now:
            return {"shipSymbol": ship.symbol, "totalSeconds": 0, "remainingSeconds": 0}
        return {
            "shipSymbol": ship.symbol,
            "totalSeconds": ship.cooldown_total,
            "remainingSeconds": math.ceil((ship.cooldown_until - now).total_seconds()),
            "expiration": _iso(ship.cooldown_until),
        }

    def _mounts(self, ship: FakeShip) -> list[dict[str, Any]]:
        return [{"symbol": m, "strength": 10} for m in ship.mounts]

    def _ship(self, ship: FakeShip) -> dict[str, Any]:
        return {
            "symbol": ship.symbol,
            "registration": {"name": ship.symbol, "factionSymbol": "COSMIC", "role": "EXCAVATOR"},
            "nav": self._nav(ship),
            "cargo": self._cargo(ship),
            "fuel": self._fuel(ship),
            "cooldown": self._cooldown(ship),
            "frame": {"symbol": "FRAME_MINER"},
            "engine": {"symbol": "ENGINE_ION_DRIVE_I", "speed": ship.speed},
            "mounts": self._mounts(ship),
        }

    def _agent(self) -> dict[str, Any]:
        return {
            "symbol": self.agent,
            "credits": self.credits,
            "headquarters": MARKET,
            "startingFaction": "COSMIC",
            "shipCount": len(self.ships),
        }

    def _waypoint(self, symbol: str) -> dict[str, Any]:
        w = self.waypoints[symbol]
        traits = [{"symbol": t} for t in w["traits"]]
        if symbol not in self.charted:
            traits.append({"symbol": "UNCHARTED"})
        return {
            "symbol": symbol,
            "type": w["type"],
            "systemSymbol": _system(symbol),
            "x": w["x"],
            "y": w["y"],
            "traits": traits,
            "chart": {"submittedBy": "X"} if symbol in self.charted else None,
        }

    # --- rules -------------------------------------------------------------------------------

    def _get_ship(self, symbol: str) -> FakeShip:
        if symbol not in self.ships:
            raise GameError(404, f"ship {symbol} not found", status=404)
        ship = self.ships[symbol]
        self._land(ship)
        return ship

    def _not_in_transit(self, ship: FakeShip) -> None:
        if ship.status == "IN_TRANSIT":
            assert ship.arrival is not None
            raise GameError(
                4214,
                "ship in transit",
                {
                    "arrival": _iso(ship.arrival),
                    "secondsToArrival": (ship.arrival - self.clock.now()).total_seconds(),
                },
            )

    def _no_cooldown(self, ship: FakeShip) -> None:
        if ship.cooldown_until is not None and ship.cooldown_until > self.clock.now():
            raise GameError(4000, "cooldown", {"cooldown": self._cooldown(ship)}, status=409)

    def _orbiting(self, ship: FakeShip) -> None:
        self._not_in_transit(ship)
        if ship.status != "IN_ORBIT":
            raise GameError(4236, "not in orbit")

    def _docked(self, ship: FakeShip) -> None:
        self._not_in_transit(ship)
        if ship.status != "DOCKED":
            raise GameError(4244, "not docked")

    def _start_cooldown(self, ship: FakeShip, seconds: int) -> None:
        ship.cooldown_total = seconds
        ship.cooldown_until = self.clock.now() + timedelta(seconds=seconds)

    def _market_good(self, ship: FakeShip, symbol: str) -> FakeGood:
        good = self.markets.get(ship.waypoint, {}).get(symbol)
        if good is None:
            raise GameError(4602, f"{symbol} not traded here")
        return good

    def _transaction(
        self, ship: FakeShip, symbol: str, kind: str, units: int, price: int
    ) -> dict[str, Any]:
        return {
            "waypointSymbol": ship.waypoint,
            "shipSymbol": ship.symbol,
            "tradeSymbol": symbol,
            "type": kind,
            "units": units,
            "pricePerUnit": price,
            "totalPrice": units * price,
            "timestamp": _iso(self.clock.now()),
        }

    def _answer(self, call: Call) -> tuple[int, Any, dict[str, Any] | None]:
        parts = call.path.strip("/").split("/")
        body = call.body or {}
        if parts[:2] == ["my", "ships"] and len(parts) == 2 and call.method == "GET":
            page, limit = int(self._query.get("page", 1)), int(self._query.get("limit", 10))
            ships = [self._ship(s) for s in self.ships.values()]
            chunk = ships[(page - 1) * limit : page * limit]
            return 200, chunk, {"total": len(ships), "page": page, "limit": limit}
        if parts[:2] == ["my", "ships"]:
            ship = self._get_ship(parts[2])
            action = "/".join(parts[3:])
            return self._ship_action(ship, call.method, action, body)
        if parts[:2] == ["my", "contracts"]:
            return self._contract_action(call.method, parts[2:], body)
        if parts[0] == "systems" and len(parts) == 3:
            system_points = [self._waypoint(s) for s in self.waypoints if _system(s) == parts[1]]
            return 200, system_points, {"total": len(system_points), "page": 1, "limit": 20}
        if parts[0] == "systems" and parts[-1] == "market":
            return 200, self._market_view(parts[3]), None
        if parts[0] == "systems" and parts[-1] == "shipyard":
            return (
                200,
                {
                    "symbol": parts[3],
                    "shipTypes": [{"type": "SHIP_MINING_DRONE"}],
                    "modificationsFee": 100,
                    "ships": [{"type": "SHIP_MINING_DRONE", "purchasePrice": 50000}],
                },
                None,
            )
        if parts[0] == "systems" and parts[-1] == "jump-gate":
            return 200, {"symbol": parts[3], "connections": self.gate_connections}, None
        raise GameError(404, f"no route {call.path}", status=404)

    def _market_view(self, symbol: str) -> dict[str, Any]:
        goods = self.markets.get(symbol, {})
        present = any(
            s.waypoint == symbol and s.status != "IN_TRANSIT" for s in self.ships.values()
        )
        view: dict[str, Any] = {
            "symbol": symbol,
            "exports": [{"symbol": g} for g, v in goods.items() if v.type == "EXPORT"],
            "imports": [{"symbol": g} for g, v in goods.items() if v.type == "IMPORT"],
            "exchange": [{"symbol": g} for g, v in goods.items() if v.type == "EXCHANGE"],
        }
        if present:
            view["tradeGoods"] = [
                {
                    "symbol": g,
                    "type": v.type,
                    "tradeVolume": v.trade_volume,
                    "supply": v.supply,
                    "purchasePrice": v.purchase_price,
                    "sellPrice": v.sell_price,
                }
                for g, v in goods.items()
            ]
        return view

    def _ship_action(
        self, ship: FakeShip, method: str, action: str, body: dict[str, Any]
    ) -> tuple[int, Any, None]:
        if method == "GET" and action == "":
            return 200, self._ship(ship), None
        if method == "GET" and action == "cargo":
            return 200, self._cargo(ship), None
        if action == "orbit":
            self._not_in_transit(ship)
            ship.status = "IN_ORBIT"
            return 200, {"nav": self._nav(ship)}, None
        if action == "dock":
            self._not_in_transit(ship)
            ship.status = "DOCKED"
            return 200, {"nav": self._nav(ship)}, None
        if action == "nav" and method == "PATCH":
            ship.flight_mode = body["flightMode"]
            return 200, {"nav": self._nav(ship), "fuel": self._fuel(ship), "events": []}, None
        if action == "navigate":
            return 200, self._navigate(ship, body["waypointSymbol"]), None
        if action in ("extract", "extract/survey"):
            return 201, self._extract(ship, body if action == "extract/survey" else None), None
        if action == "survey":
            return 201, self._survey(ship), None
        if action in ("sell", "purchase"):
            return 201, self._trade(ship, action, body["symbol"], int(body["units"])), None
        if action == "refuel":
            self._docked(ship)
            good = self._market_good(ship, "FUEL")
            units = ship.fuel_capacity - ship.fuel
            market_units = math.ceil(units / 100)
            ship.fuel = ship.fuel_capacity
            self.credits -= market_units * good.purchase_price
            return (
                200,
                {
                    "agent": self._agent(),
                    "fuel": self._fuel(ship),
                    "transaction": self._transaction(
                        ship, "FUEL", "PURCHASE", market_units, good.purchase_price
                    ),
                },
                None,
            )
        if action == "jettison":
            self._take(ship, body["symbol"], int(body["units"]))
            return 200, {"cargo": self._cargo(ship)}, None
        if action == "transfer":
            other = self._get_ship(body["shipSymbol"])
            if other.waypoint != ship.waypoint:
                raise GameError(4234, "not at the same waypoint")
            units = int(body["units"])
            if sum(other.cargo.values()) + units > other.cargo_capacity:
                raise GameError(4228, "receiver cargo full")
            self._take(ship, body["tradeSymbol"], units)
            other.cargo[body["tradeSymbol"]] = other.cargo.get(body["tradeSymbol"], 0) + units
            return 200, {"cargo": self._cargo(ship)}, None
        if action == "chart":
            self._orbiting(ship)
            if ship.waypoint in self.charted:
                raise GameError(4230, "already charted")
            self.charted.add(ship.waypoint)
            return (
                201,
                {
                    "chart": {"waypointSymbol": ship.waypoint},
                    "waypoint": self._waypoint(ship.waypoint),
                    "agent": self._agent(),
                },
                None,
            )
        if action == "jump":
            self._orbiting(ship)
            self._no_cooldown(ship)
            if self.waypoints[ship.waypoint]["type"] != "JUMP_GATE":
                raise GameError(4254, "not at a jump gate")
            target = body["waypointSymbol"]
            self.waypoints.setdefault(target, {"type": "JUMP_GATE", "x": 0, "y": 0, "traits": []})
            ship.origin = ship.waypoint
            ship.waypoint = target
            self._start_cooldown(ship, 60)
            return 200, {"nav": self._nav(ship), "cooldown": self._cooldown(ship)}, None
        if action in ("mounts/install", "mounts/remove"):
            self._docked(ship)
            if (
                ship.waypoint not in self.markets
                or "SHIPYARD" not in self.waypoints[ship.waypoint]["traits"]
            ):
                raise GameError(4246, "no shipyard here")
            mount = body["symbol"]
            if action == "mounts/install":
                self._take(ship, mount, 1)
                ship.mounts.append(mount)
            else:
                if mount not in ship.mounts:
                    raise GameError(4247, "mount not installed")
                ship.mounts.remove(mount)
                ship.cargo[mount] = ship.cargo.get(mount, 0) + 1
            self.credits -= 100
            return (
                201,
                {
                    "agent": self._agent(),
                    "mounts": self._mounts(ship),
                    "cargo": self._cargo(ship),
                    "transaction": {
                        "waypointSymbol": ship.waypoint,
                        "shipSymbol": ship.symbol,
                        "tradeSymbol": mount,
                        "totalPrice": 100,
                        "timestamp": _iso(self.clock.now()),
                    },
                },
                None,
            )
        if action == "negotiate/contract":
            self._docked(ship)
            if any(not c["fulfilled"] for c in self.contracts.values()):
                raise GameError(4511, "existing contract")
            new_id = f"C{len(self.contracts) + 1}"
            self.add_contract(new_id, "IRON_ORE", 10)
            return 201, {"contract": self.contracts[new_id]}, None
        raise GameError(404, f"no action {action}", status=404)

    def _take(self, ship: FakeShip, symbol: str, units: int) -> None:
        if ship.cargo.get(symbol, 0) < units:
            raise GameError(4218, f"not enough {symbol}")
        ship.cargo[symbol] -= units
        if ship.cargo[symbol] == 0:
            del ship.cargo[symbol]

    def _navigate(self, ship: FakeShip, target: str) -> dict[str, Any]:
        self._orbiting(ship)
        if target == ship.waypoint:
            raise GameError(4204, "already there")
        a, b = self.waypoints[ship.waypoint], self.waypoints[target]
        d = math.hypot(a["x"] - b["x"], a["y"] - b["y"])
        need = 1 if ship.flight_mode == "DRIFT" else round(d)
        if ship.fuel_capacity and need > ship.fuel:
            raise GameError(4203, "insufficient fuel")
        if ship.fuel_capacity:
            ship.fuel -= need
        factor = 250 if ship.flight_mode == "DRIFT" else 25
        seconds = round(round(max(1, d)) * factor / ship.speed + 15)
        now = self.clock.now()
        ship.origin, ship.waypoint = ship.waypoint, target
        ship.departure, ship.arrival = now, now + timedelta(seconds=seconds)
        ship.status = "IN_TRANSIT"
        return {"nav": self._nav(ship), "fuel": self._fuel(ship), "events": []}

    def _extract(self, ship: FakeShip, survey: dict[str, Any] | None) -> dict[str, Any]:
        self._orbiting(ship)
        self._no_cooldown(ship)
        free = ship.cargo_capacity - sum(ship.cargo.values())
        if free <= 0:
            raise GameError(4228, "cargo full")
        if survey is not None:
            known = self.surveys.get(survey["signature"])
            if known is None:
                raise GameError(4221, "survey expired")
            if known["uses"] <= 0:
                raise GameError(4224, "survey exhausted")
            known["uses"] -= 1
            symbol = known["deposits"][0]["symbol"]
        else:
            symbol = self.deposits[next(self._deposit_cycle)]
        strength = sum(10 for m in ship.mounts if m.startswith("MOUNT_MINING_LASER"))
        units = min(free, strength)
        ship.cargo[symbol] = ship.cargo.get(symbol, 0) + units
        self._start_cooldown(ship, EXTRACT_COOLDOWN)
        return {
            "cooldown": self._cooldown(ship),
            "extraction": {"shipSymbol": ship.symbol, "yield": {"symbol": symbol, "units": units}},
            "cargo": self._cargo(ship),
            "events": [],
        }

    def _survey(self, ship: FakeShip) -> dict[str, Any]:
        self._orbiting(ship)
        self._no_cooldown(ship)
        made = []
        for _ in range(2):
            signature = f"{ship.waypoint}-S{next(self._survey_ids)}"
            survey = {
                "signature": signature,
                "symbol": ship.waypoint,
                "deposits": [{"symbol": "COPPER_ORE"}, {"symbol": "COPPER_ORE"}],
                "expiration": _iso(self.clock.now() + timedelta(minutes=30)),
                "size": "SMALL",
            }
            self.surveys[signature] = {**survey, "uses": SURVEY_USES["SMALL"]}
            made.append(survey)
        self._start_cooldown(ship, SURVEY_COOLDOWN)
        return {"cooldown": self._cooldown(ship), "surveys": made}

    def _trade(self, ship: FakeShip, action: str, symbol: str, units: int) -> dict[str, Any]:
        self._docked(ship)
        good = self._market_good(ship, symbol)
        if units > good.trade_volume:
            raise GameError(4604, "over the trade volume")
        if action == "sell":
            self._take(ship, symbol, units)
            price = good.sell_price
            self.credits += units * price
            kind = "SELL"
        else:
            if sum(ship.cargo.values()) + units > ship.cargo_capacity:
                raise GameError(4217, "cargo over capacity")
            price = good.purchase_price
            self.credits -= units * price
            ship.cargo[symbol] = ship.cargo.get(symbol, 0) + units
            good.purchase_price += 1  # buying makes it dearer
            kind = "PURCHASE"
        return {
            "agent": self._agent(),
            "cargo": self._cargo(ship),
            "transaction": self._transaction(ship, symbol, kind, units, price),
        }

    def _contract_action(
        self, method: str, parts: list[str], body: dict[str, Any]
    ) -> tuple[int, Any, dict[str, Any] | None]:
        if not parts:
            listing = list(self.contracts.values())
            return 200, listing, {"total": len(listing), "page": 1, "limit": 20}
        contract = self.contracts[parts[0]]
        action = parts[1]
        if action == "accept":
            contract["accepted"] = True
            self.credits += contract["terms"]["payment"]["onAccepted"]
            return 200, {"agent": self._agent(), "contract": contract}, None
        if action == "deliver":
            ship = self._get_ship(body["shipSymbol"])
            self._docked(ship)
            term = contract["terms"]["deliver"][0]
            if ship.waypoint != term["destinationSymbol"]:
                raise GameError(4510, "wrong destination")
            units = int(body["units"])
            self._take(ship, body["tradeSymbol"], units)
            term["unitsFulfilled"] += units
            return 200, {"contract": contract, "cargo": self._cargo(ship)}, None
        if action == "fulfill":
            term = contract["terms"]["deliver"][0]
            if term["unitsFulfilled"] < term["unitsRequired"]:
                raise GameError(4502, "not delivered")
            contract["fulfilled"] = True
            self.credits += contract["terms"]["payment"]["onFulfilled"]
            return 200, {"agent": self._agent(), "contract": contract}, None
        raise GameError(404, "no such contract action", status=404)


def _system(waypoint: str) -> str:
    parts = waypoint.split("-")
    return "-".join(parts[:2]) if len(parts) >= 3 else waypoint


class Recorder:
    """Stands in for the JetStream publisher in unit tests: keeps what would be published."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Message]] = []
        self.values: dict[tuple[str, str], Message] = {}
        self.deleted: list[tuple[str, str]] = []

    def event(self, subject: str, message: Message, event_id: str) -> None:
        self.events.append((subject, message))

    def value(
        self, bucket: str, key: str, message: Message, *, ttl_seconds: int | None = None
    ) -> None:
        self.values[(bucket, key)] = message

    def delete(self, bucket: str, key: str) -> None:
        self.deleted.append((bucket, key))
        self.values.pop((bucket, key), None)

    def of(self, subject: str) -> list[Message]:
        return [m for s, m in self.events if s == subject]


class MemoryClaims:
    """Survey slots in memory (unit tests; the NATS version is tested with real NATS)."""

    def __init__(self) -> None:
        self.held: dict[str, int] = {}
        self._revisions = itertools.count(1)

    async def claim(self, key: str, payload: bytes, ttl_seconds: int) -> int | None:
        if key in self.held:
            return None
        self.held[key] = next(self._revisions)
        return self.held[key]

    async def release(self, key: str, revision: int) -> None:
        if self.held.get(key) == revision:
            del self.held[key]


class _Quiet:
    def on_send(self, now: float) -> None:
        pass

    def on_fenced(self) -> None:
        pass

    def on_failed(self, result: ApiResult) -> None:
        pass


@dataclass
class Bench:
    """One ship under test: the fake game, the ship's control, the clock and the recorder."""

    game: FakeGame
    clock: ManualClock
    timers: ManualTimers
    world: WorldView
    recorder: Recorder
    claims: MemoryClaims

    def control(self, symbol: str) -> ShipControl:
        """A control of ship `symbol` with its state read from the fake game (no call counted)."""
        ship = ShipModel(symbol=symbol, agent=self.game.agent)
        fake = self.game.ships[symbol]
        ship.system, ship.waypoint, ship.status = _system(fake.waypoint), fake.waypoint, fake.status
        ship.fuel, ship.fuel_capacity = fake.fuel, fake.fuel_capacity
        ship.cargo_capacity = fake.cargo_capacity
        ship.inventory = dict(fake.cargo)
        ship.cargo_units = sum(fake.cargo.values())
        ship.mounts = tuple(sorted(fake.mounts))
        ship.flight_mode = fake.flight_mode
        lease = Lease(symbol, 7, 7, float("inf"), ShipFence(key=symbol, token=7), b"")
        transport = FencedTransport(self.game, lease, node="T", clock=self.clock, observer=_Quiet())
        return ShipControl(
            ship,
            SpaceTradersClient(transport),
            self.world,
            self.recorder,
            self.clock,
            ServerClock(self.clock),
        )

    def know_everything(self) -> None:
        """Put the fake game's waypoints and markets (as a ship there would see them) in the
        world view, as probes and earlier trips would have."""
        from flotilla.client import models

        self.world.record_waypoints(
            [models.Waypoint.model_validate(self.game._waypoint(s)) for s in self.game.waypoints]
        )
        for symbol in self.game.markets:
            fake_present = FakeShip(symbol="PROBE", waypoint=symbol)
            self.game.ships["PROBE"] = fake_present
            view = self.game._market_view(symbol)
            del self.game.ships["PROBE"]
            self.world.record_market(models.Market.model_validate(view), _system(symbol))

    async def run(
        self,
        behaviour: Any,
        control: ShipControl,
        *,
        until: Callable[[], bool],
        max_steps: int = 500,
    ) -> int:
        """Step `behaviour` on the manual clock until `until()` (advancing the clock to each
        wake instant, never sleeping); return the steps taken."""
        for steps in range(1, max_steps + 1):
            wake = await behaviour.step(control)
            control.flush()
            if until():
                return steps
            if wake is None:
                raise AssertionError(f"{behaviour.name} went idle in state {behaviour.state}")
            self.clock.advance_to(wake)
        raise AssertionError(f"not done after {max_steps} steps (state {behaviour.state})")


def assignment(ship: str, behaviour: str, waypoint: str = "", **params: str) -> Assignment:
    """An assignment as the conductor would write it."""
    return Assignment(ship=ship, behaviour=behaviour, waypoint=waypoint, params=params)


@pytest.fixture
def bench() -> Bench:
    """A fake game and one ship's world, on a manual clock."""
    clock = ManualClock()
    recorder = Recorder()
    claims = MemoryClaims()
    world = WorldView(None, recorder, clock, node="T", claims=claims)
    return Bench(FakeGame(clock), clock, ManualTimers(clock), world, recorder, claims)


@pytest.fixture
def make_assignment() -> Callable[..., Assignment]:
    return assignment


def fast_settings(nats_url: str, node: str) -> DispatcherSettings:
    """A node's settings for tests on real NATS: leases of 2 s, membership of 1 s."""
    return load_settings(
        DispatcherSettings,
        node=node,
        nats_url=nats_url,
        log_format="text",
        probes={"port": "off"},
        membership={"heartbeat_seconds": 0.2, "ttl_seconds": 1},
        leases={
            "ttl_seconds": 2,
            "renew_interval_seconds": 0.5,
            "safety_margin_seconds": 0.5,
            "acquire_interval_seconds": 0.2,
        },
        ships={"retry_base_seconds": 0.1, "retry_max_seconds": 0.5},
    )


@pytest.fixture
def node_settings() -> Callable[[str, str], DispatcherSettings]:
    """`node_settings(nats_url, node)`: fast settings for a node under test."""
    return fast_settings


@pytest.fixture
async def fake_game_factory() -> AsyncIterator[Callable[[ManualClock | None], FakeGame]]:
    def make(clock: ManualClock | None = None) -> FakeGame:
        return FakeGame(clock or ManualClock())

    yield make
