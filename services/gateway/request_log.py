"""One `RequestLog` event per API call, published to JetStream for the persister.

Publishing happens off the reply path through a bounded queue: a slow or briefly unavailable
JetStream never delays a ship's answer, and never lets memory grow without bound (the oldest
events are dropped and counted). Each event's `Nats-Msg-Id` is its UUID, made here when the
event is, so a retried publish is not stored twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque

from google.protobuf.timestamp_pb2 import Timestamp
from nats.errors import Error as NatsError
from nats.js import JetStreamContext

from flotilla import names
from flotilla.backoff import Backoff
from flotilla.v1.events_pb2 import RequestLog
from gateway.core import CallRecord
from gateway.metrics import GatewayMetrics

__all__ = ["PUBLISH_BACKOFF", "RequestLogPublisher", "request_log_event"]

log = logging.getLogger("gateway.request_log")

# Waits between publish attempts of one event: 0.2 s, then 0.4 s.
PUBLISH_BACKOFF = Backoff(base_seconds=0.2, max_seconds=0.4)


def request_log_event(record: CallRecord) -> RequestLog:
    """The request-log event of one answered call, under a fresh UUID of its own (the caller's
    call id is any text the caller chose, so it rides along as `call_id`)."""
    result = record.result
    timestamp = Timestamp()
    timestamp.FromNanoseconds(int(record.finished_at * 1e9))
    return RequestLog(
        event_id=str(uuid.uuid4()),
        call_id=result.call_id,
        agent=record.agent,
        ship_symbol=record.ship_symbol,
        endpoint=record.endpoint,
        method=record.method,
        priority=result.priority,
        status=result.status,
        error_code=result.error_code,
        queued_ms=result.queued_ms,
        wire_ms=result.wire_ms,
        attempts=result.attempts,
        timestamp=timestamp,
        outcome=result.outcome,
        node=record.node,
        fence_token=record.fence_token,
    )


class RequestLogPublisher:
    """Publishes request-log events from a bounded buffer on a background task."""

    def __init__(
        self,
        js: JetStreamContext,
        metrics: GatewayMetrics,
        *,
        capacity: int = 10_000,
        publish_timeout: float = 5.0,
        attempts: int = 3,
    ) -> None:
        self._js = js
        self._metrics = metrics
        self._buffer: deque[RequestLog] = deque()
        self._capacity = capacity
        self._timeout = publish_timeout
        self._attempts = attempts
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self.published = 0

    async def wait_idle(self) -> None:
        """Wait until every recorded event has been published (or dropped)."""
        await self._idle.wait()

    def start(self) -> None:
        """Start publishing on a background task (idempotent)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="gateway-request-log")

    def record(self, record: CallRecord) -> None:
        """Queue the event of one call (never blocks; drops the oldest when full)."""
        if len(self._buffer) >= self._capacity:
            self._buffer.popleft()
            self._metrics.request_log_dropped.inc()
        self._buffer.append(request_log_event(record))
        self._idle.clear()
        self._ready.set()

    async def _run(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self._buffer:
                await self._publish(self._buffer.popleft())
            self._idle.set()

    async def _publish(self, event: RequestLog) -> None:
        data = event.SerializeToString()
        headers = {"Nats-Msg-Id": event.event_id}
        for attempt in range(1, self._attempts + 1):
            try:
                await self._js.publish(
                    names.REQUEST_LOG_SUBJECT, data, timeout=self._timeout, headers=headers
                )
                self.published += 1
                return
            except (NatsError, TimeoutError) as exc:
                if attempt == self._attempts:
                    self._metrics.request_log_dropped.inc()
                    log.warning("request-log event %s dropped: %r", event.event_id, exc)
                    return
                await asyncio.sleep(PUBLISH_BACKOFF.step(attempt))

    async def close(self, flush_seconds: float = 5.0) -> None:
        """Publish what is buffered (for at most `flush_seconds`), then stop."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(flush_seconds):
                await self._idle.wait()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        if self._buffer:
            log.warning("%d request-log events not published at shutdown", len(self._buffer))
