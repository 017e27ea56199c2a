"""The dispatcher's body: open NATS, watch membership, assignments and the world view, keep the
node's ships and their leases, and on stop hand every ship back.

Stop order (SIGTERM): announce draining (other nodes start taking this node's ships), let every
ship finish its current step, release every lease, remove the heartbeat, flush what is queued
for JetStream, stop the watchers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import nats.js.errors
from nats.js import JetStreamContext

from dispatcher.assignments import AssignmentBook
from dispatcher.behaviours import BEHAVIOURS
from dispatcher.events import EventPublisher
from dispatcher.heap import HeapKeeper
from dispatcher.leases import LeaseTable, leases_epoch
from dispatcher.membership import Membership
from dispatcher.metrics import DispatcherMetrics
from dispatcher.ownership import Ownership
from dispatcher.pipeline import Pipeline
from dispatcher.runner import FleetServices
from dispatcher.settings import DispatcherSettings
from dispatcher.sync import sync_fleet
from dispatcher.timing import LoopTimers, ServerClock, Timers
from dispatcher.worldview import WorldView
from flotilla import names
from flotilla.backoff import Backoff
from flotilla.client import GatewayTransport, Transport
from flotilla.kit import ServiceContext
from flotilla.v1.events_pb2 import ShipState

__all__ = ["CHECKS", "run"]

log = logging.getLogger("dispatcher")

CHECKS = ("nats", "membership", "assignments", "world_view")
_FLUSH_SECONDS = 5.0


def _snapshot_reader(js: JetStreamContext) -> object:
    kv_holder: list[object] = []

    async def load(symbol: str) -> ShipState | None:
        """The ship's snapshot from the ships bucket (None: none or unreadable)."""
        if not kv_holder:
            kv_holder.append(await js.key_value(names.SHIPS_BUCKET))
        kv = kv_holder[0]
        try:
            entry = await kv.get(symbol)  # type: ignore[attr-defined]
        except (nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError):
            return None
        except Exception:
            return None
        if not entry.value:
            return None
        try:
            return ShipState.FromString(entry.value)
        except Exception:
            return None

    return load


async def run(ctx: ServiceContext[DispatcherSettings, DispatcherMetrics]) -> None:
    """Serve as one dispatcher node until asked to stop."""
    settings = ctx.settings
    metrics = ctx.metrics
    nc = await ctx.nats()
    js = nc.jetstream()
    node = settings.node
    log.info("dispatcher node %s starting", node)

    pipeline = Pipeline(nc)
    await pipeline.start()
    ctx.stack.push_async_callback(pipeline.close)
    publisher = EventPublisher(
        pipeline,
        on_drop=lambda reason: metrics.events_dropped.labels(reason).inc(),
        on_published=metrics.events_published.inc,
    )
    world = WorldView(
        js,
        publisher,
        ctx.clock,
        node=node,
        agent=settings.agent,
        reservation_ttl_seconds=settings.world.reservation_ttl_seconds,
        stale_seconds=settings.world.market_stale_seconds,
    )
    leases = LeaseTable(
        js,
        pipeline,
        node=node,
        epoch=await leases_epoch(js),
        ttl_seconds=settings.leases.ttl_seconds,
        safety_margin_seconds=settings.leases.safety_margin_seconds,
        clock=ctx.clock,
    )
    transport: Transport = ctx.seams.get("transport") or GatewayTransport(nc, agent=settings.agent)
    timers: Timers = ctx.seams.get("timers") or LoopTimers(ctx.clock)
    assignments = AssignmentBook(
        js,
        known_behaviours=frozenset(BEHAVIOURS),
        publisher=publisher,
        clock_now=ctx.clock.now,
    )
    holder: list[Ownership] = []
    membership = Membership(
        js,
        node=node,
        interval_seconds=settings.membership.heartbeat_seconds,
        ttl_seconds=settings.membership.ttl_seconds,
        clock=ctx.clock,
        owned=lambda: len(holder[0].runners) if holder else 0,
    )
    services = FleetServices(
        node=node,
        agent=settings.agent,
        transport=transport,
        world=world,
        publisher=publisher,
        clock=ctx.clock,
        timers=timers,
        server_clock=ServerClock(ctx.clock),
        metrics=metrics,
        backoff=Backoff(settings.ships.retry_base_seconds, settings.ships.retry_max_seconds),
        action_deadline=settings.ships.action_deadline_seconds,
        read_deadline=settings.ships.read_deadline_seconds,
        load_snapshot=_snapshot_reader(js),  # type: ignore[arg-type]
        on_fenced=lambda ship: holder[0].kill(ship) if holder else None,
        tracer=ctx.tracer,
        tracing=bool(settings.otel_exporter_otlp_endpoint),
    )
    ownership = Ownership(
        node=node,
        membership=membership,
        assignments=assignments,
        leases=leases,
        services=services,
        metrics=metrics,
        renew_interval=settings.leases.renew_interval_seconds,
        acquire_interval=settings.leases.acquire_interval_seconds,
        stop_grace=settings.ships.stop_grace_seconds,
    )
    holder.append(ownership)
    ctx.exposed.update(
        node=node,
        ownership=ownership,
        membership=membership,
        assignments=assignments,
        leases=leases,
        world=world,
        publisher=publisher,
        timers=timers,
    )
    ctx.health.watch("membership", membership.heartbeat_ok)
    ctx.health.watch(
        "assignments",
        lambda: (assignments.synced.is_set(), f"{len(assignments.assignments)} assigned ship(s)"),
    )
    ctx.health.watch(
        "world_view",
        lambda: (world.synced.is_set(), f"{len(world.markets)} market(s) known"),
    )
    ctx.registry.on_scrape(lambda: metrics.live_nodes.set(len(membership.live_nodes())))
    ctx.registry.on_scrape(lambda: metrics.ships_owned.set(len(ownership.runners)))

    stop_watchers = asyncio.Event()
    stop_publisher = asyncio.Event()
    stop_loops = asyncio.Event()
    background = [
        asyncio.create_task(publisher.run(stop_publisher), name="publisher"),
        asyncio.create_task(membership.run(stop_watchers), name="membership"),
        asyncio.create_task(assignments.run(stop_watchers), name="assignments"),
        asyncio.create_task(world.run(stop_watchers), name="world-view"),
    ]
    heap = HeapKeeper(settings.ships.heap_resettle_seconds)
    loops: list[asyncio.Task[None]] = []
    try:
        synced = asyncio.gather(
            membership.synced.wait(), assignments.synced.wait(), world.synced.wait()
        )
        stop_wait = asyncio.ensure_future(ctx.stopping.wait())
        waits: set[asyncio.Future[Any]] = {synced, stop_wait}
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        # Let the other nodes' heartbeats arrive before choosing ships: a node that thought
        # itself alone would take ships only to hand them over a moment later.
        await ctx.stopped_within(2 * settings.membership.heartbeat_seconds)
        if not ctx.stopping.is_set():
            await sync_fleet(
                js,
                transport,
                publisher,
                ctx.clock,
                node=node,
                agent=settings.agent,
                assigned=len(assignments.assignments),
                stopping=ctx.stopping,
            )
        if not ctx.stopping.is_set():
            heap.start()
            loops = [
                asyncio.create_task(ownership.run_reconcile(stop_loops), name="reconcile"),
                asyncio.create_task(ownership.run_renewals(stop_loops), name="renewals"),
                asyncio.create_task(heap.run(stop_loops), name="heap"),
            ]
            log.info("dispatcher node %s serving", node)
            await stop_wait
        else:
            synced.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await synced
        stop_wait.cancel()
    finally:
        log.info("dispatcher node %s draining: handing its ships back", node)
        # The loops end after the batch in flight (a batch cut short would leave writes whose
        # acknowledgements nobody reads).
        stop_loops.set()
        heap.stop()
        for task in loops:
            try:
                await asyncio.wait_for(task, _FLUSH_SECONDS)
            except (TimeoutError, asyncio.CancelledError):
                pass
            except Exception:
                log.exception("stopping %s failed", task.get_name())
        for step in (membership.announce_draining, ownership.release_all, membership.leave):
            try:
                await step()
            except Exception:
                log.exception("draining: %s failed", step.__name__)
        stop_watchers.set()
        await publisher.flushed(_FLUSH_SECONDS)
        stop_publisher.set()
        for task in background:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, _FLUSH_SECONDS)
        log.info("dispatcher node %s drained", node)
