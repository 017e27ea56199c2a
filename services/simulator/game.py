"""The game: one universe plus everything agents did to it, and the lookups every action needs.

All state lives in one `Game` object that the HTTP app owns. Handlers run on one event loop and
never await while they change state, so no action ever sees another half-done.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import random
import secrets
import uuid
from datetime import datetime, timedelta

from flotilla.clock import Clock
from simulator import catalog, mechanics
from simulator.config import SimulatorConfig
from simulator.errors import ApiError, ErrorCode, not_found
from simulator.mechanics import Timeline
from simulator.state import (
    Agent,
    Contract,
    Delivery,
    ExtractionLog,
    Market,
    MarketGood,
    Nav,
    Ship,
    ShipOffer,
    Shipyard,
    Survey,
)
from simulator.universe import System, Universe, Waypoint, generate_universe

__all__ = [
    "ACTIVITIES",
    "API_VERSION",
    "CONTRACT_ACCEPT_GAME_SECONDS",
    "CONTRACT_DEADLINE_GAME_SECONDS",
    "DEFAULT_EXTRACTIONS_PER_MINUTE",
    "EXTRACTIONS_PER_MINUTE",
    "RESET_FREQUENCY_DAYS",
    "UNSTABLE_FACTOR",
    "Game",
]

API_VERSION = "v2.3.0"
RESET_FREQUENCY_DAYS = 7
CONTRACT_DEADLINE_GAME_SECONDS = 7 * 24 * 3600
CONTRACT_ACCEPT_GAME_SECONDS = 24 * 3600
ACTIVITIES = ("WEAK", "GROWING", "STRONG")
# Over-mining: more extractions in a game minute than a site bears marks it CRITICAL_LIMIT,
# and half as many again makes it UNSTABLE until the rate drops.
EXTRACTIONS_PER_MINUTE = {"ENGINEERED_ASTEROID": 20}
DEFAULT_EXTRACTIONS_PER_MINUTE = 10
UNSTABLE_FACTOR = 1.5


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Game:
    """Everything in one simulated universe, and how to find it."""

    def __init__(self, config: SimulatorConfig, clock: Clock) -> None:
        self.config = config
        self.time = Timeline(clock, config.time_scale)
        self.started_at = clock.now()
        self.reset_date = self.started_at.date().isoformat()
        self.universe: Universe = generate_universe(config.seed, config.systems)
        self.rng = random.Random(f"flotilla-simulator-game:{config.seed}")
        self._token_key = secrets.token_bytes(32)
        self.agents: dict[str, Agent] = {}
        self.agents_by_token: dict[str, Agent] = {}
        self.ships: dict[str, Ship] = {}
        self.contracts: dict[str, Contract] = {}
        self.surveys: dict[str, Survey] = {}
        self.extractions: dict[str, ExtractionLog] = {}
        self.markets: dict[str, Market] = {}
        self.shipyards: dict[str, Shipyard] = {}
        for waypoint in self.universe.waypoints.values():
            if waypoint.market is not None:
                self.markets[waypoint.symbol] = self._open_market(waypoint)
            if waypoint.shipyard:
                self.shipyards[waypoint.symbol] = self._open_shipyard(waypoint)

    # -- world building

    def _seeded(self, *parts: str) -> random.Random:
        return random.Random(":".join(["flotilla-simulator", str(self.config.seed), *parts]))

    def _open_market(self, waypoint: Waypoint) -> Market:
        assert waypoint.market is not None
        profile = catalog.MARKET_PROFILES[waypoint.market]
        rng = self._seeded("market", waypoint.symbol)
        goods: dict[str, MarketGood] = {}
        for trade_type, symbols in (
            ("EXPORT", profile.exports),
            ("IMPORT", profile.imports),
            ("EXCHANGE", profile.exchange),
        ):
            for symbol in symbols:
                if symbol in goods:
                    continue
                spec = catalog.TRADE_GOODS[symbol]
                equilibrium = mechanics.EQUILIBRIUM[trade_type] + rng.uniform(-0.5, 0.5)
                volume = spec.trade_volume * rng.choice((1, 1, 2))
                goods[symbol] = MarketGood(
                    symbol=symbol,
                    type=trade_type,
                    base_price=round(spec.base_price * rng.uniform(0.9, 1.1)),
                    trade_volume=volume,
                    max_trade_volume=volume * 4,
                    supply_index=equilibrium,
                    equilibrium=equilibrium,
                    activity=None if trade_type == "EXCHANGE" else rng.choice(ACTIVITIES),
                    updated_at=self.started_at,
                )
        return Market(waypoint=waypoint.symbol, goods=goods)

    def _open_shipyard(self, waypoint: Waypoint) -> Shipyard:
        rng = self._seeded("shipyard", waypoint.symbol)
        offers = {
            ship_type: ShipOffer(
                type=ship_type,
                base_price=round(
                    catalog.SHIP_TYPES[ship_type].base_price * rng.uniform(0.92, 1.08)
                ),
                supply_index=0.0,
                activity=rng.choice(ACTIVITIES),
                updated_at=self.started_at,
            )
            for ship_type in waypoint.shipyard
        }
        return Shipyard(waypoint.symbol, offers, modifications_fee=rng.randrange(1_000, 5_001, 100))

    # -- tokens

    def issue_token(self, agent_symbol: str) -> str:
        """A JWT (HS256) naming the agent, signed with this game's secret key."""
        header = {"alg": "HS256", "typ": "JWT"}
        payload = {
            "identifier": agent_symbol,
            "version": API_VERSION,
            "reset_date": self.reset_date,
            "iat": int(self.time.now().timestamp()),
            "sub": "agent-token",
        }
        signing_input = ".".join(
            _b64(json.dumps(part, separators=(",", ":")).encode()) for part in (header, payload)
        )
        signature = hmac.new(self._token_key, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(signature)}"

    def agent_for_authorization(self, authorization: str | None) -> Agent:
        """The agent an `Authorization: Bearer …` header names, or the 401 the API answers."""
        if not authorization or not authorization.strip():
            raise ApiError(
                ErrorCode.MISSING_TOKEN_REQUEST,
                "Missing or invalid token. Send an agent token as 'Authorization: Bearer <token>'.",
            )
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(
                ErrorCode.MISSING_TOKEN_REQUEST,
                "Missing or invalid token. Send an agent token as 'Authorization: Bearer <token>'.",
            )
        agent = self.agents_by_token.get(token)
        if agent is not None:
            return agent
        payload = self._verified_payload(token)
        if payload is None:
            raise ApiError(ErrorCode.INVALID_TOKEN_REQUEST, "Failed to parse token: it is invalid.")
        if payload.get("reset_date") != self.reset_date:
            raise ApiError(
                ErrorCode.TOKEN_RESET_DATE_MISMATCH,
                "Failed to parse token. Token reset_date does not match the server.",
                {"expected": self.reset_date, "actual": payload.get("reset_date")},
            )
        raise ApiError(ErrorCode.AGENT_NOT_EXISTS, "The agent of this token does not exist.")

    def _verified_payload(self, token: str) -> dict[str, object] | None:
        parts = token.split(".")
        if len(parts) != 3:
            return None
        expected = hmac.new(
            self._token_key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256
        ).digest()
        try:
            if not hmac.compare_digest(expected, _unb64(parts[2])):
                return None
            payload = json.loads(_unb64(parts[1]))
        except (ValueError, UnicodeDecodeError):
            return None
        return payload if isinstance(payload, dict) else None

    # -- lookups

    def waypoint(self, symbol: str) -> Waypoint:
        """Waypoint `symbol`, or the 404 the API answers."""
        waypoint = self.universe.waypoints.get(symbol)
        if waypoint is None:
            raise not_found(f"Waypoint {symbol}")
        return waypoint

    def system_waypoint(self, system_symbol: str, waypoint_symbol: str) -> Waypoint:
        """Waypoint `waypoint_symbol` of system `system_symbol`; a waypoint of another system is as
        unknown as a missing one."""
        self.system(system_symbol)
        waypoint = self.universe.waypoints.get(waypoint_symbol)
        if waypoint is None or waypoint.system_symbol != system_symbol:
            raise not_found(f"Waypoint {waypoint_symbol} in system {system_symbol}")
        return waypoint

    def system(self, symbol: str) -> System:
        """System `symbol`, or the 404 the API answers."""
        system = self.universe.systems.get(symbol)
        if system is None:
            raise not_found(f"System {symbol}")
        return system

    def ship(self, agent: Agent, symbol: str) -> Ship:
        """The agent's ship `symbol`, with its arrival settled."""
        ship = self.ships.get(symbol.upper())
        if ship is None or ship.agent_symbol != agent.symbol:
            raise not_found(f"Ship {symbol}")
        self.settle(ship)
        return ship

    def agent_ships(self, agent: Agent) -> list[Ship]:
        """The agent's ships, each with its arrival settled."""
        ships = [s for s in self.ships.values() if s.agent_symbol == agent.symbol]
        for ship in ships:
            self.settle(ship)
        return ships

    def contract(self, agent: Agent, contract_id: str) -> Contract:
        """The agent's contract `contract_id`; another agent's contract is as unknown as a missing
        one."""
        contract = self.contracts.get(contract_id)
        if contract is None or contract.agent_symbol != agent.symbol:
            raise not_found(f"Contract {contract_id}")
        return contract

    def market(self, waypoint_symbol: str) -> Market:
        """The market at a waypoint, with supply recovered up to now."""
        market = self.markets.get(waypoint_symbol)
        if market is None:
            raise not_found(f"Market at {waypoint_symbol}")
        self.refresh_market(market)
        return market

    def shipyard(self, waypoint_symbol: str) -> Shipyard:
        """The shipyard at a waypoint, with ship prices recovered up to now."""
        shipyard = self.shipyards.get(waypoint_symbol)
        if shipyard is None:
            raise not_found(f"Shipyard at {waypoint_symbol}")
        now = self.time.now()
        for offer in shipyard.offers.values():
            elapsed = self.time.game_seconds_between(offer.updated_at, now)
            offer.supply_index = mechanics.supply_recovered(offer.supply_index, 0.0, elapsed)
            offer.updated_at = now
        return shipyard

    def refresh_market(self, market: Market) -> None:
        """Let production and consumption move supply back towards each good's equilibrium.

        Exchange goods are neither produced nor consumed here: only trades move them.
        """
        now = self.time.now()
        for good in market.goods.values():
            if good.type != "EXCHANGE":
                elapsed = self.time.game_seconds_between(good.updated_at, now)
                good.supply_index = mechanics.supply_recovered(
                    good.supply_index, good.equilibrium, elapsed
                )
            good.updated_at = now

    def has_ship_at(self, agent: Agent, waypoint_symbol: str) -> bool:
        """Whether one of the agent's ships is at the waypoint (not passing through)."""
        return any(
            s.nav.waypoint_symbol == waypoint_symbol and s.nav.status != "IN_TRANSIT"
            for s in self.agent_ships(agent)
        )

    # -- time-driven state

    def settle(self, ship: Ship) -> None:
        """A ship whose arrival time has passed is in orbit at its destination."""
        if ship.nav.status == "IN_TRANSIT" and self.time.now() >= ship.nav.arrival:
            ship.nav.status = "IN_ORBIT"

    def cooldown_remaining(self, ship: Ship) -> float:
        """Real seconds until the ship's reactor cooldown ends (0 when there is none)."""
        if ship.cooldown.expiration is None:
            return 0.0
        return self.time.real_seconds_until(ship.cooldown.expiration)

    def start_cooldown(self, ship: Ship, game_seconds: int) -> None:
        """Start a reactor cooldown of `game_seconds` of game time (shorter in real time at a higher
        time scale)."""
        ship.cooldown.total_game_seconds = game_seconds
        ship.cooldown.expiration = self.time.after(game_seconds)

    # -- agents

    def register(self, symbol: str, faction: str) -> Agent:
        """Create an agent with the starting fleet, credits and a first contract."""
        symbol = symbol.upper()
        if symbol in self.agents:
            raise ApiError(
                ErrorCode.REGISTER_AGENT_CONFLICT_SYMBOL,
                f"Agent symbol {symbol} has already been claimed.",
                {"agentSymbol": symbol},
            )
        headquarters = self.universe.headquarters.get(faction)
        if headquarters is None:
            raise ApiError(
                ErrorCode.REGISTER_NO_STARTING_LOCATIONS,
                f"Faction {faction} has no starting locations in this universe.",
                {"factionSymbol": faction},
            )
        agent = Agent(
            account_id=uuid.UUID(int=self.rng.getrandbits(128)).hex[:25],
            symbol=symbol,
            faction=faction,
            headquarters=headquarters,
            credits=self.config.starting_credits,
            token=self.issue_token(symbol),
        )
        self.agents[symbol] = agent
        self.agents_by_token[agent.token] = agent
        shipyard = next((w for w in self.system_waypoints(headquarters) if w.has_shipyard), None)
        self.new_ship(agent, "SHIP_COMMAND_FRIGATE", headquarters)
        self.new_ship(agent, "SHIP_PROBE", shipyard.symbol if shipyard else headquarters)
        self.new_contract(agent, faction, headquarters)
        return agent

    def system_waypoints(self, waypoint_symbol: str) -> list[Waypoint]:
        """Every waypoint of the system that `waypoint_symbol` is in."""
        system = self.universe.system_of(waypoint_symbol)
        return [self.universe.waypoints[w] for w in system.waypoints]

    def new_ship(self, agent: Agent, ship_type: str, waypoint_symbol: str) -> Ship:
        """A new ship of `ship_type` for the agent, docked at `waypoint_symbol` with a full tank."""
        spec = catalog.SHIP_TYPES[ship_type]
        agent.ships_bought += 1
        symbol = f"{agent.symbol}-{agent.ships_bought:X}"
        waypoint = self.waypoint(waypoint_symbol)
        now = self.time.now()
        frame = catalog.FRAMES[spec.frame]
        ship = Ship(
            symbol=symbol,
            agent_symbol=agent.symbol,
            faction=agent.faction,
            name=symbol,
            role=spec.role,
            frame=frame,
            reactor=catalog.REACTORS[spec.reactor],
            engine=catalog.ENGINES[spec.engine],
            modules=[catalog.MODULES[m] for m in spec.modules],
            mounts=[catalog.MOUNTS[m] for m in spec.mounts],
            nav=Nav(
                system_symbol=waypoint.system_symbol,
                waypoint_symbol=waypoint.symbol,
                status="DOCKED",
                origin=waypoint.symbol,
                destination=waypoint.symbol,
                departure_time=now,
                arrival=now,
            ),
            fuel=frame.fuel_capacity,
            crew_required=spec.crew_required,
            crew_capacity=spec.crew_capacity,
        )
        self.ships[symbol] = ship
        return ship

    def seed_ships(
        self,
        agent: Agent,
        ship_type: str,
        count: int,
        waypoints: list[str],
        *,
        status: str = "DOCKED",
        cargo: dict[str, int] | None = None,
    ) -> list[Ship]:
        """`count` new ships of `ship_type` for the agent, spread in turn over `waypoints`, each
        `status` (DOCKED or IN_ORBIT) with a full tank and `cargo` aboard — for benchmarks and
        tests, which need fleets bigger than credits and requests can buy. The caller checks
        that the type, waypoints and goods exist and that the cargo fits."""
        ships = []
        for index in range(count):
            ship = self.new_ship(agent, ship_type, waypoints[index % len(waypoints)])
            ship.nav.status = status
            for symbol, units in (cargo or {}).items():
                ship.add_cargo(symbol, units)
            ships.append(ship)
        return ships

    def new_contract(self, agent: Agent, faction: str, near_waypoint: str) -> Contract:
        """A procurement contract for ore mined near `near_waypoint`, delivered to a market
        that imports it."""
        markets = [
            w
            for w in self.system_waypoints(near_waypoint)
            if w.has_market and w.symbol in self.markets
        ]
        wanted = ("IRON_ORE", "COPPER_ORE", "ALUMINUM_ORE")
        choices = [
            (good, market.symbol)
            for market in markets
            for good in wanted
            if self.markets[market.symbol].goods.get(good, None) is not None
            and self.markets[market.symbol].goods[good].type == "IMPORT"
        ]
        if not choices:
            choices = [("IRON_ORE", near_waypoint)]
        # The first contract of an agent always asks for the commonest ore.
        first = not any(c.agent_symbol == agent.symbol for c in self.contracts.values())
        good, destination = choices[0] if first else self.rng.choice(choices)
        units = self.rng.randint(4, 9) * 10
        value = catalog.TRADE_GOODS[good].base_price * units
        total = math.ceil(value * self.rng.uniform(2.5, 4.0))
        on_accepted = math.ceil(total * 0.2)
        now = self.time.now()
        contract = Contract(
            id=uuid.UUID(int=self.rng.getrandbits(128)).hex[:25],
            agent_symbol=agent.symbol,
            faction=faction,
            deadline=self.time.after(CONTRACT_DEADLINE_GAME_SECONDS, now),
            deadline_to_accept=self.time.after(CONTRACT_ACCEPT_GAME_SECONDS, now),
            on_accepted=on_accepted,
            on_fulfilled=total - on_accepted,
            deliveries=[Delivery(good, destination, units)],
        )
        self.contracts[contract.id] = contract
        return contract

    def agent_contracts(self, agent: Agent) -> list[Contract]:
        """The agent's contracts, oldest first."""
        return [c for c in self.contracts.values() if c.agent_symbol == agent.symbol]

    def new_survey_signature(self, waypoint_symbol: str) -> str:
        """A fresh survey signature for a waypoint, drawn from the game's seeded generator."""
        return f"{waypoint_symbol}-{self.rng.getrandbits(24):06X}"

    def extraction_log(self, waypoint_symbol: str) -> ExtractionLog:
        """The recent extractions at a waypoint, which decide when it is over-mined."""
        return self.extractions.setdefault(waypoint_symbol, ExtractionLog())

    def site_modifiers(self, waypoint: Waypoint) -> list[str]:
        """CRITICAL_LIMIT or UNSTABLE while the site is mined faster than it bears."""
        log = self.extractions.get(waypoint.symbol)
        if log is None:
            return []
        window_start = self.time.now() - timedelta(seconds=60 / self.time.time_scale)
        while log.times and log.times[0] < window_start:
            log.times.popleft()
        limit = EXTRACTIONS_PER_MINUTE.get(waypoint.type, DEFAULT_EXTRACTIONS_PER_MINUTE)
        if len(log.times) > limit * UNSTABLE_FACTOR:
            return ["UNSTABLE"]
        if len(log.times) > limit:
            return ["CRITICAL_LIMIT"]
        return []

    def reset_at(self) -> datetime:
        """When this universe's weekly reset would come (reported by the status endpoint)."""
        return self.started_at + timedelta(days=RESET_FREQUENCY_DAYS)
