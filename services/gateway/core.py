"""The gateway without NATS: agents, their limit groups, and `Gateway.execute`, which takes one
`ApiCall` through the queue, the rate limit and the wire to one `ApiResult`."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from flotilla.clock import Clock, SystemClock
from flotilla.logs import redact
from flotilla.v1.api_pb2 import ApiCall, ApiResult, CallOutcome, PriorityClass
from gateway.dispatch import GroupClosed, LimitGroup, Refusal, Ticket
from gateway.endpoints import METHODS, PRIORITY_CLASSES, ResolvedCall, priority_name, resolve
from gateway.metrics import GatewayMetrics
from gateway.ratelimit import Permit, RateLimitConfig, TwoPoolRateLimiter, parse_rate_limit_headers
from gateway.retry import Attempt, Ending, RetryPolicy, Sleep, Verdict, run_attempts
from gateway.scheduler import PriorityScheduler, QueueFull
from gateway.upstream import (
    HttpConfig,
    TransportFactory,
    UpstreamHealth,
    build_client,
    build_request,
    default_transport,
    error_of,
)

log = logging.getLogger("gateway")

OUTCOME_NAMES = {
    CallOutcome.CALL_OUTCOME_COMPLETED: "completed",
    CallOutcome.CALL_OUTCOME_EXPIRED: "expired",
    CallOutcome.CALL_OUTCOME_OVERLOADED: "overloaded",
    CallOutcome.CALL_OUTCOME_UNKNOWN: "unknown",
    CallOutcome.CALL_OUTCOME_FAILED: "failed",
    CallOutcome.CALL_OUTCOME_REJECTED: "rejected",
}


@dataclass(frozen=True)
class SchedulingConfig:
    """Queue limits per priority class and the aging threshold."""

    queue_limits: Mapping[int, int] = field(
        default_factory=lambda: dict.fromkeys(PRIORITY_CLASSES, 1000)
    )
    aging_after: int = 8


@dataclass(frozen=True)
class CallRecord:
    """What happened to one call: its result plus what the request log needs besides."""

    result: ApiResult
    agent: str
    ship_symbol: str
    endpoint: str  # path template, e.g. /my/ships/{shipSymbol}/extract
    method: str
    finished_at: float  # wall-clock seconds


@dataclass
class AgentSession:
    """An agent's HTTP client (its token lives only in the client's headers) and its group."""

    symbol: str
    client: httpx.AsyncClient
    group: LimitGroup
    # Requests without an agent token count on the address's rate limit only.
    address_only: bool = False


@dataclass
class _Progress:
    """Bookkeeping of one call while it is being sent."""

    permit: Permit
    queued: float = 0.0
    wire: float = 0.0
    response: httpx.Response | None = None


class Gateway:
    """Agents, limit groups and the path of a call from queue to wire.

    Agents that bind the same local address share one limit group (one limiter, one queue,
    one slot cap). `execute` never raises for a bad or failed call: every end is an `ApiResult`
    with an outcome.
    """

    def __init__(
        self,
        http: HttpConfig,
        *,
        rate_limit: RateLimitConfig | None = None,
        scheduling: SchedulingConfig | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        metrics: GatewayMetrics | None = None,
        tracer: Tracer | None = None,
        transport_factory: TransportFactory = default_transport,
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.http = http
        self.rate_limit = rate_limit or RateLimitConfig()
        self.scheduling = scheduling or SchedulingConfig()
        self.retry = retry or RetryPolicy()
        self.clock = clock or SystemClock()
        self.metrics = metrics or GatewayMetrics()
        self.tracer = tracer or trace.get_tracer("gateway")
        self.health = UpstreamHealth(http.base_url, self.clock)
        self._transport_factory = transport_factory
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._groups: dict[str, LimitGroup] = {}
        self._agents: dict[str, AgentSession] = {}
        self._default_agent: str | None = None
        self._closed = False
        # Called with the record of every call answered (the request log subscribes here).
        self.observers: list[Callable[[CallRecord], None]] = []

    # --- agents and groups ----------------------------------------------------------------------

    @property
    def agents(self) -> list[str]:
        return list(self._agents)

    @property
    def default_agent(self) -> str | None:
        """The agent a call without an agent symbol is sent for (the first one added)."""
        return self._default_agent

    def group(self, local_address: str = "") -> LimitGroup:
        """The limit group of agents sending from `local_address` ("" = the default route)."""
        group = self._groups.get(local_address)
        if group is None:
            group = LimitGroup(
                local_address,
                limiter=TwoPoolRateLimiter(self.rate_limit, self.clock),
                scheduler=PriorityScheduler(
                    clock=self.clock,
                    queue_limits=self.scheduling.queue_limits,
                    aging_after=self.scheduling.aging_after,
                ),
                max_in_flight=self.http.max_in_flight,
                clock=self.clock,
                metrics=self.metrics,
            )
            group.start()
            self._groups[local_address] = group
        return group

    @property
    def groups(self) -> list[LimitGroup]:
        return list(self._groups.values())

    def add_agent(self, symbol: str, token: str, *, local_address: str = "") -> None:
        """Send calls for `symbol` with `token`, sharing the limit of `local_address`."""
        if symbol in self._agents:
            raise ValueError(f"agent {symbol} is already configured")
        client = build_client(
            self.http,
            token,
            local_address=local_address or None,
            transport_factory=self._transport_factory,
        )
        self._agents[symbol] = AgentSession(symbol, client, self.group(local_address))
        if self._default_agent is None:
            self._default_agent = symbol
        log.info("agent %s ready", symbol, extra={"agent": symbol})

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
        resolved = resolve(method, path)
        client = build_client(
            self.http,
            token,
            local_address=local_address or None,
            transport_factory=self._transport_factory,
        )
        try:
            session = AgentSession(
                "", client, self.group(local_address), address_only=token is None
            )
            result = await self._schedule_and_send(
                session,
                resolved,
                method.upper(),
                {},
                body,
                resolved.endpoint.priority,
                None,
                str(uuid.uuid4()),
            )
        finally:
            await client.aclose()
        self._notify(
            CallRecord(
                result=result,
                agent="",
                ship_symbol="",
                endpoint=resolved.endpoint.template,
                method=method.upper(),
                finished_at=self.clock.time(),
            )
        )
        return result

    async def execute(self, call: ApiCall, parent: Context | None = None) -> CallRecord:
        """Queue, send and answer one call; the span continues the caller's trace `parent`."""
        call_id = call.call_id or str(uuid.uuid4())
        method = call.method.upper()
        resolved = resolve(method, call.path or "/")
        agent = call.agent or self._default_agent or ""
        session = self._agents.get(agent)
        priority = (
            call.priority if call.priority in PRIORITY_CLASSES else resolved.endpoint.priority
        )
        ship = call.ship_symbol or resolved.ship_symbol
        body = bytes(call.json_body)
        deadline = self._deadline(call)
        attributes: dict[str, Any] = {
            "flotilla.call_id": call_id,
            "flotilla.agent": agent,
            "flotilla.priority": priority_name(priority),
            "http.request.method": method,
            "url.template": resolved.endpoint.template,
        }
        if ship:
            attributes["flotilla.ship"] = ship
        with self.tracer.start_as_current_span(
            f"gateway {method} {resolved.endpoint.template}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes=attributes,
        ) as span:
            rejection = self._rejection(call, method, body, session)
            if rejection is not None or session is None:
                result = self._result(
                    call_id, priority, CallOutcome.CALL_OUTCOME_REJECTED, message=rejection or ""
                )
            else:
                result = await self._schedule_and_send(
                    session, resolved, method, dict(call.query), body, priority, deadline, call_id
                )
            span.set_attribute("flotilla.outcome", OUTCOME_NAMES.get(result.outcome, "?"))
            span.set_attribute("flotilla.attempts", result.attempts)
            if result.status:
                span.set_attribute("http.response.status_code", result.status)
            if result.outcome != CallOutcome.CALL_OUTCOME_COMPLETED:
                span.set_status(Status(StatusCode.ERROR, result.error_message))
        self.metrics.calls.labels(
            priority=priority_name(priority), outcome=OUTCOME_NAMES.get(result.outcome, "?")
        ).inc()
        record = CallRecord(
            result=result,
            agent=agent,
            ship_symbol=ship,
            endpoint=resolved.endpoint.template,
            method=method,
            finished_at=self.clock.time(),
        )
        self._notify(record)
        return record

    def _notify(self, record: CallRecord) -> None:
        for observer in self.observers:
            try:
                observer(record)
            except Exception:
                log.exception("a call observer failed")

    def _rejection(
        self, call: ApiCall, method: str, body: bytes, session: AgentSession | None
    ) -> str | None:
        if self._closed:
            return "the gateway is shutting down"
        if method not in METHODS:
            return f"unsupported method {call.method!r}"
        if not call.path.startswith("/"):
            return f"path must start with '/': {call.path!r}"
        if session is None:
            known = ", ".join(self._agents) or "none yet"
            return f"unknown agent {call.agent!r} (configured: {known})"
        if body:
            try:
                json.loads(body)
            except ValueError:
                return "json_body is not valid JSON"
        return None

    def _deadline(self, call: ApiCall) -> float | None:
        if not call.HasField("deadline"):
            return None
        wall = call.deadline.seconds + call.deadline.nanos / 1e9
        return self.clock.monotonic() + (wall - self.clock.time())

    async def _schedule_and_send(
        self,
        session: AgentSession,
        resolved: ResolvedCall,
        method: str,
        query: dict[str, str],
        body: bytes,
        priority: int,
        deadline: float | None,
        call_id: str,
    ) -> ApiResult:
        group = session.group
        arrived = self.clock.monotonic()
        if deadline is not None and deadline <= arrived:
            return self._result(
                call_id, priority, CallOutcome.CALL_OUTCOME_EXPIRED, message="deadline already past"
            )
        ticket = Ticket(asyncio.get_running_loop().create_future(), call_id)
        with self.tracer.start_as_current_span(
            "gateway.queue", attributes={"flotilla.priority": priority_name(priority)}
        ) as queue_span:
            try:
                entry = group.submit(ticket, priority, deadline)
            except QueueFull as exc:
                return self._result(
                    call_id, priority, CallOutcome.CALL_OUTCOME_OVERLOADED, message=str(exc)
                )
            except GroupClosed:
                return self._result(
                    call_id,
                    priority,
                    CallOutcome.CALL_OUTCOME_OVERLOADED,
                    message="the gateway is shutting down",
                )
            queue_span.set_attribute("flotilla.queue_depth", group.scheduler.depth(priority))
            try:
                admission = await ticket.future
            except asyncio.CancelledError:
                group.withdraw(entry)
                raise
        queued = self.clock.monotonic() - arrived
        self.metrics.queue_wait.labels(priority=priority_name(priority)).observe(queued)
        if admission is Refusal.EXPIRED:
            return self._result(
                call_id,
                priority,
                CallOutcome.CALL_OUTCOME_EXPIRED,
                message="deadline passed while queued; no request was sent",
                queued=queued,
            )
        if isinstance(admission, Refusal):
            return self._result(
                call_id,
                priority,
                CallOutcome.CALL_OUTCOME_OVERLOADED,
                message="the gateway is shutting down",
                queued=queued,
            )
        progress = _Progress(admission, queued=queued)
        try:
            return await self._send(
                session, resolved, method, query, body, priority, deadline, call_id, progress
            )
        finally:
            group.release_slot()

    async def _send(
        self,
        session: AgentSession,
        resolved: ResolvedCall,
        method: str,
        query: dict[str, str],
        body: bytes,
        priority: int,
        deadline: float | None,
        call_id: str,
        progress: _Progress,
    ) -> ApiResult:
        group = session.group
        label = priority_name(priority)

        async def attempt(number: int) -> Attempt:
            if number > 1:
                waited_from = self.clock.monotonic()
                progress.permit = await group.retry_permit()
                progress.queued += self.clock.monotonic() - waited_from
            request = build_request(session.client, method, resolved.path, query, body)
            with self.tracer.start_as_current_span(
                f"HTTP {method}",
                kind=SpanKind.CLIENT,
                attributes={
                    "http.request.method": method,
                    "url.template": resolved.endpoint.template,
                    "server.address": self.health.host,
                    "http.request.resend_count": number - 1,
                },
            ) as span:
                group.limiter.mark_sent(progress.permit, address_only=session.address_only)
                started = self.clock.monotonic()
                try:
                    response = await session.client.send(request)
                except asyncio.CancelledError:
                    group.limiter.settle(progress.permit)  # no answer will come for it
                    raise
                except httpx.RequestError as exc:  # transport errors, and a body not decodable
                    group.limiter.settle(progress.permit)
                    elapsed = self.clock.monotonic() - started
                    progress.wire += elapsed
                    self.metrics.upstream_latency.labels(method=method).observe(elapsed)
                    self.metrics.requests_sent.labels(priority=label, status="error").inc()
                    self.health.failed(redact(f"{type(exc).__name__}: {exc}"))
                    span.record_exception(exc)
                    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                    return Attempt(error=exc)
                elapsed = self.clock.monotonic() - started
                progress.wire += elapsed
                progress.response = response
                status = response.status_code
                span.set_attribute("http.response.status_code", status)
            self.metrics.upstream_latency.labels(method=method).observe(elapsed)
            self.metrics.requests_sent.labels(priority=label, status=str(status)).inc()
            if status in (502, 503):
                self.health.failed(f"HTTP {status}")
            else:
                self.health.answered()
            headers = parse_rate_limit_headers(response.headers, self.clock.time())
            if status == 429:
                pause = group.limiter.on_rate_limited(headers, progress.permit)
                kind = "bare" if headers.empty else "headers"
                self.metrics.rate_limited.labels(kind=kind).inc()
                log.warning(
                    "429 from the API (%s): pausing all sends for %.2fs",
                    kind,
                    pause,
                    extra={"call_id": call_id},
                )
            else:
                group.limiter.observe(progress.permit, headers)
            return Attempt(status=status)

        def may_retry() -> bool:
            return deadline is None or self.clock.monotonic() < deadline

        def on_retry(verdict: Verdict, wait: float) -> None:
            self.metrics.retries.labels(reason=verdict.value).inc()
            log.info(
                "retrying %s %s after %s (wait %.2fs)",
                method,
                resolved.endpoint.template,
                verdict.value,
                wait,
                extra={"call_id": call_id},
            )

        outcome = await run_attempts(
            attempt,
            policy=self.retry,
            changes_state=resolved.endpoint.changes_state,
            sleep=self._sleep,
            rng=self._rng,
            may_retry=may_retry,
            on_retry=on_retry,
        )
        last = outcome.attempt
        response = progress.response if last.error is None else None
        status = response.status_code if response is not None else 0
        payload = response.content if response is not None else b""
        error = error_of(status, payload) if response is not None else None
        if outcome.ending is Ending.ANSWERED:
            result_outcome = CallOutcome.CALL_OUTCOME_COMPLETED
        elif outcome.ending is Ending.AMBIGUOUS:
            result_outcome = CallOutcome.CALL_OUTCOME_UNKNOWN
        else:
            result_outcome = CallOutcome.CALL_OUTCOME_FAILED
        if last.error is not None:
            # Exception texts are not ours: never let one carry a token back to a caller.
            message = redact(f"{type(last.error).__name__}: {last.error}")
        else:
            message = error.message if error is not None else ""
        if result_outcome == CallOutcome.CALL_OUTCOME_UNKNOWN:
            message = f"outcome unknown, not repeated ({message or f'HTTP {status}'})"
        return self._result(
            call_id,
            priority,
            result_outcome,
            status=status,
            body=payload,
            error_code=error.code if error is not None else 0,
            message=message,
            queued=progress.queued,
            wire=progress.wire,
            attempts=outcome.attempts,
        )

    @staticmethod
    def _result(
        call_id: str,
        priority: int,
        outcome: CallOutcome,
        *,
        status: int = 0,
        body: bytes = b"",
        error_code: int = 0,
        message: str = "",
        queued: float = 0.0,
        wire: float = 0.0,
        attempts: int = 0,
    ) -> ApiResult:
        return ApiResult(
            call_id=call_id,
            outcome=outcome,
            status=status,
            json_body=body,
            error_code=error_code,
            error_message=message,
            queued_ms=queued * 1000.0,
            wire_ms=wire * 1000.0,
            attempts=attempts,
            priority=cast(PriorityClass, priority),
        )

    # --- lifecycle ------------------------------------------------------------------------------

    def stop_accepting(self) -> None:
        """Answer every queued call as shutting down and refuse new ones; calls on the wire
        finish (their retries still get permits)."""
        self._closed = True
        for group in self._groups.values():
            group.stop_accepting()

    async def close(self) -> None:
        """Stop the dispatch loops and close every agent's client. Safe to call twice."""
        self.stop_accepting()
        for group in self._groups.values():
            await group.close()
        for session in self._agents.values():
            await session.client.aclose()
