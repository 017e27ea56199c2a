"""Typed results of SpaceTraders API calls: the parts of the API's JSON models that Flotilla
uses, with snake_case attributes. Unknown fields are ignored, and fields the fleet can live
without are optional, so a newer server does not break an older client."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_serializer
from pydantic.alias_generators import to_camel

__all__ = [
    "Agent",
    "ApiModel",
    "BuyShipResult",
    "CargoItem",
    "Chart",
    "ChartResult",
    "Contract",
    "ContractDeliverGood",
    "ContractPayment",
    "ContractResult",
    "ContractTerms",
    "Cooldown",
    "DeliverResult",
    "ExtractResult",
    "Extraction",
    "FuelConsumed",
    "JumpResult",
    "Market",
    "MarketTradeGood",
    "MarketTransaction",
    "MountResult",
    "NavigateResult",
    "NegotiateResult",
    "Page",
    "RefuelResult",
    "Registration",
    "Requirements",
    "RoutePoint",
    "ScanWaypointsResult",
    "Ship",
    "ShipCargo",
    "ShipComponent",
    "ShipConditionEvent",
    "ShipCrew",
    "ShipFuel",
    "ShipModificationTransaction",
    "ShipModule",
    "ShipMount",
    "ShipNav",
    "ShipRegistration",
    "ShipRoute",
    "Shipyard",
    "ShipyardShip",
    "ShipyardShipType",
    "ShipyardTransaction",
    "Siphon",
    "SiphonResult",
    "Survey",
    "SurveyDeposit",
    "SurveyResult",
    "System",
    "SystemWaypoint",
    "TradeGood",
    "TradeResult",
    "Waypoint",
    "WaypointOrbital",
    "WaypointTrait",
    "Yield",
]


class ApiModel(BaseModel):
    """Base of every result: camelCase in the JSON, snake_case in Python, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore"
    )

    def to_api(self) -> dict[str, Any]:
        """The model as the API's JSON (camelCase), e.g. to send a survey back."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


# --- agent -------------------------------------------------------------------------------------


class Agent(ApiModel):
    """The agent: its credits, headquarters and fleet size (`GET /my/agent`)."""

    symbol: str
    headquarters: str = ""
    credits: int = 0
    starting_faction: str = ""
    ship_count: int = 0
    account_id: str | None = None


# --- ship parts ----------------------------------------------------------------------------------


class Cooldown(ApiModel):
    """A ship's reactor cooldown; `expiration` is unset when the ship can act."""

    ship_symbol: str
    total_seconds: int = 0
    remaining_seconds: int = 0
    expiration: datetime | None = None


class RoutePoint(ApiModel):
    """One end of a ship's route."""

    symbol: str
    type: str = ""
    system_symbol: str = ""
    x: int = 0
    y: int = 0


class ShipRoute(ApiModel):
    """Where a ship flies from and to, and when it left and arrives."""

    origin: RoutePoint
    destination: RoutePoint
    departure_time: datetime
    arrival: datetime


class ShipNav(ApiModel):
    """Where a ship is, whether it is docked, in orbit or in transit, and its flight mode."""

    system_symbol: str
    waypoint_symbol: str
    route: ShipRoute
    status: str  # IN_TRANSIT, IN_ORBIT, DOCKED
    flight_mode: str = "CRUISE"  # DRIFT, STEALTH, CRUISE, BURN


class FuelConsumed(ApiModel):
    """Fuel a flight used, and when."""

    amount: int
    timestamp: datetime


class ShipFuel(ApiModel):
    """A ship's fuel tank."""

    current: int
    capacity: int
    consumed: FuelConsumed | None = None


class CargoItem(ApiModel):
    """Units of one good in a hold."""

    symbol: str
    units: int
    name: str = ""
    description: str = ""


class ShipCargo(ApiModel):
    """A ship's hold: capacity, units carried and what they are."""

    capacity: int
    units: int
    inventory: list[CargoItem] = Field(default_factory=list)

    def units_of(self, symbol: str) -> int:
        """Units of good `symbol` in the hold."""
        return sum(item.units for item in self.inventory if item.symbol == symbol)

    @property
    def free(self) -> int:
        """Units of room left in the hold."""
        return self.capacity - self.units


class Requirements(ApiModel):
    """Power, crew and slots a mount or module needs."""

    power: int | None = None
    crew: int | None = None
    slots: int | None = None


class ShipMount(ApiModel):
    """A mount (mining laser, surveyor, siphon, sensor array, ...)."""

    symbol: str
    name: str = ""
    description: str = ""
    strength: int | None = None
    deposits: list[str] | None = None
    requirements: Requirements | None = None


class ShipModule(ApiModel):
    """A module (cargo hold, crew quarters, jump drive, ...)."""

    symbol: str
    name: str = ""
    capacity: int | None = None
    range: int | None = None
    requirements: Requirements | None = None


class ShipComponent(ApiModel):
    """A frame, reactor or engine: the common fields."""

    symbol: str
    name: str = ""
    condition: float | None = None
    integrity: float | None = None
    quality: float | None = None
    module_slots: int | None = None
    mounting_points: int | None = None
    fuel_capacity: int | None = None
    power_output: int | None = None
    speed: int | None = None


class ShipRegistration(ApiModel):
    """A ship's name, faction and role."""

    name: str
    faction_symbol: str = ""
    role: str = ""


class ShipCrew(ApiModel):
    """A ship's crew and its morale."""

    current: int = 0
    required: int = 0
    capacity: int = 0
    rotation: str = ""
    morale: int = 0
    wages: int = 0


class Ship(ApiModel):
    """A whole ship as `GET /my/ships/{shipSymbol}` answers it."""

    symbol: str
    registration: ShipRegistration
    nav: ShipNav
    cargo: ShipCargo
    fuel: ShipFuel
    cooldown: Cooldown | None = None
    frame: ShipComponent | None = None
    reactor: ShipComponent | None = None
    engine: ShipComponent | None = None
    crew: ShipCrew | None = None
    modules: list[ShipModule] = Field(default_factory=list)
    mounts: list[ShipMount] = Field(default_factory=list)


class ShipConditionEvent(ApiModel):
    """Wear reported after a flight or an extraction."""

    symbol: str
    component: str = ""
    name: str = ""
    description: str = ""


# --- transactions ------------------------------------------------------------------------------


class MarketTransaction(ApiModel):
    """A purchase or sale of goods at a market."""

    waypoint_symbol: str
    ship_symbol: str
    trade_symbol: str
    type: str  # PURCHASE, SELL
    units: int
    price_per_unit: int
    total_price: int
    timestamp: datetime


class ShipyardTransaction(ApiModel):
    """A ship bought at a shipyard."""

    waypoint_symbol: str
    ship_symbol: str = ""  # the API reports the ship *type* here
    ship_type: str = ""
    price: int = 0
    agent_symbol: str = ""
    timestamp: datetime | None = None


class ShipModificationTransaction(ApiModel):
    """A mount or module installed or removed at a shipyard."""

    waypoint_symbol: str
    ship_symbol: str
    trade_symbol: str
    total_price: int
    timestamp: datetime | None = None


# --- results of ship actions ---------------------------------------------------------------------


class Yield(ApiModel):
    """What one extraction or siphon produced."""

    symbol: str
    units: int


class Extraction(ApiModel):
    """An extraction: which ship, and its yield."""

    ship_symbol: str
    yield_: Yield = Field(alias="yield")


class ExtractResult(ApiModel):
    """The answer to an extraction: the cooldown it started, the yield, the hold."""

    cooldown: Cooldown
    extraction: Extraction
    cargo: ShipCargo
    events: list[ShipConditionEvent] = Field(default_factory=list)


class Siphon(ApiModel):
    """A siphon: which ship, and its yield."""

    ship_symbol: str
    yield_: Yield = Field(alias="yield")


class SiphonResult(ApiModel):
    """The answer to a siphon: the cooldown it started, the yield, the hold."""

    cooldown: Cooldown
    siphon: Siphon
    cargo: ShipCargo
    events: list[ShipConditionEvent] = Field(default_factory=list)


class SurveyDeposit(ApiModel):
    """One deposit a survey found."""

    symbol: str


class Survey(ApiModel):
    """A survey of an asteroid field: its signature, deposits, size and expiry."""

    signature: str
    symbol: str  # the waypoint surveyed
    deposits: list[SurveyDeposit]
    expiration: datetime
    size: str  # SMALL, MODERATE, LARGE

    @field_serializer("expiration", when_used="json")
    def _api_time(self, expiration: datetime) -> str:
        """The expiration as the API writes it (`2025-01-01T12:00:00.000Z`, milliseconds, UTC):
        a survey must go back exactly as it was issued, or extracting with it answers 4220."""
        moment = expiration.astimezone(UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class SurveyResult(ApiModel):
    """The answer to a survey: the cooldown it started and the surveys."""

    cooldown: Cooldown
    surveys: list[Survey]


class NavigateResult(ApiModel):
    """The answer to a navigation: the new route and the fuel left."""

    nav: ShipNav
    fuel: ShipFuel
    events: list[ShipConditionEvent] = Field(default_factory=list)


class JumpResult(ApiModel):
    """The answer to a jump: the new nav, the cooldown and what the antimatter cost."""

    nav: ShipNav
    cooldown: Cooldown
    transaction: MarketTransaction | None = None
    agent: Agent | None = None


class TradeResult(ApiModel):
    """The answer to a sell or a cargo purchase."""

    agent: Agent
    cargo: ShipCargo
    transaction: MarketTransaction


class RefuelResult(ApiModel):
    """The answer to a refuel: the tank, the agent's credits and the cost."""

    agent: Agent
    fuel: ShipFuel
    transaction: MarketTransaction
    cargo: ShipCargo | None = None


class Chart(ApiModel):
    """Who charted a waypoint, and when."""

    waypoint_symbol: str | None = None
    submitted_by: str | None = None
    submitted_on: datetime | None = None


class BuyShipResult(ApiModel):
    """The answer to buying a ship: the ship, the agent and the cost."""

    agent: Agent
    ship: Ship
    transaction: ShipyardTransaction


class MountResult(ApiModel):
    """The answer to installing or removing a mount."""

    agent: Agent
    mounts: list[ShipMount]
    cargo: ShipCargo
    transaction: ShipModificationTransaction


# --- systems, waypoints, markets, shipyards ----------------------------------------------------


class WaypointTrait(ApiModel):
    """A trait of a waypoint (MARKETPLACE, SHIPYARD, ...)."""

    symbol: str
    name: str = ""
    description: str = ""


class WaypointOrbital(ApiModel):
    """A waypoint in orbit of another."""

    symbol: str


class Waypoint(ApiModel):
    """A waypoint with its traits, orbitals and chart."""

    symbol: str
    type: str
    system_symbol: str = ""
    x: int = 0
    y: int = 0
    orbitals: list[WaypointOrbital] = Field(default_factory=list)
    orbits: str | None = None
    traits: list[WaypointTrait] = Field(default_factory=list)
    chart: Chart | None = None
    is_under_construction: bool = False

    def has_trait(self, symbol: str) -> bool:
        """Whether the waypoint has trait `symbol` (e.g. MARKETPLACE)."""
        return any(t.symbol == symbol for t in self.traits)


class ChartResult(ApiModel):
    """The answer to charting a waypoint."""

    chart: Chart
    waypoint: Waypoint
    agent: Agent | None = None


class ScanWaypointsResult(ApiModel):
    """The answer to a waypoint scan: the cooldown and what was seen."""

    cooldown: Cooldown
    waypoints: list[Waypoint]


class SystemWaypoint(ApiModel):
    """A waypoint as a system lists it."""

    symbol: str
    type: str
    x: int = 0
    y: int = 0
    orbitals: list[WaypointOrbital] = Field(default_factory=list)
    orbits: str | None = None


class System(ApiModel):
    """A star system with its waypoints."""

    symbol: str
    sector_symbol: str = ""
    type: str = ""
    x: int = 0
    y: int = 0
    name: str | None = None
    waypoints: list[SystemWaypoint] = Field(default_factory=list)


class TradeGood(ApiModel):
    """A good a market imports, exports or exchanges (without prices)."""

    symbol: str
    name: str = ""
    description: str = ""


class MarketTradeGood(ApiModel):
    """A good at a market with its prices, volume and supply (a ship must be there)."""

    symbol: str
    type: str  # EXPORT, IMPORT, EXCHANGE
    trade_volume: int
    supply: str
    purchase_price: int
    sell_price: int
    activity: str | None = None


class Market(ApiModel):
    """A market: what it trades and, with a ship present, at which prices."""

    symbol: str
    exports: list[TradeGood] = Field(default_factory=list)
    imports: list[TradeGood] = Field(default_factory=list)
    exchange: list[TradeGood] = Field(default_factory=list)
    transactions: list[MarketTransaction] | None = None
    trade_goods: list[MarketTradeGood] | None = None  # only with a ship present

    def good(self, symbol: str) -> MarketTradeGood | None:
        """The listed good `symbol` with its prices (None if unlisted or no ship present)."""
        for good in self.trade_goods or []:
            if good.symbol == symbol:
                return good
        return None


class ShipyardShipType(ApiModel):
    """A ship type a shipyard sells."""

    type: str


class ShipyardShip(ApiModel):
    """A ship for sale with its price and parts (a ship must be there)."""

    type: str
    name: str = ""
    purchase_price: int = 0
    supply: str | None = None
    activity: str | None = None
    frame: ShipComponent | None = None
    reactor: ShipComponent | None = None
    engine: ShipComponent | None = None
    modules: list[ShipModule] = Field(default_factory=list)
    mounts: list[ShipMount] = Field(default_factory=list)


class Shipyard(ApiModel):
    """A shipyard: the types it sells and, with a ship present, their prices."""

    symbol: str
    ship_types: list[ShipyardShipType] = Field(default_factory=list)
    modifications_fee: int = 0
    transactions: list[ShipyardTransaction] | None = None
    ships: list[ShipyardShip] | None = None  # only with a ship present


# --- contracts ---------------------------------------------------------------------------------


class ContractPayment(ApiModel):
    """What a contract pays on accepting and on fulfilling."""

    on_accepted: int
    on_fulfilled: int


class ContractDeliverGood(ApiModel):
    """One delivery a contract asks for, and how much is delivered."""

    trade_symbol: str
    destination_symbol: str
    units_required: int
    units_fulfilled: int


class ContractTerms(ApiModel):
    """A contract's deadline, payment and deliveries."""

    deadline: datetime
    payment: ContractPayment
    deliver: list[ContractDeliverGood] = Field(default_factory=list)


class Contract(ApiModel):
    """A contract of a faction."""

    id: str
    faction_symbol: str
    type: str
    terms: ContractTerms
    accepted: bool
    fulfilled: bool
    expiration: datetime | None = None
    deadline_to_accept: datetime | None = None


class ContractResult(ApiModel):
    """The answer to accepting or fulfilling a contract."""

    agent: Agent
    contract: Contract


class DeliverResult(ApiModel):
    """The answer to a delivery: the contract and the hold."""

    contract: Contract
    cargo: ShipCargo


class NegotiateResult(ApiModel):
    """The answer to negotiating a new contract."""

    contract: Contract


class Registration(ApiModel):
    """The answer to registering an agent (its token is a secret: do not log it)."""

    agent: Agent
    token: str = Field(repr=False)
    ships: list[Ship] = Field(default_factory=list)
    contract: Contract | None = None


# --- pages -------------------------------------------------------------------------------------

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a listing, with the listing's total size."""

    model_config = ConfigDict(frozen=True)

    items: list[T]
    total: int
    page: int
    limit: int

    @property
    def last(self) -> bool:
        """Whether this is the last page of the listing."""
        return self.page * self.limit >= self.total
