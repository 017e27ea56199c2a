import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FleetRole(_message.Message):
    __slots__ = ("name", "ship_type", "count", "behaviour", "waypoint_symbol", "mount_spec", "params", "priority")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    SHIP_TYPE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    BEHAVIOUR_FIELD_NUMBER: _ClassVar[int]
    WAYPOINT_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    MOUNT_SPEC_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    name: str
    ship_type: str
    count: int
    behaviour: str
    waypoint_symbol: str
    mount_spec: _containers.RepeatedScalarFieldContainer[str]
    params: _containers.ScalarMap[str, str]
    priority: int
    def __init__(self, name: _Optional[str] = ..., ship_type: _Optional[str] = ..., count: _Optional[int] = ..., behaviour: _Optional[str] = ..., waypoint_symbol: _Optional[str] = ..., mount_spec: _Optional[_Iterable[str]] = ..., params: _Optional[_Mapping[str, str]] = ..., priority: _Optional[int] = ...) -> None: ...

class FleetPlan(_message.Message):
    __slots__ = ("version", "roles", "working_capital_floor", "updated_at", "updated_by")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    WORKING_CAPITAL_FLOOR_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    version: int
    roles: _containers.RepeatedCompositeFieldContainer[FleetRole]
    working_capital_floor: int
    updated_at: _timestamp_pb2.Timestamp
    updated_by: str
    def __init__(self, version: _Optional[int] = ..., roles: _Optional[_Iterable[_Union[FleetRole, _Mapping]]] = ..., working_capital_floor: _Optional[int] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_by: _Optional[str] = ...) -> None: ...

class ShipAssignment(_message.Message):
    __slots__ = ("ship_symbol", "role", "behaviour", "params", "plan_version", "parked", "manual", "assigned_at", "waypoint_symbol", "mount_spec")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SHIP_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    BEHAVIOUR_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    PLAN_VERSION_FIELD_NUMBER: _ClassVar[int]
    PARKED_FIELD_NUMBER: _ClassVar[int]
    MANUAL_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_AT_FIELD_NUMBER: _ClassVar[int]
    WAYPOINT_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    MOUNT_SPEC_FIELD_NUMBER: _ClassVar[int]
    ship_symbol: str
    role: str
    behaviour: str
    params: _containers.ScalarMap[str, str]
    plan_version: int
    parked: bool
    manual: bool
    assigned_at: _timestamp_pb2.Timestamp
    waypoint_symbol: str
    mount_spec: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ship_symbol: _Optional[str] = ..., role: _Optional[str] = ..., behaviour: _Optional[str] = ..., params: _Optional[_Mapping[str, str]] = ..., plan_version: _Optional[int] = ..., parked: _Optional[bool] = ..., manual: _Optional[bool] = ..., assigned_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., waypoint_symbol: _Optional[str] = ..., mount_spec: _Optional[_Iterable[str]] = ...) -> None: ...
