"""Converting between protobuf `Timestamp`s on the wire and aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp

__all__ = ["EPOCH", "to_datetime", "to_timestamp"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_datetime(ts: Timestamp) -> datetime:
    """`ts` as an aware UTC datetime (microsecond precision, like PostgreSQL)."""
    return EPOCH + timedelta(seconds=ts.seconds, microseconds=ts.nanos // 1000)


def to_timestamp(moment: datetime) -> Timestamp:
    """An aware `moment` as a protobuf `Timestamp`."""
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no instant: give it a time zone")
    ts = Timestamp()
    ts.FromDatetime(moment.astimezone(UTC))
    return ts
