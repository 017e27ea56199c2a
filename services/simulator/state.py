"""The mutable game state: agents, ships, contracts, surveys, markets and shipyards."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from simulator.catalog import EngineSpec, FrameSpec, ModuleSpec, MountSpec, ReactorSpec

TRANSACTIONS_KEPT = 20


@dataclass
class Agent:
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
        return sum(m.capacity or 0 for m in self.modules if m.symbol.startswith("MODULE_CARGO"))

    @property
    def cargo_units(self) -> int:
        return sum(self.cargo.values())

    @property
    def cargo_free(self) -> int:
        return self.cargo_capacity - self.cargo_units

    @property
    def fuel_capacity(self) -> int:
        return self.frame.fuel_capacity

    def add_cargo(self, symbol: str, units: int) -> None:
        if units > 0:
            self.cargo[symbol] = self.cargo.get(symbol, 0) + units

    def remove_cargo(self, symbol: str, units: int) -> None:
        left = self.cargo.get(symbol, 0) - units
        if left > 0:
            self.cargo[symbol] = left
        else:
            self.cargo.pop(symbol, None)

    def mounts_among(self, symbols: frozenset[str]) -> list[MountSpec]:
        return [m for m in self.mounts if m.symbol in symbols]

    @property
    def power_used(self) -> int:
        parts: list[Any] = [self.frame, self.engine, *self.modules, *self.mounts]
        return sum(p.requirements.power or 0 for p in parts)


@dataclass
class Delivery:
    trade_symbol: str
    destination: str
    units_required: int
    units_fulfilled: int = 0


@dataclass
class Contract:
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
    waypoint: str
    goods: dict[str, MarketGood]
    transactions: deque[dict[str, Any]] = field(
        default_factory=lambda: deque(maxlen=TRANSACTIONS_KEPT)
    )


@dataclass
class ShipOffer:
    type: str
    base_price: int
    supply_index: float
    activity: str
    updated_at: datetime


@dataclass
class Shipyard:
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
