"""The send path of an admitted call: wait in its group's queue for a permit (or be answered
expired or overloaded without a request), then attempt it on the wire within the retry policy —
its fencing token checked again right before every attempt (a call admitted fresh may have
gone stale while it waited: `gateway.fencing`) —
teaching the rate limiter and the upstream health from every answer, and end in one
`ApiResult`."""

from __future__ import annotations

import asyncio
import functools
import logging
import random

import httpx
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from flotilla.clock import Clock
from flotilla.logs import redact
from flotilla.semconv import SpanAttr, priority_name
from flotilla.v1.api_pb2 import ApiResult, CallOutcome
from gateway.call import QueuedCall
from gateway.fencing import FenceBook
from gateway.limit_group import GroupClosed, Refusal, Ticket
from gateway.metrics import GatewayMetrics
from gateway.outcomes import Verdict, is_edge_failure
from gateway.ratelimit import Permit, parse_rate_limit_headers
from gateway.retry import Attempt, RetryPolicy, RetryResult, Sleep, run_attempts
from gateway.scheduler import QueueFull
from gateway.upstream import UpstreamHealth, build_request, error_of

__all__ = ["QUEUE_SPAN", "CallSender", "StaleFence"]

log = logging.getLogger("gateway")

# The span of a call's wait for its first permit.
QUEUE_SPAN = "gateway.queue"

_SHUTTING_DOWN = "the gateway is shutting down"


class _DeadlinePassed(Exception):
    """The call's deadline passed before its next attempt could be sent."""


class StaleFence(Exception):
    """A call's fencing token went stale before one of its attempts: it ends `FENCED` without
    that attempt's request."""


class CallSender:
    """Takes admitted calls through the queue and onto the wire, one attempt at a time.

    `send` never raises for a failed call: every end is an `ApiResult` with an outcome.
    """

    def __init__(
        self,
        *,
        retry: RetryPolicy,
        clock: Clock,
        metrics: GatewayMetrics,
        tracer: Tracer,
        health: UpstreamHealth,
        sleep: Sleep,
        rng: random.Random,
        fences: FenceBook | None = None,
    ) -> None:
        self.fences = fences if fences is not None else FenceBook()
        self._retry = retry
        self._clock = clock
        self._metrics = metrics
        self._tracer = tracer
        self._health = health
        self._sleep = sleep
        self._rng = rng

    async def send(self, call: QueuedCall) -> ApiResult:
        """Queue `call` for a permit, then send it with bounded retries; its result."""
        refused = await self._wait_for_permit(call)
        if refused is not None:
            return refused
        try:
            ended = await run_attempts(
                functools.partial(self._attempt, call),
                policy=self._retry,
                changes_state=call.resolved.endpoint.changes_state,
                sleep=self._sleep,
                rng=self._rng,
                may_retry=functools.partial(self._before_deadline, call),
                on_retry=functools.partial(self._on_retry, call),
            )
        except _DeadlinePassed:
            return call.result(
                CallOutcome.CALL_OUTCOME_EXPIRED,
                message="deadline passed before another attempt; it was not sent again",
            )
        except StaleFence as stale:
            return call.result(CallOutcome.CALL_OUTCOME_FENCED, message=str(stale))
        finally:
            call.session.group.release_slot()
        return self._conclude(call, ended)

    # --- the queue ------------------------------------------------------------------------------

    async def _wait_for_permit(self, call: QueuedCall) -> ApiResult | None:
        """Wait in the group's queue until the call holds a permit and a slot (None), or return
        the result that ends it there (expired, overloaded)."""
        group = call.session.group
        arrived = self._clock.monotonic()
        if call.deadline is not None and call.deadline <= arrived:
            return call.result(CallOutcome.CALL_OUTCOME_EXPIRED, message="deadline already past")
        ticket = Ticket(asyncio.get_running_loop().create_future(), call.call_id)
        label = priority_name(call.priority)
        with self._tracer.start_as_current_span(
            QUEUE_SPAN, attributes={SpanAttr.PRIORITY: label}
        ) as queue_span:
            try:
                entry = group.submit(ticket, call.priority, call.deadline)
            except QueueFull as exc:
                return call.result(CallOutcome.CALL_OUTCOME_OVERLOADED, message=str(exc))
            except GroupClosed:
                return call.result(CallOutcome.CALL_OUTCOME_OVERLOADED, message=_SHUTTING_DOWN)
            queue_span.set_attribute(SpanAttr.QUEUE_DEPTH, group.scheduler.depth(call.priority))
            try:
                granted = await ticket.future
            except asyncio.CancelledError:
                group.withdraw(entry)
                raise
        call.progress.queued = self._clock.monotonic() - arrived
        self._metrics.queue_wait.labels(priority=label).observe(call.progress.queued)
        if granted is Refusal.EXPIRED:
            return call.result(
                CallOutcome.CALL_OUTCOME_EXPIRED,
                message="deadline passed while queued; no request was sent",
            )
        if isinstance(granted, Refusal):
            return call.result(CallOutcome.CALL_OUTCOME_OVERLOADED, message=_SHUTTING_DOWN)
        call.progress.permit = granted
        return None

    def _check_fence(self, call: QueuedCall, permit: Permit, number: int) -> None:
        """Raise `StaleFence` if the call's token went stale since it was admitted: while it
        waited in the queue (attempt 1) or between attempts. No request goes out for its
        permit, so the limiter stops waiting for an answer and counts it as possibly spent
        (there is no way to give a permit back)."""
        if call.fence is None:
            return
        reason = self.fences.check(call.fence)
        if reason is None:
            return
        call.session.group.limiter.settle(permit)
        stage = "queue" if number == 1 else "retry"
        self._metrics.fenced.labels(stage=stage).inc()
        waited = "while it was queued" if number == 1 else f"before attempt {number}"
        raise StaleFence(f"{reason} ({waited})")

    # --- one attempt ----------------------------------------------------------------------------

    async def _attempt(self, call: QueuedCall, number: int) -> Attempt:
        """Attempt `number` (1, 2, ...) of `call` on the wire."""
        permit = await self._permit_for(call, number)
        self._check_fence(call, permit, number)
        call.progress.attempts = number
        session = call.session
        limiter = session.group.limiter
        request = build_request(
            session.client, call.method, call.resolved.path, call.query, call.body
        )
        with self._tracer.start_as_current_span(
            f"HTTP {call.method}",
            kind=SpanKind.CLIENT,
            attributes={
                SpanAttr.HTTP_METHOD: call.method,
                SpanAttr.URL_TEMPLATE: call.template,
                SpanAttr.SERVER_ADDRESS: self._health.host,
                SpanAttr.HTTP_RESEND_COUNT: number - 1,
            },
        ) as span:
            limiter.mark_sent(permit, address_only=session.address_only)
            started = self._clock.monotonic()
            try:
                response = await session.client.send(request)
            except asyncio.CancelledError:
                limiter.settle(permit)  # no answer will come for it
                raise
            except httpx.RequestError as exc:  # transport errors, and a body not decodable
                limiter.settle(permit)
                self._count_wire_time(call, started, status="error")
                self._health.failed(redact(f"{type(exc).__name__}: {exc}"))
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                return Attempt(error=exc)
            self._count_wire_time(call, started, status=str(response.status_code))
            call.progress.response = response
            span.set_attribute(SpanAttr.HTTP_STATUS, response.status_code)
        self._learn_from(call, permit, response)
        return Attempt(status=response.status_code)

    async def _permit_for(self, call: QueuedCall, number: int) -> Permit:
        """The permit of attempt `number`: the one granted from the queue for the first, a
        retry permit (served before any queued call) for the others."""
        if number > 1:
            waited_from = self._clock.monotonic()
            if call.deadline is not None and call.deadline <= waited_from:
                raise _DeadlinePassed
            permit = await call.session.group.retry_permit(call.deadline)
            call.progress.queued += self._clock.monotonic() - waited_from
            if permit is None:
                raise _DeadlinePassed
            call.progress.permit = permit
        if call.progress.permit is None:
            raise RuntimeError(f"call {call.call_id} reached the wire without a permit")
        return call.progress.permit

    def _count_wire_time(self, call: QueuedCall, started: float, *, status: str) -> None:
        elapsed = self._clock.monotonic() - started
        call.progress.wire += elapsed
        self._metrics.upstream_latency.labels(method=call.method).observe(elapsed)
        self._metrics.requests_sent.labels(
            priority=priority_name(call.priority), status=status
        ).inc()

    def _learn_from(self, call: QueuedCall, permit: Permit, response: httpx.Response) -> None:
        """What an answer tells: whether the API is up, and where its rate limit stands."""
        status = response.status_code
        if is_edge_failure(status):
            self._health.failed(f"HTTP {status}")
        else:
            self._health.answered()
        limiter = call.session.group.limiter
        headers = parse_rate_limit_headers(response.headers, self._clock.time())
        if status != 429:
            if is_edge_failure(status) and headers.empty:
                # A proxy answered in the API's place: nothing about the pools (the API may
                # have counted the request or not). Taken for the API's answer, a probe's
                # would make the model plan on our clock as for a server without headers.
                limiter.settle(permit)
                return
            limiter.observe(permit, headers)
            return
        pause = limiter.on_rate_limited(headers, permit)
        kind = "bare" if headers.empty else "headers"
        self._metrics.rate_limited.labels(kind=kind).inc()
        log.warning(
            "429 from the API (%s): pausing all sends for %.2fs",
            kind,
            pause,
            extra={"call_id": call.call_id},
        )

    # --- between attempts and after the last ----------------------------------------------------

    def _before_deadline(self, call: QueuedCall) -> bool:
        """Another attempt may still be worth it: the call's deadline has not passed."""
        return call.deadline is None or self._clock.monotonic() < call.deadline

    def _on_retry(self, call: QueuedCall, verdict: Verdict, wait: float) -> None:
        self._metrics.retries.labels(reason=verdict.value).inc()
        log.info(
            "retrying %s %s after %s (wait %.2fs)",
            call.method,
            call.template,
            verdict.value,
            wait,
            extra={"call_id": call.call_id},
        )

    def _conclude(self, call: QueuedCall, ended: RetryResult) -> ApiResult:
        """The result of a call whose attempts are over."""
        last = ended.attempt
        response = call.progress.response if last.error is None else None
        status = response.status_code if response is not None else 0
        payload = response.content if response is not None else b""
        error = error_of(status, payload) if response is not None else None
        if last.error is not None:
            # Exception texts are not ours: never let one carry a token back to a caller.
            message = redact(f"{type(last.error).__name__}: {last.error}")
        else:
            message = error.message if error is not None else ""
        if ended.outcome == CallOutcome.CALL_OUTCOME_UNKNOWN:
            message = f"outcome unknown, not repeated ({message or f'HTTP {status}'})"
        call.progress.attempts = ended.attempts
        return call.result(
            ended.outcome,
            status=status,
            body=payload,
            error_code=error.code if error is not None else 0,
            message=message,
        )
