"""The persister service: fetch a batch, decode it, coalesce it, write it in one transaction,
then ack — and when the database is away, stop acking and retry with backoff until it returns.

Delivery is at least once (a crash between commit and ack redelivers the batch) and every write
is idempotent, so nothing is lost and nothing is doubled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

import psycopg
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from opentelemetry import trace
from opentelemetry.trace import Link, Span, StatusCode, Tracer

from flotilla import names
from flotilla.backoff import BackoffSchedule
from flotilla.clock import Clock
from flotilla.db import migrate
from flotilla.db.pool import ConnectionPool, open_pool
from flotilla.kit import ServiceContext
from flotilla.semconv import SpanAttr
from flotilla.telemetry import extract_context
from flotilla.topology import ensure_topology
from persister.coalesce import coalesce_batch
from persister.consumer import PullConsumer
from persister.contract import Event, Rejected, decode_event
from persister.dead_letters import publish_dead_letter
from persister.metrics import PersisterMetrics
from persister.outages import is_outage
from persister.settings import PersisterSettings
from persister.writes import BatchWriter, WriteResult

__all__ = [
    "APPLICATION_NAME",
    "BEFORE_ACK_SEAM",
    "DATABASE_CHECK",
    "SCHEMA_CHECK",
    "AckHook",
    "Persister",
    "PersisterStats",
    "consumer_config",
    "run",
]

log = logging.getLogger("persister")

# How the persister's PostgreSQL sessions are named (pg_stat_activity.application_name).
APPLICATION_NAME: Final = "flotilla-persister"
# Readiness checks besides the kit's "nats".
DATABASE_CHECK: Final = "database"
SCHEMA_CHECK: Final = "schema"
# A test seam: an `AckHook` awaited with the messages of a committed batch just before they
# are acked. Tests use it to stand for a crash between commit and ack; never set in production.
BEFORE_ACK_SEAM: Final = "before_ack"

AckHook = Callable[[Sequence[Msg]], Awaitable[None]]

MAX_TRACE_LINKS = 128

Held = tuple[Msg, Event]


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
        ack_wait=settings.consumer.ack_wait_seconds,
        max_deliver=-1,  # never give up on an event: a database outage must lose nothing
        max_ack_pending=settings.consumer.max_ack_pending,
    )


async def _stopped_within(stopping: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds` unless `stopping` is set first; True when it was."""
    try:
        await asyncio.wait_for(stopping.wait(), max(0.0, seconds))
    except TimeoutError:
        return False
    return True


class Persister:
    """Drains the events stream into PostgreSQL until `stopping` is set.

    Time is read from `clock` (write durations, the in-progress keep-alive, dead-letter and
    commit times); spans go to `tracer`.
    """

    def __init__(
        self,
        settings: PersisterSettings,
        nc: NatsClient,
        pool: ConnectionPool,
        *,
        metrics: PersisterMetrics,
        clock: Clock,
        tracer: Tracer,
        before_ack: AckHook | None = None,
    ) -> None:
        self.settings = settings
        self.nc = nc
        self.js = nc.jetstream()
        self.pool = pool
        self.metrics = metrics
        self.clock = clock
        self.tracer = tracer
        self.before_ack = before_ack
        self.writer = BatchWriter()
        self.stats = PersisterStats()
        self.consumer = PullConsumer(nc, names.EVENTS_STREAM, names.PERSISTER_CONSUMER, clock=clock)
        self._fetch_lock = asyncio.Lock()
        # For the readiness probe: the schema is migrated, and the last database access worked.
        self.schema_ready = False
        self.schema_detail = "not checked yet"
        self.database_ok = False
        self.database_detail = "not reached yet"

    # --- readiness ------------------------------------------------------------------------

    def database_state(self) -> tuple[bool, str]:
        """The "database" readiness check: did the last database access work?"""
        return self.database_ok, self.database_detail

    def schema_state(self) -> tuple[bool, str]:
        """The "schema" readiness check: is the schema at a revision this build can write?"""
        return self.schema_ready, self.schema_detail

    def _database_reached(self) -> None:
        self.database_ok = True
        self.database_detail = "reachable"

    def _database_failed(self, exc: BaseException) -> None:
        self.database_ok = False
        self.database_detail = _describe(exc)

    # --- lifecycle ------------------------------------------------------------------------

    async def run(self, stopping: asyncio.Event) -> None:
        """Create the consumer, wait for the schema, then drain batches with
        `batch.concurrency` workers until `stopping` is set."""
        await self.js.add_consumer(names.EVENTS_STREAM, consumer_config(self.settings))
        if not await self.wait_for_schema(stopping):
            return
        await self.consumer.start()
        batch = self.settings.batch
        log.info(
            "persister consuming",
            extra={
                "batch_size": batch.size,
                "max_wait_seconds": batch.max_wait_seconds,
                "concurrency": batch.concurrency,
            },
        )
        try:
            async with asyncio.TaskGroup() as workers:
                for _ in range(batch.concurrency):
                    workers.create_task(self._work(stopping))
        finally:
            with contextlib.suppress(Exception):
                await self.consumer.stop()

    async def wait_for_schema(self, stopping: asyncio.Event) -> bool:
        """Wait until the database is reachable and migrated (to this build's head or to a
        newer revision); False if `stopping` was set first. Services never migrate."""
        head = migrate.head_revision()
        known = migrate.known_revisions()
        backoff = self._backoff()
        while not stopping.is_set():
            try:
                async with self.pool.connection() as conn:
                    cur = await conn.execute("SELECT version_num FROM alembic_version")
                    row = await cur.fetchone()
                current = row[0] if row else None
                self._database_reached()
                if current == head or (current is not None and current not in known):
                    self.schema_ready = True
                    self.schema_detail = f"at revision {current}"
                    return True
                self.schema_detail = f"at revision {current}, needs {head}"
                log.warning("schema is at %s, this persister needs %s: waiting", current, head)
            except psycopg.errors.UndefinedTable:
                self._database_reached()
                self.schema_detail = "no schema yet (run `flotilla migrate`)"
                log.warning("the schema is not there yet (run `flotilla migrate`): waiting")
            except Exception as exc:
                self._database_failed(exc)
                log.warning("database not reachable (%s): waiting", _describe(exc))
            if await _stopped_within(stopping, backoff.next_delay()):
                return False
        return False

    async def _work(self, stopping: asyncio.Event) -> None:
        batch = self.settings.batch
        while not stopping.is_set():
            async with self._fetch_lock:
                if stopping.is_set():
                    return
                msgs = await self.consumer.fetch(batch.size, batch.max_wait_seconds)
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
        await _stopped_within(stopping, self.settings.retry.base_seconds)

    # --- one batch ------------------------------------------------------------------------

    async def handle_batch(self, msgs: Sequence[Msg], stopping: asyncio.Event) -> bool:
        """Write `msgs` and ack them; False when `stopping` ended a retry (nothing acked)."""
        self.metrics.batch_size.observe(len(msgs))
        self._observe_lag(msgs[-1])
        with self.tracer.start_as_current_span(
            "persister.batch",
            links=_trace_links(msgs),
            attributes={SpanAttr.BATCH_COUNT: len(msgs)},
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
            written = [msg for msg, _ in held if id(msg) not in refused]
            if self.before_ack is not None:
                await self.before_ack(written)
            await self.ack(written)
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
        progress_every = self.settings.consumer.ack_wait_seconds / 3
        last_progress = self.clock.monotonic()
        while True:
            try:
                return await self._write_isolating(held)
            except Exception as exc:
                self._database_failed(exc)
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
            if self.clock.monotonic() - last_progress >= progress_every:
                with contextlib.suppress(Exception):
                    for msg, _ in held:
                        await msg.in_progress()
                last_progress = self.clock.monotonic()
            if await _stopped_within(stopping, delay):
                return None

    async def _write_isolating(self, held: list[Held]) -> list[tuple[Held, str]]:
        """Write `held`; if it fails for any reason but an outage (`persister.outages`), split
        the batch until the events that fail on their own are isolated, and return them with
        the reason. An outage propagates: the caller retries the whole batch."""
        try:
            await self._write(held)
            return []
        except Exception as exc:
            if is_outage(exc):
                raise
            if len(held) == 1:
                return [(held[0], _refusal(exc))]
            middle = len(held) // 2
            first = await self._write_isolating(held[:middle])
            return first + await self._write_isolating(held[middle:])

    async def _write(self, held: list[Held]) -> WriteResult:
        batch = coalesce_batch(event for _, event in held)
        async with self.pool.connection() as conn:
            started = self.clock.monotonic()
            result = await self.writer.write(conn, batch)
            elapsed = self.clock.monotonic() - started
        self._database_reached()
        m = self.metrics
        m.write_seconds.observe(elapsed)
        m.statements.inc(result.statements)
        m.last_commit.set(self.clock.time())
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
                failed_at=self.clock.now(),
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

    def _backoff(self) -> BackoffSchedule:
        return self.settings.retry.backoff().schedule()

    def _observe_lag(self, last: Msg) -> None:
        with contextlib.suppress(Exception):
            self.metrics.consumer_lag.set(last.metadata.num_pending or 0)


def _refusal(exc: BaseException) -> str:
    """The dead-letter reason of an event that cannot be written: the database's message."""
    if isinstance(exc, psycopg.Error):
        return f"database rejected the event: {_describe(exc)}"
    return f"the event cannot be written: {_describe(exc)}"


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


async def run(ctx: ServiceContext[PersisterSettings, PersisterMetrics]) -> None:
    """The service body: NATS and a bounded pool from the kit's context, then the persister
    until the kit asks it to stop. The pool closes before NATS is drained."""
    settings = ctx.settings
    nc = await ctx.nats()
    pool = await open_pool(settings.database.url, settings.pool, application_name=APPLICATION_NAME)
    ctx.stack.push_async_callback(pool.close)
    before_ack: AckHook | None = ctx.seams.get(BEFORE_ACK_SEAM)
    persister = Persister(
        settings,
        nc,
        pool,
        metrics=ctx.metrics,
        clock=ctx.clock,
        tracer=ctx.tracer,
        before_ack=before_ack,
    )
    ctx.exposed["persister"] = persister
    ctx.health.watch(DATABASE_CHECK, persister.database_state)
    ctx.health.watch(SCHEMA_CHECK, persister.schema_state)
    await persister.run(ctx.stopping)
