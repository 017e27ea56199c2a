"""The gateway without NATS: `Gateway.execute` takes one `ApiCall` through admission
(`gateway.admission`), the queue, the rate limit and the wire (`gateway.sending`) to one
`ApiResult`, as one span continuing the caller's trace, and tells its observers (the request
log) what happened."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from flotilla.clock import Clock, SystemClock
from flotilla.metrics import MetricsRegistry
from flotilla.semconv import SpanAttr, outcome_name, priority_name
from flotilla.v1.api_pb2 import ApiCall, ApiResult, CallOutcome
from gateway.admission import CallAdmission
from gateway.call import AgentSession, QueuedCall, Rejected
from gateway.fencing import FenceBook
from gateway.limit_group import LimitGroup
from gateway.metrics import GatewayMetrics
from gateway.ratelimit import RateLimitConfig
from gateway.retry import RetryPolicy, Sleep
from gateway.scheduler import QueueConfig
from gateway.sending import CallSender
from gateway.upstream import HttpConfig, TransportFactory, UpstreamHealth, default_transport

__all__ = ["CallRecord", "Gateway"]

log = logging.getLogger("gateway")


@dataclass(frozen=True)
class CallRecord:
    """What happened to one call: its result plus what the request log needs besides."""

    result: ApiResult
    agent: str
    ship_symbol: str
    endpoint: str  # path template, e.g. /my/ships/{shipSymbol}/extract
    method: str
    finished_at: float  # wall-clock seconds
    node: str = ""  # the dispatcher node that sent the call, if one did
    fence_token: int = 0  # the call's fencing token (0: not fenced)


class Gateway:
    """Agents and their limit groups (`admission`), and the path of a call from queue to wire
    (`sender`). `execute` never raises for a bad or failed call: every end is an `ApiResult`
    with an outcome."""

    def __init__(
        self,
        base_url: str,
        *,
        http: HttpConfig | None = None,
        rate_limit: RateLimitConfig | None = None,
        queue: QueueConfig | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        metrics: GatewayMetrics | None = None,
        tracer: Tracer | None = None,
        transport_factory: TransportFactory = default_transport,
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.clock = clock or SystemClock()
        self.metrics = metrics or GatewayMetrics(MetricsRegistry())
        self.tracer = tracer or trace.get_tracer("gateway")
        self.health = UpstreamHealth(base_url, self.clock)
        # The floor of every ship's fencing token, checked at admission and after the queue.
        self.fences = FenceBook()
        self.admission = CallAdmission(
            base_url,
            http=http or HttpConfig(),
            rate_limit=rate_limit or RateLimitConfig(),
            queue=queue or QueueConfig(),
            clock=self.clock,
            metrics=self.metrics,
            transport_factory=transport_factory,
            fences=self.fences,
        )
        self.sender = CallSender(
            retry=retry or RetryPolicy(),
            clock=self.clock,
            metrics=self.metrics,
            tracer=self.tracer,
            health=self.health,
            sleep=sleep,
            rng=rng or random.Random(),
            fences=self.fences,
        )
        # Called with the record of every call answered (the request log subscribes here).
        self.observers: list[Callable[[CallRecord], None]] = []

    # --- agents ---------------------------------------------------------------------------------

    @property
    def agents(self) -> list[str]:
        """The symbols of the configured agents, in the order they were added."""
        return self.admission.agents

    @property
    def default_agent(self) -> str | None:
        """The agent a call without an agent symbol is sent for (the first one added)."""
        return self.admission.default_agent

    @property
    def groups(self) -> list[LimitGroup]:
        """Every limit group made so far (one per sending address)."""
        return self.admission.groups

    def add_agent(self, symbol: str, token: str, *, local_address: str = "") -> None:
        """Send calls for `symbol` with `token`, sharing the limit of `local_address`."""
        self.admission.add_agent(symbol, token, local_address=local_address)

    def agents_ready(self) -> tuple[bool, str]:
        """Readiness of the "agents" check: at least one agent to send for."""
        agents = self.agents
        return bool(agents), ", ".join(agents) if agents else "no agent yet"

    # --- calls ----------------------------------------------------------------------------------

    async def call_with_token(
        self,
        token: str | None,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        local_address: str = "",
    ) -> ApiResult:
        """One call for the gateway itself (registering an agent, finding out whose a token is),
        queued and limited like any other, with `token` (or none) instead of an agent's."""
        session: AgentSession = self.admission.token_session(token, local_address)
        call = self.admission.own_call(session, method, path, body)
        try:
            result = await self.sender.send(call)
        finally:
            await session.client.aclose()
        self._notify(self._record(call, result))
        return result

    async def execute(self, call: ApiCall, parent: Context | None = None) -> CallRecord:
        """Queue, send and answer one call; the span continues the caller's trace `parent`."""
        admitted = self.admission.admit(call)
        with self._call_span(admitted, parent) as span:
            if isinstance(admitted, Rejected):
                result = admitted.result()
            else:
                result = await self.sender.send(admitted)
            span.set_attribute(SpanAttr.OUTCOME, outcome_name(result.outcome))
            span.set_attribute(SpanAttr.ATTEMPTS, result.attempts)
            if result.status:
                span.set_attribute(SpanAttr.HTTP_STATUS, result.status)
            if result.outcome != CallOutcome.CALL_OUTCOME_COMPLETED:
                span.set_status(Status(StatusCode.ERROR, result.error_message))
        self.metrics.calls.labels(
            priority=priority_name(admitted.priority), outcome=outcome_name(result.outcome)
        ).inc()
        record = self._record(admitted, result)
        self._notify(record)
        return record

    def _call_span(
        self, call: QueuedCall | Rejected, parent: Context | None
    ) -> AbstractContextManager[Span]:
        attributes: dict[str, str] = {
            SpanAttr.CALL_ID: call.call_id,
            SpanAttr.AGENT: call.agent,
            SpanAttr.PRIORITY: priority_name(call.priority),
            SpanAttr.HTTP_METHOD: call.method,
            SpanAttr.URL_TEMPLATE: call.template,
        }
        if call.ship_symbol:
            attributes[SpanAttr.SHIP] = call.ship_symbol
        return self.tracer.start_as_current_span(
            f"gateway {call.method} {call.template}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes=attributes,
        )

    def _record(self, call: QueuedCall | Rejected, result: ApiResult) -> CallRecord:
        return CallRecord(
            result=result,
            agent=call.agent,
            ship_symbol=call.ship_symbol,
            endpoint=call.template,
            method=call.method,
            finished_at=self.clock.time(),
            node=call.node,
            fence_token=call.fence.token if call.fence is not None else 0,
        )

    def _notify(self, record: CallRecord) -> None:
        for observer in self.observers:
            try:
                observer(record)
            except Exception:
                log.exception("a call observer failed")

    # --- lifecycle ------------------------------------------------------------------------------

    def stop_accepting(self) -> None:
        """Answer every queued call as shutting down and refuse new ones; calls on the wire
        finish (their retries still get permits)."""
        self.admission.stop_accepting()

    async def close(self) -> None:
        """Stop the permit loops and close every agent's client. Safe to call twice."""
        await self.admission.close()
