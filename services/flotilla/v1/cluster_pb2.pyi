import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NodeHeartbeat(_message.Message):
    __slots__ = ("node", "started_at", "sent_at", "owned_ships", "version", "draining")
    NODE_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    SENT_AT_FIELD_NUMBER: _ClassVar[int]
    OWNED_SHIPS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DRAINING_FIELD_NUMBER: _ClassVar[int]
    node: str
    started_at: _timestamp_pb2.Timestamp
    sent_at: _timestamp_pb2.Timestamp
    owned_ships: int
    version: str
    draining: bool
    def __init__(self, node: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sent_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., owned_ships: _Optional[int] = ..., version: _Optional[str] = ..., draining: _Optional[bool] = ...) -> None: ...

class ShipLease(_message.Message):
    __slots__ = ("ship_symbol", "node", "acquired_at", "renewed_at", "token", "ttl_seconds")
    SHIP_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    ACQUIRED_AT_FIELD_NUMBER: _ClassVar[int]
    RENEWED_AT_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ship_symbol: str
    node: str
    acquired_at: _timestamp_pb2.Timestamp
    renewed_at: _timestamp_pb2.Timestamp
    token: int
    ttl_seconds: int
    def __init__(self, ship_symbol: _Optional[str] = ..., node: _Optional[str] = ..., acquired_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., renewed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., token: _Optional[int] = ..., ttl_seconds: _Optional[int] = ...) -> None: ...

class SurveyReservation(_message.Message):
    __slots__ = ("signature", "ship_symbol", "node", "reserved_at")
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    SHIP_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    RESERVED_AT_FIELD_NUMBER: _ClassVar[int]
    signature: str
    ship_symbol: str
    node: str
    reserved_at: _timestamp_pb2.Timestamp
    def __init__(self, signature: _Optional[str] = ..., ship_symbol: _Optional[str] = ..., node: _Optional[str] = ..., reserved_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DeadLetter(_message.Message):
    __slots__ = ("subject", "payload", "reason", "consumer", "failed_at", "headers")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_FIELD_NUMBER: _ClassVar[int]
    FAILED_AT_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    subject: str
    payload: bytes
    reason: str
    consumer: str
    failed_at: _timestamp_pb2.Timestamp
    headers: _containers.ScalarMap[str, str]
    def __init__(self, subject: _Optional[str] = ..., payload: _Optional[bytes] = ..., reason: _Optional[str] = ..., consumer: _Optional[str] = ..., failed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., headers: _Optional[_Mapping[str, str]] = ...) -> None: ...
