import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PriorityClass(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRIORITY_CLASS_UNSPECIFIED: _ClassVar[PriorityClass]
    PRIORITY_CLASS_COOLDOWN_START: _ClassVar[PriorityClass]
    PRIORITY_CLASS_SHIP_UNBLOCK: _ClassVar[PriorityClass]
    PRIORITY_CLASS_FLEET: _ClassVar[PriorityClass]
    PRIORITY_CLASS_BACKGROUND: _ClassVar[PriorityClass]

class CallOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CALL_OUTCOME_UNSPECIFIED: _ClassVar[CallOutcome]
    CALL_OUTCOME_COMPLETED: _ClassVar[CallOutcome]
    CALL_OUTCOME_EXPIRED: _ClassVar[CallOutcome]
    CALL_OUTCOME_OVERLOADED: _ClassVar[CallOutcome]
    CALL_OUTCOME_UNKNOWN: _ClassVar[CallOutcome]
    CALL_OUTCOME_FAILED: _ClassVar[CallOutcome]
    CALL_OUTCOME_REJECTED: _ClassVar[CallOutcome]
    CALL_OUTCOME_FENCED: _ClassVar[CallOutcome]
PRIORITY_CLASS_UNSPECIFIED: PriorityClass
PRIORITY_CLASS_COOLDOWN_START: PriorityClass
PRIORITY_CLASS_SHIP_UNBLOCK: PriorityClass
PRIORITY_CLASS_FLEET: PriorityClass
PRIORITY_CLASS_BACKGROUND: PriorityClass
CALL_OUTCOME_UNSPECIFIED: CallOutcome
CALL_OUTCOME_COMPLETED: CallOutcome
CALL_OUTCOME_EXPIRED: CallOutcome
CALL_OUTCOME_OVERLOADED: CallOutcome
CALL_OUTCOME_UNKNOWN: CallOutcome
CALL_OUTCOME_FAILED: CallOutcome
CALL_OUTCOME_REJECTED: CallOutcome
CALL_OUTCOME_FENCED: CallOutcome

class ApiCall(_message.Message):
    __slots__ = ("call_id", "agent", "method", "path", "query", "json_body", "priority", "deadline", "ship_symbol", "trace_context", "fence", "node")
    class QueryEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class TraceContextEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    JSON_BODY_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    SHIP_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    TRACE_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    FENCE_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    agent: str
    method: str
    path: str
    query: _containers.ScalarMap[str, str]
    json_body: bytes
    priority: PriorityClass
    deadline: _timestamp_pb2.Timestamp
    ship_symbol: str
    trace_context: _containers.ScalarMap[str, str]
    fence: ShipFence
    node: str
    def __init__(self, call_id: _Optional[str] = ..., agent: _Optional[str] = ..., method: _Optional[str] = ..., path: _Optional[str] = ..., query: _Optional[_Mapping[str, str]] = ..., json_body: _Optional[bytes] = ..., priority: _Optional[_Union[PriorityClass, str]] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ship_symbol: _Optional[str] = ..., trace_context: _Optional[_Mapping[str, str]] = ..., fence: _Optional[_Union[ShipFence, _Mapping]] = ..., node: _Optional[str] = ...) -> None: ...

class ShipFence(_message.Message):
    __slots__ = ("key", "token", "epoch")
    KEY_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    key: str
    token: int
    epoch: int
    def __init__(self, key: _Optional[str] = ..., token: _Optional[int] = ..., epoch: _Optional[int] = ...) -> None: ...

class ApiResult(_message.Message):
    __slots__ = ("call_id", "outcome", "status", "json_body", "error_code", "error_message", "queued_ms", "wire_ms", "attempts", "priority")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    JSON_BODY_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    QUEUED_MS_FIELD_NUMBER: _ClassVar[int]
    WIRE_MS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    outcome: CallOutcome
    status: int
    json_body: bytes
    error_code: int
    error_message: str
    queued_ms: float
    wire_ms: float
    attempts: int
    priority: PriorityClass
    def __init__(self, call_id: _Optional[str] = ..., outcome: _Optional[_Union[CallOutcome, str]] = ..., status: _Optional[int] = ..., json_body: _Optional[bytes] = ..., error_code: _Optional[int] = ..., error_message: _Optional[str] = ..., queued_ms: _Optional[float] = ..., wire_ms: _Optional[float] = ..., attempts: _Optional[int] = ..., priority: _Optional[_Union[PriorityClass, str]] = ...) -> None: ...
