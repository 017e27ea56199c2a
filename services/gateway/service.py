"""The gateway as a NATS service: `ApiCall` requests in, `ApiResult` replies out, one request-log
event per call; `run` is the body the service kit serves (`flotilla gateway`)."""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from google.protobuf.message import DecodeError
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from opentelemetry.context import Context
from opentelemetry.trace import Tracer

from flotilla import names
from flotilla.kit import NATS_CHECK, ServiceContext
from flotilla.telemetry import extract_context
from flotilla.v1.api_pb2 import ApiCall, ApiResult, CallOutcome
from gateway.agents import add_configured_agents
from gateway.core import Gateway
from gateway.fencing import follow_leases
from gateway.metrics import GatewayMetrics
from gateway.request_log import RequestLogPublisher
from gateway.settings import GatewaySettings
from gateway.upstream import TransportFactory, default_transport

__all__ = [
    "AGENTS_CHECK",
    "CHECKS",
    "SEAM_TRACER",
    "SEAM_TRANSPORT_FACTORY",
    "UPSTREAM_CHECK",
    "GatewayService",
    "caller_context",
    "run",
]

log = logging.getLogger("gateway")

_TRACE_HEADERS = ("traceparent", "tracestate")

# Readiness: NATS connected (kept by the kit), the API answering lately or reachable, and an
# agent to send for.
UPSTREAM_CHECK: Final = "upstream"
AGENTS_CHECK: Final = "agents"
CHECKS: Final = (NATS_CHECK, UPSTREAM_CHECK, AGENTS_CHECK)

# Seams for tests and benchmarks (never set in production): the transport every agent's HTTP
# client gets (e.g. an `httpx.MockTransport` playing the API), and a tracer to record spans.
SEAM_TRANSPORT_FACTORY: Final = "transport_factory"
SEAM_TRACER: Final = "tracer"

# How often the API is probed with a TCP connect while no call is giving news of it.
_UPSTREAM_PROBE_SECONDS = 5.0
# Share of the kit's grace period the calls on the wire get to finish when draining; the rest
# is left for publishing their request-log events and closing.
_DRAIN_SHARE = 0.8


def caller_context(msg_headers: dict[str, str] | None, call: ApiCall) -> Context:
    """The caller's trace context: from the NATS headers, else from the call's own map."""
    headers = msg_headers or {}
    if any(h in headers for h in _TRACE_HEADERS):
        return extract_context(headers)
    return extract_context(dict(call.trace_context))


class GatewayService:
    """Serves `ApiCall`s from NATS (queue group: replicas share the subject) on a `Gateway`."""

    def __init__(
        self,
        nc: NatsClient,
        gateway: Gateway,
        *,
        subject: str = names.GATEWAY_CALL_SUBJECT,
        queue: str = names.GATEWAY_QUEUE_GROUP,
    ) -> None:
        self._nc = nc
        self._gateway = gateway
        self._subject = subject
        self._queue = queue
        self._subscription: Subscription | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def pending(self) -> int:
        """Calls received and not yet answered."""
        return len(self._tasks)

    async def start(self) -> None:
        """Subscribe to the call subject in the gateways' queue group."""
        self._subscription = await self._nc.subscribe(
            self._subject,
            queue=self._queue,
            cb=self._on_message,
            # The queue limits bound how many calls wait; the subscription must not drop first.
            pending_msgs_limit=-1,
            pending_bytes_limit=-1,
        )
        log.info("serving API calls on %s (queue group %s)", self._subject, self._queue)

    async def _on_message(self, msg: Msg) -> None:
        # nats-py runs a subscription's callbacks one at a time: hand each call to its own task
        # so that one call waiting for the rate limit does not hold up the others.
        task = asyncio.create_task(self._handle(msg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, msg: Msg) -> None:
        try:
            call = ApiCall.FromString(msg.data)
        except DecodeError:
            await self._reply(
                msg,
                ApiResult(
                    outcome=CallOutcome.CALL_OUTCOME_REJECTED,
                    error_message="the message is not a flotilla.v1.ApiCall",
                ),
            )
            return
        try:
            record = await self._gateway.execute(call, caller_context(msg.headers, call))
        except Exception:
            log.exception("call %s failed inside the gateway", call.call_id)
            await self._reply(
                msg,
                ApiResult(
                    call_id=call.call_id,
                    outcome=CallOutcome.CALL_OUTCOME_UNKNOWN,
                    error_message="the gateway failed while handling the call",
                ),
            )
            return
        await self._reply(msg, record.result)

    async def _reply(self, msg: Msg, result: ApiResult) -> None:
        if not msg.reply:
            return
        try:
            await msg.respond(result.SerializeToString())
        except Exception as exc:  # the caller is gone or NATS is reconnecting: nothing to do
            log.warning("could not reply to call %s: %r", result.call_id, exc)

    async def drain(self, grace_seconds: float) -> None:
        """Stop taking calls, answer the queued ones as shutting down, and give calls on the
        wire up to `grace_seconds` to finish; those still running then are cancelled."""
        if self._subscription is not None:
            try:
                await self._subscription.unsubscribe()
            except Exception as exc:
                log.warning("unsubscribing failed: %r", exc)
            self._subscription = None
        self._gateway.stop_accepting()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace_seconds)
        late = set(self._tasks)
        if late:
            log.warning("%d calls still on the wire after the grace period: cancelled", len(late))
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)


async def run(ctx: ServiceContext[GatewaySettings, GatewayMetrics]) -> None:
    """The service body: open everything on `ctx.stack`, give the gateway its agents, serve
    until `ctx.stopping`, then drain.

    `ctx.exposed` shows tests and benchmarks the `gateway` and its `request_log` at once, and
    the `service` once it is serving calls.
    """
    settings = ctx.settings
    transport_factory: TransportFactory = ctx.seams.get(SEAM_TRANSPORT_FACTORY, default_transport)
    tracer: Tracer = ctx.seams.get(SEAM_TRACER, ctx.tracer)
    gateway = Gateway(
        settings.spacetraders.base_url,
        http=settings.http,
        rate_limit=settings.rate_limit,
        queue=settings.queue,
        retry=settings.retry,
        clock=ctx.clock,
        metrics=ctx.metrics,
        tracer=tracer,
        transport_factory=transport_factory,
    )
    ctx.stack.push_async_callback(gateway.close)
    ctx.exposed["gateway"] = gateway
    ctx.health.watch(UPSTREAM_CHECK, gateway.health.state)
    ctx.health.watch(AGENTS_CHECK, gateway.agents_ready)
    upstream_probe = asyncio.create_task(
        gateway.health.watch(ctx.stopped_within, _UPSTREAM_PROBE_SECONDS),
        name="gateway-upstream-probe",
    )
    ctx.stack.push_async_callback(_cancel, upstream_probe)

    js = await ctx.jetstream()
    request_log = RequestLogPublisher(js, ctx.metrics)
    request_log.start()
    ctx.stack.push_async_callback(request_log.close)
    gateway.observers.append(request_log.record)
    ctx.exposed["request_log"] = request_log

    # The fences are rebuilt from the leases bucket before the first call is served (see
    # `gateway.fencing` for why that is all a restart needs), then follow every lease change.
    fences_synced = asyncio.Event()
    fences = asyncio.create_task(
        follow_leases(js, gateway.fences, ctx.stopping, fences_synced), name="gateway-fences"
    )
    ctx.stack.push_async_callback(_cancel, fences)
    if not await _first(fences_synced, ctx.stopping, fences):
        return
    log.info("fences rebuilt from the leases bucket: %d ship(s)", len(gateway.fences))

    log.info("API at %s", settings.spacetraders.base_url)
    if not await add_configured_agents(gateway, settings, ctx.stopping):
        return
    service = GatewayService(await ctx.nats(), gateway)
    await service.start()
    ctx.exposed["service"] = service
    await ctx.stopping.wait()
    log.info("draining: %d calls in progress", service.pending)
    await service.drain(grace_seconds=settings.shutdown_grace_seconds * _DRAIN_SHARE)


async def _first(ready: asyncio.Event, stopping: asyncio.Event, task: asyncio.Task[None]) -> bool:
    """Wait until `ready` is set (True), or `stopping` is or `task` ends first (False; a task
    that failed raises its error)."""
    waits = {asyncio.ensure_future(ready.wait()), asyncio.ensure_future(stopping.wait()), task}
    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for waiting in waits - {task}:
        waiting.cancel()
    if task.done() and not ready.is_set():
        task.result()
        return False
    return ready.is_set() and not stopping.is_set()


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
