"""The persister service: fetch a batch, decode it, coalesce it, write it in one transaction,
then ack — and when the database is away, stop acking and retry with backoff until it returns.

Delivery is at least once (a crash between commit and ack redelivers the batch) and every write
is idempotent, so nothing is lost and nothing is doubled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from alembic.script import ScriptDirectory
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from opentelemetry import trace
from opentelemetry.trace import Link, Span, StatusCode, Tracer
from prometheus_client import generate_latest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from flotilla import names
from flotilla.probes import Check, ProbeServer, flag_check
from flotilla.telemetry import configure_tracing, extract_context
from flotilla.topology import connect, ensure_topology
from persister.coalesce import coalesce_batch
from persister.consumer import PullConsumer
from persister.contract import Event, Rejected, decode_event
from persister.database import open_pool
from persister.dead_letters import publish_dead_letter
from persister.metrics import PersisterMetrics
from persister.migrate import alembic_config
from persister.settings import PersisterSettings
from persister.writer import BatchWriter, WriteResult

log = logging.getLogger("persister")

# Errors that say "this data can never be written" (SQLSTATE classes 22 and 23): the batch is
# split to find the message responsible, which goes to the dead letters. Anything else
# (connection lost, server shutting down, timeouts, deadlocks) is retried.
DATA_ERRORS = (psycopg.errors.DataError, psycopg.errors.IntegrityError)
MAX_TRACE_LINKS = 128

Held = tuple[Msg, Event]


class Backoff:
    """Exponential backoff with jitter: `initial`, doubling up to `maximum`."""

    def __init__(
        self, initial: float, maximum: float, *, jitter: Callable[[], float] = random.random
    ) -> None:
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter
        self.attempts = 0

    def next_delay(self) -> float:
        delay: float = min(self.maximum, self.initial * 2.0**self.attempts)
        self.attempts += 1
        return delay * (0.8 + 0.4 * self.jitter())


@dataclass
class PersisterStats:
    """Totals since start (the benchmark reads them; Prometheus has the same as metrics)."""

    batches: int = 0
    events: Counter[str] = field(default_factory=Counter)
    rows: Counter[str] = field(default_factory=Counter)
    statements: int = 0
    dead_letters: int = 0
    database_errors: int = 0
    acked: int = 0


def consumer_config(settings: PersisterSettings) -> ConsumerConfig:
    """The durable consumer all persister replicas share."""
    return ConsumerConfig(
        name=names.PERSISTER_CONSUMER,
        durable_name=names.PERSISTER_CONSUMER,
        description="Flotilla persister: writes events to PostgreSQL",
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=settings.persister_ack_wait_seconds,
        max_deliver=-1,  # never give up on an event: a database outage must lose nothing
        max_ack_pending=settings.persister_max_ack_pending,
    )


class Persister:
    """Drains the events stream into PostgreSQL until `stopping` is set."""

    def __init__(
        self,
        settings: PersisterSettings,
        nc: NatsClient,
        pool: AsyncConnectionPool[AsyncConnection[Any]],
        *,
        metrics: PersisterMetrics | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
        tracer: Tracer | None = None,
    ) -> None:
        self.settings = settings
        self.tracer = tracer or trace.get_tracer("flotilla.persister")
        self.nc = nc
        self.js = nc.jetstream()
        self.pool = pool
        self.metrics = metrics or PersisterMetrics()
        self.clock = clock
        self.monotonic = monotonic
        self.writer = BatchWriter()
        self.stats = PersisterStats()
        self.consumer = PullConsumer(
            nc, names.EVENTS_STREAM, names.PERSISTER_CONSUMER, clock=monotonic
        )
        self._fetch_lock = asyncio.Lock()
        # For the readiness probe: the schema is migrated, and the last database access worked.
        self.schema_ready = False
        self.database_ok = False

    # --- lifecycle ------------------------------------------------------------------------

    async def run(self, stopping: asyncio.Event) -> None:
        """Create the consumer, wait for the schema, then drain batches with
        `persister_concurrency` workers until `stopping` is set."""
        await ensure_topology(self.js)
        await self.js.add_consumer(names.EVENTS_STREAM, consumer_config(self.settings))
        if not await self.wait_for_schema(stopping):
            return
        await self.consumer.start()
        log.info(
            "persister consuming",
            extra={
                "batch_size": self.settings.persister_batch_size,
                "max_wait_seconds": self.settings.persister_max_wait_seconds,
                "concurrency": self.settings.persister_concurrency,
            },
        )
        try:
            async with asyncio.TaskGroup() as workers:
                for _ in range(self.settings.persister_concurrency):
                    workers.create_task(self._work(stopping))
        finally:
            with contextlib.suppress(Exception):
                await self.consumer.stop()

    async def wait_for_schema(self, stopping: asyncio.Event) -> bool:
        """Wait until the database is reachable and migrated (to this build's head or to a
        newer revision); False if `stopping` was set first. Services never migrate."""
        script = ScriptDirectory.from_config(alembic_config())
        head = script.get_current_head()
        known = {rev.revision for rev in script.walk_revisions()}
        backoff = self._backoff()
        while not stopping.is_set():
            try:
                async with self.pool.connection() as conn:
                    cur = await conn.execute("SELECT version_num FROM alembic_version")
                    row = await cur.fetchone()
                current = row[0] if row else None
                self.database_ok = True
                if current == head or (current is not None and current not in known):
                    self.schema_ready = True
                    return True
                log.warning("schema is at %s, this persister needs %s: waiting", current, head)
            except psycopg.errors.UndefinedTable:
                self.database_ok = True
                log.warning("the schema is not there yet (run `flotilla migrate`): waiting")
            except Exception as exc:
                self.database_ok = False
                log.warning("database not reachable (%s): waiting", _describe(exc))
            if await self._stopped_within(backoff.next_delay(), stopping):
                return False
        return False

    async def _work(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            async with self._fetch_lock:
                if stopping.is_set():
                    return
                msgs = await self.consumer.fetch(
                    self.settings.persister_batch_size, self.settings.persister_max_wait_seconds
                )
            if msgs:
                await self.handle_batch(msgs, stopping)
            elif self.consumer.consumer_missing:
                await self._recreate_consumer(stopping)

    async def _recreate_consumer(self, stopping: asyncio.Event) -> None:
        """The consumer (or the stream) was deleted under us: create it again, calmly."""
        log.warning("the persister consumer is missing: creating it again")
        try:
            await ensure_topology(self.js)
            await self.js.add_consumer(names.EVENTS_STREAM, consumer_config(self.settings))
            self.consumer.consumer_missing = False
        except Exception as exc:
            log.warning("could not create the consumer (%s)", _describe(exc))
        await self._stopped_within(self.settings.persister_retry_initial_seconds, stopping)

    # --- one batch ------------------------------------------------------------------------

    async def handle_batch(self, msgs: Sequence[Msg], stopping: asyncio.Event) -> bool:
        """Write `msgs` and ack them; False when `stopping` ended a retry (nothing acked)."""
        self.metrics.batch_size.observe(len(msgs))
        self._observe_lag(msgs[-1])
        with self.tracer.start_as_current_span(
            "persister.batch",
            links=_trace_links(msgs),
            attributes={"messaging.batch.message_count": len(msgs)},
        ) as span:
            held: list[Held] = []
            for msg in msgs:
                try:
                    held.append((msg, decode_event(msg.subject, msg.data)))
                except Rejected as rejected:
                    span.add_event("dead letter", {"reason": rejected.reason})
                    await self._dead_letter(msg, rejected.category, rejected.reason)
            if not held:
                return True
            refused_events = await self._write_until_done(held, stopping, span)
            if refused_events is None:
                span.set_status(StatusCode.ERROR, "stopped while the database was unavailable")
                return False
            refused = {id(msg) for (msg, _), _ in refused_events}
            for (msg, _), reason in refused_events:
                await self._dead_letter(msg, "database", reason)
            await self.ack([msg for msg, _ in held if id(msg) not in refused])
        self.stats.batches += 1
        return True

    async def ack(self, msgs: Sequence[Msg]) -> None:
        """Acknowledge messages whose events are committed.

        An ack that fails (the connection is closing, say) is logged, not raised: the events are
        committed and JetStream redelivers them after the ack wait, which rewrites nothing.
        """
        for msg in msgs:
            if await self._ack_one(msg):
                self.stats.acked += 1

    async def _ack_one(self, msg: Msg) -> bool:
        try:
            await msg.ack()
        except Exception as exc:
            log.warning("ack failed (%s); JetStream will redeliver the event", _describe(exc))
            return False
        return True

    async def _write_until_done(
        self, held: list[Held], stopping: asyncio.Event, span: Span
    ) -> list[tuple[Held, str]] | None:
        backoff = self._backoff()
        # Keep JetStream from redelivering what this replica is still trying to write.
        progress_every = self.settings.persister_ack_wait_seconds / 3
        last_progress = self.monotonic()
        while True:
            try:
                return await self._write_isolating(held)
            except Exception as exc:
                self.database_ok = False
                self.stats.database_errors += 1
                self.metrics.database_errors.inc()
                delay = min(backoff.next_delay(), progress_every)
                span.add_event("retry", {"error": _describe(exc), "delay_seconds": delay})
                log.warning(
                    "writing %d events failed (%s): retrying in %.1fs",
                    len(held),
                    _describe(exc),
                    delay,
                )
            if self.monotonic() - last_progress >= progress_every:
                with contextlib.suppress(Exception):
                    for msg, _ in held:
                        await msg.in_progress()
                last_progress = self.monotonic()
            if await self._stopped_within(delay, stopping):
                return None

    async def _write_isolating(self, held: list[Held]) -> list[tuple[Held, str]]:
        """Write `held`; if the database refuses the data, split the batch until the events it
        refuses are isolated, and return them with the reason."""
        try:
            await self._write(held)
            return []
        except DATA_ERRORS as exc:
            if len(held) == 1:
                return [(held[0], f"database rejected the event: {_describe(exc)}")]
            middle = len(held) // 2
            first = await self._write_isolating(held[:middle])
            return first + await self._write_isolating(held[middle:])

    async def _write(self, held: list[Held]) -> WriteResult:
        batch = coalesce_batch(event for _, event in held)
        async with self.pool.connection() as conn:
            started = self.monotonic()
            result = await self.writer.write(conn, batch)
            elapsed = self.monotonic() - started
        self.database_ok = True
        m = self.metrics
        m.write_seconds.observe(elapsed)
        m.statements.inc(result.statements)
        m.last_commit.set(self.clock().timestamp())
        for kind, count in batch.events.items():
            m.events.labels(kind).inc(count)
        for table, count in result.rows.items():
            m.rows.labels(table).inc(count)
        if batch.state_rows:
            m.coalescing_ratio.observe(batch.state_events / batch.state_rows)
        self.stats.events.update(batch.events)
        self.stats.rows.update(result.rows)
        self.stats.statements += result.statements
        return result

    async def _dead_letter(self, msg: Msg, category: str, reason: str) -> None:
        try:
            await publish_dead_letter(
                self.js,
                msg,
                reason,
                consumer=names.PERSISTER_CONSUMER,
                failed_at=self.clock(),
            )
        except Exception as exc:
            # Not acked: JetStream redelivers it and the next attempt tries again.
            log.error("could not publish a dead letter (%s); leaving it unacked", _describe(exc))
            return
        await self._ack_one(msg)
        self.stats.dead_letters += 1
        self.metrics.dead_letters.labels(category).inc()
        log.warning(
            "dead letter", extra={"subject": msg.subject, "reason": reason, "category": category}
        )

    # --- helpers --------------------------------------------------------------------------

    def _backoff(self) -> Backoff:
        return Backoff(
            self.settings.persister_retry_initial_seconds,
            self.settings.persister_retry_max_seconds,
        )

    async def _stopped_within(self, seconds: float, stopping: asyncio.Event) -> bool:
        """Sleep `seconds` unless `stopping` is set first; True when it was."""
        try:
            await asyncio.wait_for(stopping.wait(), seconds)
        except TimeoutError:
            return False
        return True

    def _observe_lag(self, last: Msg) -> None:
        with contextlib.suppress(Exception):
            self.metrics.consumer_lag.set(last.metadata.num_pending or 0)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    sqlstate = getattr(exc, "sqlstate", None)
    prefix = f"{type(exc).__name__}" + (f" [{sqlstate}]" if sqlstate else "")
    return f"{prefix}: {first}" if first else prefix


def _trace_links(msgs: Sequence[Msg]) -> list[Link]:
    """Links from the batch's span to the traces its events came from (one per trace)."""
    links: list[Link] = []
    seen: set[int] = set()
    for msg in msgs:
        headers = msg.headers
        if not headers or "traceparent" not in headers:
            continue
        context = trace.get_current_span(extract_context(headers)).get_span_context()
        if context.is_valid and context.trace_id not in seen:
            seen.add(context.trace_id)
            links.append(Link(context))
            if len(links) >= MAX_TRACE_LINKS:
                break
    return links


def readiness_checks(persister: Persister) -> dict[str, Check]:
    """What `/readyz` reports: NATS connected, database reachable, schema migrated."""
    return {
        "nats": flag_check(lambda: persister.nc.is_connected),
        "database": flag_check(lambda: persister.database_ok),
        "schema": flag_check(lambda: persister.schema_ready),
    }


async def main(settings: PersisterSettings, stack: AsyncExitStack, stopping: asyncio.Event) -> None:
    """The service body run by `flotilla persister` (see `flotilla.runner`)."""
    provider = configure_tracing("persister", settings)
    stack.callback(provider.shutdown)
    metrics = PersisterMetrics()
    nc = await connect(settings.nats_url, "flotilla-persister")

    async def close_nats() -> None:
        if not nc.is_closed:
            await nc.drain()

    stack.push_async_callback(close_nats)
    pool = await open_pool(settings)
    stack.push_async_callback(pool.close)
    persister = Persister(settings, nc, pool, metrics=metrics)
    if settings.persister_metrics_port:
        probes = ProbeServer(
            settings.persister_metrics_host,
            settings.persister_metrics_port,
            checks=readiness_checks(persister),
            metrics=lambda: generate_latest(metrics.registry),
        )
        await probes.start()
        stack.push_async_callback(probes.close)
    await persister.run(stopping)
