"""The gateway as a NATS service: `ApiCall` requests in, `ApiResult` replies out, one request-log
event per call, plus probes and metrics; `run` is the body `flotilla gateway` serves."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from typing import Any

from google.protobuf.message import DecodeError
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from opentelemetry.context import Context

from flotilla import names
from flotilla.probes import ProbeServer
from flotilla.telemetry import configure_tracing, extract_context
from flotilla.topology import connect, ensure_topology
from flotilla.v1.api_pb2 import ApiCall, ApiResult, CallOutcome
from gateway.agents import (
    AgentSetupError,
    generated_symbol,
    register_agent,
    resolve_symbol,
)
from gateway.core import Gateway
from gateway.metrics import GatewayMetrics
from gateway.request_log import RequestLogPublisher
from gateway.settings import GatewaySettings

log = logging.getLogger("gateway")

TRACE_HEADERS = ("traceparent", "tracestate")


def caller_context(msg_headers: dict[str, str] | None, call: ApiCall) -> Context:
    """The caller's trace context: from the NATS headers, else from the call's own map."""
    headers = msg_headers or {}
    if any(h in headers for h in TRACE_HEADERS):
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


async def add_configured_agents(
    gateway: Gateway, settings: GatewaySettings, stopping: asyncio.Event
) -> bool:
    """Give the gateway its agents: the configured tokens, or a freshly registered agent when
    none is configured (local run). False when asked to stop before one was ready."""
    for symbol, token in settings.agent_tokens.items():
        gateway.add_agent(
            symbol,
            token.get_secret_value(),
            local_address=settings.gateway_agent_local_addresses.get(symbol, ""),
        )
    if settings.spacetraders_token is not None:
        secret = settings.spacetraders_token.get_secret_value()
        symbol = await resolve_symbol(gateway, secret)
        if symbol not in gateway.agents:
            gateway.add_agent(
                symbol, secret, local_address=settings.gateway_agent_local_addresses.get(symbol, "")
            )
    if gateway.agents:
        return True
    if not settings.gateway_register_agent:
        raise AgentSetupError(
            "no agent configured: set FLOTILLA_SPACETRADERS_TOKEN or FLOTILLA_AGENT_TOKENS "
            "(or leave FLOTILLA_GATEWAY_REGISTER_AGENT on to register one)"
        )
    account = settings.spacetraders_account_token
    credentials = await register_agent(
        gateway,
        symbol=settings.gateway_register_symbol or generated_symbol(),
        faction=settings.gateway_register_faction,
        account_token=account.get_secret_value() if account is not None else None,
        stopping=stopping,
    )
    if credentials is None:
        return False
    gateway.add_agent(credentials.symbol, credentials.token)
    return True


def build_gateway(settings: GatewaySettings, metrics: GatewayMetrics, **overrides: Any) -> Gateway:
    """A `Gateway` configured from `settings` (keyword overrides for tests and benchmarks)."""
    options: dict[str, Any] = {
        "rate_limit": settings.rate_limit_config(),
        "scheduling": settings.scheduling_config(),
        "retry": settings.retry_policy(),
        "metrics": metrics,
    }
    options.update(overrides)
    return Gateway(settings.http_config(), **options)


async def run(settings: GatewaySettings, stack: AsyncExitStack, stopping: asyncio.Event) -> None:
    """The service body: open everything on `stack`, serve until `stopping`, then drain."""
    provider = configure_tracing("gateway", settings)
    stack.callback(provider.shutdown)
    metrics = GatewayMetrics()
    gateway = build_gateway(settings, metrics)
    stack.push_async_callback(gateway.close)

    nc = await connect(settings.nats_url, "flotilla-gateway")
    stack.push_async_callback(_close_nats, nc)
    js = nc.jetstream()
    await ensure_topology(js)
    request_log = RequestLogPublisher(js, metrics)
    request_log.start()
    stack.push_async_callback(request_log.close)
    gateway.observers.append(request_log.record)

    async def nats_check() -> tuple[bool, str]:
        return nc.is_connected, "connected" if nc.is_connected else "not connected"

    async def agents_check() -> tuple[bool, str]:
        agents = gateway.agents
        return bool(agents), ", ".join(agents) if agents else "no agent yet"

    probes = ProbeServer(
        settings.gateway_metrics_host,
        settings.gateway_metrics_port,
        checks={"nats": nats_check, "upstream": gateway.health.check, "agents": agents_check},
        metrics=metrics.exposition,
    )
    await probes.start()
    stack.push_async_callback(probes.close)

    log.info("API at %s", settings.spacetraders_base_url)
    if not await add_configured_agents(gateway, settings, stopping):
        return
    service = GatewayService(nc, gateway)
    await service.start()
    await stopping.wait()
    log.info("draining: %d calls in progress", service.pending)
    await service.drain(grace_seconds=settings.shutdown_grace_seconds * 0.8)


async def _close_nats(nc: NatsClient) -> None:
    if nc.is_closed:
        return
    try:
        await nc.drain()
    except Exception as exc:
        log.warning("NATS drain failed: %r", exc)
        await nc.close()
