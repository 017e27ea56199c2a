"""The JetStream streams and KV buckets Flotilla needs, and one idempotent call that creates them.

Every service calls `ensure_topology` at start, so any of them can be the first to run.
"""

from __future__ import annotations

from dataclasses import dataclass

import nats
from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StorageType, StreamConfig, StreamInfo
from nats.js.errors import BucketNotFoundError

from flotilla import names

__all__ = [
    "BUCKETS",
    "DEAD_LETTERS",
    "EVENTS",
    "STREAMS",
    "BucketSpec",
    "ensure_topology",
    "leases_epoch",
    "stream_epoch",
]

DAY_SECONDS = 24 * 3600.0


@dataclass(frozen=True)
class BucketSpec:
    """A KV bucket: `ttl_seconds` expires keys not written for that long (0: never).

    `marker_ttl_seconds` > 0 makes the server write a delete marker when a key expires (by the
    bucket's TTL or by a message's own `Nats-TTL`), kept that long, so that watchers see the
    expiry as it happens instead of only on their next read.
    """

    name: str
    ttl_seconds: float = 0.0
    history: int = 1
    marker_ttl_seconds: float = 0.0


EVENTS = StreamConfig(
    name=names.EVENTS_STREAM,
    subjects=[names.EVENTS_SUBJECTS],
    retention=RetentionPolicy.LIMITS,
    storage=StorageType.FILE,
    max_age=7 * DAY_SECONDS,
    duplicate_window=120.0,  # publishers set Nats-Msg-Id to the event UUID: retries are not doubled
)
DEAD_LETTERS = StreamConfig(
    name=names.DEAD_LETTER_STREAM,
    subjects=[names.DEAD_LETTER_SUBJECTS],
    retention=RetentionPolicy.LIMITS,
    storage=StorageType.FILE,
    max_age=30 * DAY_SECONDS,
)
STREAMS = (EVENTS, DEAD_LETTERS)

# Heartbeats, leases, surveys and reservations expire by a TTL on each message, written by the
# dispatcher from its settings (see `dispatcher.leases` for why that, and not a bucket TTL).
_EXPIRY_MARKERS = 5.0
BUCKETS = (
    BucketSpec(names.NODES_BUCKET, marker_ttl_seconds=_EXPIRY_MARKERS),
    BucketSpec(names.LEASES_BUCKET, marker_ttl_seconds=_EXPIRY_MARKERS),
    BucketSpec(names.PLAN_BUCKET, history=10),
    BucketSpec(names.ASSIGNMENTS_BUCKET),
    BucketSpec(names.CONDUCTOR_BUCKET, marker_ttl_seconds=_EXPIRY_MARKERS),
    BucketSpec(names.FLEET_BUCKET),
    BucketSpec(names.SHIPS_BUCKET),
    BucketSpec(names.MARKETS_BUCKET),
    BucketSpec(names.SHIPYARDS_BUCKET),
    BucketSpec(names.WAYPOINTS_BUCKET),
    BucketSpec(names.SURVEYS_BUCKET, marker_ttl_seconds=_EXPIRY_MARKERS),
    BucketSpec(names.SURVEY_RESERVATIONS_BUCKET, marker_ttl_seconds=_EXPIRY_MARKERS),
)


async def ensure_topology(js: JetStreamContext) -> None:
    """Create the streams and buckets if missing; update stream configs that changed."""
    for config in STREAMS:
        assert config.name is not None
        try:
            await js.stream_info(config.name)
            await js.update_stream(config)
        except nats.js.errors.NotFoundError:
            await js.add_stream(config)
    for bucket in BUCKETS:
        try:
            await js.key_value(bucket.name)
        except BucketNotFoundError:
            await js.create_key_value(
                bucket=bucket.name,
                history=bucket.history,
                ttl=bucket.ttl_seconds or None,
                storage=StorageType.FILE,
                limit_marker_ttl=bucket.marker_ttl_seconds or None,
            )


def stream_epoch(info: StreamInfo) -> int:
    """A stream's creation time in nanoseconds since the epoch (0 if the server gave none): the
    epoch of a KV bucket's revisions, which restart at 1 when the bucket is recreated."""
    if info.created is None:
        return 0
    return int(info.created.timestamp() * 1_000_000_000)


async def leases_epoch(js: JetStreamContext) -> int:
    """The epoch of the leases bucket's revisions: the dispatcher puts it in every fence, and
    the gateway compares fences by it first."""
    return stream_epoch(await js.stream_info(f"KV_{names.LEASES_BUCKET}"))
