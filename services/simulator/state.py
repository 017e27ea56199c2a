"""The mutable game state: agents, ships, contracts, surveys, markets and shipyards."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from simulator.catalog import EngineSpec, FrameSpec, ModuleSpec, MountSpec, ReactorSpec

__all__ = [
    "TRANSACTIONS_KEPT",
    "Agent",
    "Contract",
    "Delivery",
    "ExtractionLog",
    "Market",
    "MarketGood",
    "Nav",
    "Ship",
    "ShipCooldown",
    "ShipOffer",
    "Shipyard",
    "Survey",
]

TRANSACTIONS_KEPT = 20


@dataclass
class Agent:
    """A registered agent: its credits, its home and the token that names it."""

    account_id: str
    symbol: str
    faction: str
    headquarters: str
    credits: int
    token: str
    ships_bought: int = 0  # numbers ship symbols: SYMBOL-1, SYMBOL-2, ... (hexadecimal)


@dataclass
class Nav:
    """Where a ship is, or where it is going and when it arrives."""

    system_symbol: str
    waypoint_symbol: str
    status: str  # DOCKED, IN_ORBIT or IN_TRANSIT
    origin: str
    destination: str
    departure_time: datetime
    arrival: datetime
    flight_mode: str = "CRUISE"
    flight_distance: float = 0.0


@dataclass
class ShipCooldown:
    """The reactor cooldown after an extraction, survey, siphon, scan or jump."""

    total_game_seconds: int = 0
    expiration: datetime | None = None


@dataclass
class Ship:
    """One ship: its parts, where it is, its fuel, cargo and cooldown."""

    symbol: str
    agent_symbol: str
    faction: str
    name: str
    role: str
    frame: FrameSpec
    reactor: ReactorSpec
    engine: EngineSpec
    modules: list[ModuleSpec]
    mounts: list[MountSpec]
    nav: Nav
    fuel: int
    crew_required: int
    crew_capacity: int
    cargo: dict[str, int] = field(default_factory=dict)
    cooldown: ShipCooldown = field(default_factory=ShipCooldown)
    fuel_consumed: tuple[int, datetime] | None = None

    @property
    def cargo_capacity(self) -> int:
        """Units the ship's cargo holds can take."""
        return sum(m.capacity or 0 for m in self.modules if m.symbol.startswith("MODULE_CARGO"))

    @property
    def cargo_units(self) -> int:
        """Units in the hold now."""
        return sum(self.cargo.values())

    @property
    def cargo_free(self) -> int:
        """Units that still fit."""
        return self.cargo_capacity - self.cargo_units

    @property
    def fuel_capacity(self) -> int:
        """Tank size, from the frame (0 for probes, which fly free)."""
        return self.frame.fuel_capacity

    def add_cargo(self, symbol: str, units: int) -> None:
        """Put `units` of `symbol` in the hold (callers check the room first)."""
        if units > 0:
            self.cargo[symbol] = self.cargo.get(symbol, 0) + units

    def remove_cargo(self, symbol: str, units: int) -> None:
        """Take `units` of `symbol` out, dropping the good when none is left."""
        left = self.cargo.get(symbol, 0) - units
        if left > 0:
            self.cargo[symbol] = left
        else:
            self.cargo.pop(symbol, None)

    def mounts_among(self, symbols: frozenset[str]) -> list[MountSpec]:
        """The installed mounts whose symbol is one of `symbols` (e.g. every mining laser)."""
        return [m for m in self.mounts if m.symbol in symbols]

    @property
    def power_used(self) -> int:
        """Reactor power drawn by the frame, engine, modules and mounts together."""
        parts: list[Any] = [self.frame, self.engine, *self.modules, *self.mounts]
        return sum(p.requirements.power or 0 for p in parts)


@dataclass
class Delivery:
    """One good a contract wants delivered somewhere, and how much of it has been."""

    trade_symbol: str
    destination: str
    units_required: int
    units_fulfilled: int = 0


@dataclass
class Contract:
    """A procurement contract: its deadlines, its payments and its deliveries."""

    id: str
    agent_symbol: str
    faction: str
    deadline: datetime
    deadline_to_accept: datetime
    on_accepted: int
    on_fulfilled: int
    deliveries: list[Delivery]
    type: str = "PROCUREMENT"
    accepted: bool = False
    fulfilled: bool = False


@dataclass
class Survey:
    """A survey of a waypoint: the deposits it targets and how long it lasts."""

    signature: str
    waypoint: str
    deposits: list[str]
    expiration: datetime
    size: str
    extractions_left: int


@dataclass
class MarketGood:
    """One good at one market and the state its prices follow."""

    symbol: str
    type: str  # EXPORT, IMPORT or EXCHANGE
    base_price: int
    trade_volume: int
    max_trade_volume: int
    supply_index: float
    equilibrium: float
    activity: str | None
    updated_at: datetime
    units_traded: int = 0


@dataclass
class Market:
    """A market: its goods and its recent transactions."""

    waypoint: str
    goods: dict[str, MarketGood]
    transactions: deque[dict[str, Any]] = field(
        default_factory=lambda: deque(maxlen=TRANSACTIONS_KEPT)
    )


@dataclass
class ShipOffer:
    """A ship type for sale at a shipyard, with the supply its price follows."""

    type: str
    base_price: int
    supply_index: float
    activity: str
    updated_at: datetime


@dataclass
class Shipyard:
    """A shipyard: its offers, its fee for fitting mounts and its recent sales."""

    waypoint: str
    offers: dict[str, ShipOffer]
    modifications_fee: int
    transactions: deque[dict[str, Any]] = field(
        default_factory=lambda: deque(maxlen=TRANSACTIONS_KEPT)
    )


@dataclass
class ExtractionLog:
    """Recent extractions at a waypoint (real times), to tell when it is over-mined."""

    times: deque[datetime] = field(default_factory=deque)
