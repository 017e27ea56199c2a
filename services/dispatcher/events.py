"""Publishing off the ship tasks' path: events to the events stream (with `Nats-Msg-Id` set to
the event's UUID, so a retried publish is stored once) and values to KV buckets.

A ship task only enqueues (it never waits for JetStream); one publisher task sends in batches
with pipelined acknowledgements and retries what failed. Snapshots of one key are coalesced:
only the newest queued value of a key is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from google.protobuf.message import Message

from dispatcher.pipeline import Pipeline, Write
from flotilla.backoff import Backoff
from flotilla.telemetry import inject_headers

__all__ = ["EventPublisher", "Publisher", "kv_subject"]

log = logging.getLogger("dispatcher.events")

_MAX_ATTEMPTS = 5
_BATCH = 512
_RETRY = Backoff(base_seconds=0.2, max_seconds=5.0)


def kv_subject(bucket: str, key: str) -> str:
    """The subject a KV bucket stores `key` under."""
    return f"$KV.{bucket}.{key}"


class Publisher(Protocol):
    """Where events and KV values go (the `EventPublisher`; a recorder in unit tests)."""

    def event(self, subject: str, message: Message, event_id: str) -> None:
        """Queue an event for the events stream."""

    def value(
        self, bucket: str, key: str, message: Message, *, ttl_seconds: int | None = None
    ) -> None:
        """Queue a KV value."""

    def delete(self, bucket: str, key: str) -> None:
        """Queue a KV deletion."""


@dataclass(slots=True)
class _Outgoing:
    subject: str
    payload: bytes
    headers: dict[str, str]
    attempts: int = 0


class EventPublisher:
    """A bounded queue of events and KV values, sent by one task (`run`)."""

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        capacity: int = 100_000,
        on_drop: Callable[[str], None] | None = None,
        on_published: Callable[[int], None] | None = None,
    ) -> None:
        self._pipeline = pipeline
        self._capacity = capacity
        self._events: deque[_Outgoing] = deque()
        self._values: dict[str, _Outgoing] = {}
        self._ready = asyncio.Event()
        self._on_drop = on_drop or (lambda reason: None)
        self._on_published = on_published or (lambda count: None)
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def pending(self) -> int:
        """Messages queued and not yet acknowledged."""
        return len(self._events) + len(self._values)

    def event(self, subject: str, message: Message, event_id: str) -> None:
        """Queue `message` for the events stream; it carries the current trace context."""
        if len(self._events) >= self._capacity:
            self._on_drop("queue_full")
            return
        headers = inject_headers({"Nats-Msg-Id": event_id})
        self._events.append(_Outgoing(subject, message.SerializeToString(), headers))
        self._wake()

    def value(
        self, bucket: str, key: str, message: Message, *, ttl_seconds: int | None = None
    ) -> None:
        """Queue `message` as the newest value of `key` in `bucket` (replacing a queued one);
        with `ttl_seconds` the server expires it that long after writing it."""
        subject = kv_subject(bucket, key)
        headers = {"Nats-TTL": f"{ttl_seconds}s"} if ttl_seconds else {}
        self._values[subject] = _Outgoing(subject, message.SerializeToString(), headers)
        self._wake()

    def delete(self, bucket: str, key: str) -> None:
        """Queue the deletion of `key` from `bucket` (replacing a queued value)."""
        subject = kv_subject(bucket, key)
        self._values[subject] = _Outgoing(subject, b"", {"KV-Operation": "DEL"})
        self._wake()

    def _wake(self) -> None:
        self._idle.clear()
        self._ready.set()

    async def flushed(self, within_seconds: float) -> bool:
        """Wait until everything queued so far was acknowledged (False: not in that time)."""
        try:
            await asyncio.wait_for(self._idle.wait(), within_seconds)
        except TimeoutError:
            return False
        return True

    async def run(self, stopping: asyncio.Event) -> None:
        """Send until `stopping` is set and the queue is empty."""
        while True:
            if not self._events and not self._values:
                self._idle.set()
                if stopping.is_set():
                    return
                self._ready.clear()
                waits = {asyncio.ensure_future(self._ready.wait())}
                stop = asyncio.ensure_future(stopping.wait())
                await asyncio.wait({*waits, stop}, return_when=asyncio.FIRST_COMPLETED)
                for task in (*waits, stop):
                    task.cancel()
                continue
            batch: list[_Outgoing] = []
            while self._events and len(batch) < _BATCH:
                batch.append(self._events.popleft())
            while self._values and len(batch) < _BATCH:
                subject = next(iter(self._values))
                batch.append(self._values.pop(subject))
            await self._send(batch)

    async def _send(self, batch: list[_Outgoing]) -> None:
        acks = await self._pipeline.publish_all(
            [Write(item.subject, item.payload, item.headers or None) for item in batch]
        )
        retry = 0
        published = 0
        for item, ack in zip(batch, acks, strict=True):
            if ack.ok:
                published += 1
                continue
            item.attempts += 1
            if item.attempts >= _MAX_ATTEMPTS:
                log.warning("giving up on a message to %s: %s", item.subject, ack.description)
                self._on_drop("publish_failed")
                continue
            retry += 1
            if item.subject.startswith("$KV."):
                self._values.setdefault(item.subject, item)
            else:
                self._events.appendleft(item)
        self._on_published(published)
        if retry:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(_RETRY.delay(min(_MAX_ATTEMPTS, max(1, retry))))
