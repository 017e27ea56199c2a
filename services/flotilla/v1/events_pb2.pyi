import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from flotilla.v1 import api_pb2 as _api_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TransactionKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRANSACTION_KIND_UNSPECIFIED: _ClassVar[TransactionKind]
    TRANSACTION_KIND_SELL: _ClassVar[TransactionKind]
    TRANSACTION_KIND_PURCHASE: _ClassVar[TransactionKind]
    TRANSACTION_KIND_FUEL: _ClassVar[TransactionKind]
    TRANSACTION_KIND_SHIP: _ClassVar[TransactionKind]
    TRANSACTION_KIND_MOUNT: _ClassVar[TransactionKind]
    TRANSACTION_KIND_CONTRACT: _ClassVar[TransactionKind]
    TRANSACTION_KIND_OTHER: _ClassVar[TransactionKind]
TRANSACTION_KIND_UNSPECIFIED: TransactionKind
TRANSACTION_KIND_SELL: TransactionKind
TRANSACTION_KIND_PURCHASE: TransactionKind
TRANSACTION_KIND_FUEL: TransactionKind
TRANSACTION_KIND_SHIP: TransactionKind
TRANSACTION_KIND_MOUNT: TransactionKind
TRANSACTION_KIND_CONTRACT: TransactionKind
TRANSACTION_KIND_OTHER: TransactionKind

class ShipRoutePoint(_message.Message):
    __slots__ = ("symbol", "type", "system_symbol", "x", "y")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    type: str
    system_symbol: str
    x: int
    y: int
    def __init__(self, symbol: _Optional[str] = ..., type: _Optional[str] = ..., system_symbol: _Optional[str] = ..., x: _Optional[int] = ..., y: _Optional[int] = ...) -> None: ...

class ShipNav(_message.Message):
    __slots__ = ("system_symbol", "waypoint_symbol", "status", "flight_mode", "origin", "destination", "departure_time", "arrival")
    SYSTEM_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    WAYPOINT_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FLIGHT_MODE_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    DEPARTURE_TIME_FIELD_NUMBER: _ClassVar[int]
    ARRIVAL_FIELD_NUMBER: _ClassVar[int]
    system_symbol: str
    waypoint_symbol: str
    status: str
    flight_mode: str
    origin: ShipRoutePoint
    destination: ShipRoutePoint
    departure_time: _timestamp_pb2.Timestamp
    arrival: _timestamp_pb2.Timestamp
    def __init__(self, system_symbol: _Optional[str] = ..., waypoint_symbol: _Optional[str] = ..., status: _Optional[str] = ..., flight_mode: _Optional[str] = ..., origin: _Optional[_Union[ShipRoutePoint, _Mapping]] = ..., destination: _Optional[_Union[ShipRoutePoint, _Mapping]] = ..., departure_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., arrival: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ShipFuel(_message.Message):
    __slots__ = ("current", "capacity")
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    current: int
    capacity: int
    def __init__(self, current: _Optional[int] = ..., capacity: _Optional[int] = ...) -> None: ...

class CargoItem(_message.Message):
    __slots__ = ("symbol", "units")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    UNITS_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    units: int
    def __init__(self, symbol: _Optional[str] = ..., units: _Optional[int] = ...) -> None: ...

class ShipCargo(_message.Message):
    __slots__ = ("capacity", "units", "inventory")
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    UNITS_FIELD_NUMBER: _ClassVar[int]
    INVENTORY_FIELD_NUMBER: _ClassVar[int]
    capacity: int
    units: int
    inventory: _containers.RepeatedCompositeFieldContainer[CargoItem]
    def __init__(self, capacity: _Optional[int] = ..., units: _Optional[int] = ..., inventory: _Optional[_Iterable[_Union[CargoItem, _Mapping]]] = ...) -> None: ...

class ShipCooldown(_message.Message):
    __slots__ = ("total_seconds", "expiration")
    TOTAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    EXPIRATION_FIELD_NUMBER: _ClassVar[int]
    total_seconds: int
    expiration: _timestamp_pb2.Timestamp
    def __init__(self, total_seconds: _Optional[int] = ..., expiration: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ShipMounts(_message.Message):
    __slots__ = ("symbols",)
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    symbols: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, symbols: _Optional[_Iterable[str]] = ...) -> None: ...

class ShipState(_message.Message):
    __slots__ = ("event_id", "agent", "ship_symbol", "version", "observed_at", "changed", "nav", "fuel", "cargo", "cooldown", "mounts", "role", "frame", "behaviour")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    SHIP_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_AT_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    NAV_FIELD_NUMBER: _ClassVar[int]
    FUEL_FIELD_NUMBER: _ClassVar[int]
    CARGO_FIELD_NUMBER: _ClassVar[int]
    COOLDOWN_FIELD_NUMBER: _ClassVar[int]
    MOUNTS_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    FRAME_FIELD_NUMBER: _ClassVar[int]
    BEHAVIOUR_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    agent: str
    ship_symbol: str
    version: int
    observed_at: _timestamp_pb2.Timestamp
    changed: _containers.RepeatedScalarFieldContainer[str]
    nav: ShipNav
    fuel: ShipFuel
    cargo: ShipCargo
    cooldown: ShipCooldown
    mounts: ShipMounts
    role: str
    frame: str
    behaviour: str
    def __init__(self, event_id: _Optional[str] = ..., agent: _Optional[str] = ..., ship_symbol: _Optional[str] = ..., version: _Optional[int] = ..., observed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., changed: _Optional[_Iterable[str]] = ..., nav: _Optional[_Union[ShipNav, _Mapping]] = ..., fuel: _Optional[_Union[ShipFuel, _Mapping]] = ..., cargo: _Optional[_Union[ShipCargo, _Mapping]] = ..., cooldown: _Optional[_Union[ShipCooldown, _Mapping]] = ..., mounts: _Optional[_Union[ShipMounts, _Mapping]] = ..., role: _Optional[str] = ..., frame: _Optional[str] = ..., behaviour: _Optional[str] = ...) -> None: ...

class MarketGood(_message.Message):
    __slots__ = ("symbol", "type", "trade_volume", "supply", "activity", "purchase_price", "sell_price")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TRADE_VOLUME_FIELD_NUMBER: _ClassVar[int]
    SUPPLY_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    PURCHASE_PRICE_FIELD_NUMBER: _ClassVar[int]
    SELL_PRICE_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    type: str
    trade_volume: int
    supply: str
    activity: str
    purchase_price: int
    sell_price: int
    def __init__(self, symbol: _Optional[str] = ..., type: _Optional[str] = ..., trade_volume: _Optional[int] = ..., supply: _Optional[str] = ..., activity: _Optional[str] = ..., purchase_price: _Optional[int] = ..., sell_price: _Optional[int] = ...) -> None: ...

class MarketObservation(_message.Message):
    __slots__ = ("event_id", "waypoint_symbol", "system_symbol", "observed_at", "goods", "exports", "imports", "exchange")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    WAYPOINT_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_AT_FIELD_NUMBER: _ClassVar[int]
    GOODS_FIELD_NUMBER: _ClassVar[int]
    EXPORTS_FIELD_NUMBER: _ClassVar[int]
    IMPORTS_FIELD_NUMBER: _ClassVar[int]
    EXCHANGE_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    waypoint_symbol: str
    system_symbol: str
    observed_at: _timestamp_pb2.Timestamp
    goods: _containers.RepeatedCompositeFieldContainer[MarketGood]
    exports: _containers.RepeatedScalarFieldContainer[str]
    imports: _containers.RepeatedScalarFieldContainer[str]
    exchange: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, event_id: _Optional[str] = ..., waypoint_symbol: _Optional[str] = ..., system_symbol: _Optional[str] = ..., observed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., goods: _Optional[_Iterable[_Union[MarketGood, _Mapping]]] = ..., exports: _Optional[_Iterable[str]] = ..., imports: _Optional[_Iterable[str]] = ..., exchange: _Optional[_Iterable[str]] = ...) -> None: ...

class ShipyardListing(_message.Message):
    __slots__ = ("ship_type", "purchase_price")
    SHIP_TYPE_FIELD_NUMBER: _ClassVar[int]
    PURCHASE_PRICE_FIELD_NUMBER: _ClassVar[int]
    ship_type: str
    purchase_price: int
    def __init__(self, ship_type: _Optional[str] = ..., purchase_price: _Optional[int] = ...) -> None: ...

class ShipyardObservation(_message.Message):
    __slots__ = ("event_id", "waypoint_symbol", "system_symbol", "observed_at", "ships", "ship_types", "modifications_fee")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    WAYPOINT_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_AT_FIELD_NUMBER: _ClassVar[int]
    SHIPS_FIELD_NUMBER: _ClassVar[int]
    SHIP_TYPES_FIELD_NUMBER: _ClassVar[int]
    MODIFICATIONS_FEE_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    waypoint_symbol: str
    system_symbol: str
    observed_at: _timestamp_pb2.Timestamp
    ships: _containers.RepeatedCompositeFieldContainer[ShipyardListing]
    ship_types: _containers.RepeatedScalarFieldContainer[str]
    modifications_fee: int
    def __init__(self, event_id: _Optional[str] = ..., waypoint_symbol: _Optional[str] = ..., system_symbol: _Optional[str] = ..., observed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ships: _Optional[_Iterable[_Union[ShipyardListing, _Mapping]]] = ..., ship_types: _Optional[_Iterable[str]] = ..., modifications_fee: _Optional[int] = ...) -> None: ...

class Transaction(_message.Message):
    __slots__ = ("event_id", "agent", "ship_symbol", "waypoint_symbol", "kind", "trade_symbol", "units", "price_per_unit", "total_price", "timestamp", "behaviour")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    SHIP_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    WAYPOINT_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TRADE_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    UNITS_FIELD_NUMBER: _ClassVar[int]
    PRICE_PER_UNIT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_PRICE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    BEHAVIOUR_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    agent: str
    ship_symbol: str
    waypoint_symbol: str
    kind: TransactionKind
    trade_symbol: str
    units: int
    price_per_unit: int
    total_price: int
    timestamp: _timestamp_pb2.Timestamp
    behaviour: str
    def __init__(self, event_id: _Optional[str] = ..., agent: _Optional[str] = ..., ship_symbol: _Optional[str] = ..., waypoint_symbol: _Optional[str] = ..., kind: _Optional[_Union[TransactionKind, str]] = ..., trade_symbol: _Optional[str] = ..., units: _Optional[int] = ..., price_per_unit: _Optional[int] = ..., total_price: _Optional[int] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., behaviour: _Optional[str] = ...) -> None: ...

class Extraction(_message.Message):
    __slots__ = ("event_id", "agent", "ship_symbol", "waypoint_symbol", "trade_symbol", "units", "survey_signature", "timestamp")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    SHIP_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    WAYPOINT_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    TRADE_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    UNITS_FIELD_NUMBER: _ClassVar[int]
    SURVEY_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    agent: str
    ship_symbol: str
    waypoint_symbol: str
    trade_symbol: str
    units: int
    survey_signature: str
    timestamp: _timestamp_pb2.Timestamp
    def __init__(self, event_id: _Optional[str] = ..., agent: _Optional[str] = ..., ship_symbol: _Optional[str] = ..., waypoint_symbol: _Optional[str] = ..., trade_symbol: _Optional[str] = ..., units: _Optional[int] = ..., survey_signature: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AgentState(_message.Message):
    __slots__ = ("event_id", "symbol", "credits", "headquarters", "starting_faction", "ship_count", "observed_at")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    HEADQUARTERS_FIELD_NUMBER: _ClassVar[int]
    STARTING_FACTION_FIELD_NUMBER: _ClassVar[int]
    SHIP_COUNT_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_AT_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    symbol: str
    credits: int
    headquarters: str
    starting_faction: str
    ship_count: int
    observed_at: _timestamp_pb2.Timestamp
    def __init__(self, event_id: _Optional[str] = ..., symbol: _Optional[str] = ..., credits: _Optional[int] = ..., headquarters: _Optional[str] = ..., starting_faction: _Optional[str] = ..., ship_count: _Optional[int] = ..., observed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RequestLog(_message.Message):
    __slots__ = ("event_id", "agent", "ship_symbol", "endpoint", "method", "priority", "status", "error_code", "queued_ms", "wire_ms", "attempts", "timestamp", "outcome", "node", "fence_token", "call_id")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    SHIP_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    QUEUED_MS_FIELD_NUMBER: _ClassVar[int]
    WIRE_MS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    FENCE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    agent: str
    ship_symbol: str
    endpoint: str
    method: str
    priority: _api_pb2.PriorityClass
    status: int
    error_code: int
    queued_ms: float
    wire_ms: float
    attempts: int
    timestamp: _timestamp_pb2.Timestamp
    outcome: _api_pb2.CallOutcome
    node: str
    fence_token: int
    call_id: str
    def __init__(self, event_id: _Optional[str] = ..., agent: _Optional[str] = ..., ship_symbol: _Optional[str] = ..., endpoint: _Optional[str] = ..., method: _Optional[str] = ..., priority: _Optional[_Union[_api_pb2.PriorityClass, str]] = ..., status: _Optional[int] = ..., error_code: _Optional[int] = ..., queued_ms: _Optional[float] = ..., wire_ms: _Optional[float] = ..., attempts: _Optional[int] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., outcome: _Optional[_Union[_api_pb2.CallOutcome, str]] = ..., node: _Optional[str] = ..., fence_token: _Optional[int] = ..., call_id: _Optional[str] = ...) -> None: ...

class SurveyDeposit(_message.Message):
    __slots__ = ("symbol",)
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    def __init__(self, symbol: _Optional[str] = ...) -> None: ...

class SurveyObservation(_message.Message):
    __slots__ = ("event_id", "agent", "ship_symbol", "waypoint_symbol", "signature", "size", "deposits", "expiration", "observed_at")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    SHIP_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    WAYPOINT_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    DEPOSITS_FIELD_NUMBER: _ClassVar[int]
    EXPIRATION_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_AT_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    agent: str
    ship_symbol: str
    waypoint_symbol: str
    signature: str
    size: str
    deposits: _containers.RepeatedCompositeFieldContainer[SurveyDeposit]
    expiration: _timestamp_pb2.Timestamp
    observed_at: _timestamp_pb2.Timestamp
    def __init__(self, event_id: _Optional[str] = ..., agent: _Optional[str] = ..., ship_symbol: _Optional[str] = ..., waypoint_symbol: _Optional[str] = ..., signature: _Optional[str] = ..., size: _Optional[str] = ..., deposits: _Optional[_Iterable[_Union[SurveyDeposit, _Mapping]]] = ..., expiration: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., observed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class WaypointTrait(_message.Message):
    __slots__ = ("symbol",)
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    def __init__(self, symbol: _Optional[str] = ...) -> None: ...

class WaypointObservation(_message.Message):
    __slots__ = ("event_id", "waypoint_symbol", "system_symbol", "type", "x", "y", "traits", "orbitals", "orbits", "charted", "under_construction", "observed_at", "observed_by")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    WAYPOINT_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    TRAITS_FIELD_NUMBER: _ClassVar[int]
    ORBITALS_FIELD_NUMBER: _ClassVar[int]
    ORBITS_FIELD_NUMBER: _ClassVar[int]
    CHARTED_FIELD_NUMBER: _ClassVar[int]
    UNDER_CONSTRUCTION_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_AT_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_BY_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    waypoint_symbol: str
    system_symbol: str
    type: str
    x: int
    y: int
    traits: _containers.RepeatedScalarFieldContainer[str]
    orbitals: _containers.RepeatedScalarFieldContainer[str]
    orbits: str
    charted: bool
    under_construction: bool
    observed_at: _timestamp_pb2.Timestamp
    observed_by: str
    def __init__(self, event_id: _Optional[str] = ..., waypoint_symbol: _Optional[str] = ..., system_symbol: _Optional[str] = ..., type: _Optional[str] = ..., x: _Optional[int] = ..., y: _Optional[int] = ..., traits: _Optional[_Iterable[str]] = ..., orbitals: _Optional[_Iterable[str]] = ..., orbits: _Optional[str] = ..., charted: _Optional[bool] = ..., under_construction: _Optional[bool] = ..., observed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., observed_by: _Optional[str] = ...) -> None: ...
