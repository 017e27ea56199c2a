"""Call admission: the agents the gateway sends for, the limit group of each sending address,
and the checks an `ApiCall` passes before it may queue (known agent, method, path, JSON body,
a gateway that still accepts calls, and a fencing token no older than the ship's: see
`gateway.fencing`)."""

from __future__ import annotations

import functools
import json
import logging
import uuid

import httpx

from flotilla.clock import Clock
from flotilla.semconv import PRIORITY_CLASSES
from flotilla.v1.api_pb2 import ApiCall, CallOutcome
from gateway.call import AgentSession, QueuedCall, Rejected
from gateway.endpoints import METHODS, ResolvedCall, resolve
from gateway.fencing import FenceBook
from gateway.limit_group import LimitGroup
from gateway.metrics import GatewayMetrics
from gateway.ratelimit import RateLimitConfig, TwoPoolRateLimiter
from gateway.scheduler import PriorityScheduler, QueueConfig
from gateway.upstream import HttpConfig, TransportFactory, build_client

__all__ = ["CallAdmission"]

log = logging.getLogger("gateway")


class CallAdmission:
    """Agents, their limit groups, and the decision whether a call may queue.

    Agents that bind the same local address share one limit group (one limiter, one queue,
    one slot cap): the API limits per IP address as well as per account.
    """

    def __init__(
        self,
        base_url: str,
        *,
        http: HttpConfig,
        rate_limit: RateLimitConfig,
        queue: QueueConfig,
        clock: Clock,
        metrics: GatewayMetrics,
        transport_factory: TransportFactory,
        fences: FenceBook | None = None,
    ) -> None:
        self.base_url = base_url
        self.fences = fences if fences is not None else FenceBook()
        self.http = http
        self.rate_limit = rate_limit
        self.queue = queue
        self._clock = clock
        self._metrics = metrics
        self._transport_factory = transport_factory
        self._groups: dict[str, LimitGroup] = {}
        self._agents: dict[str, AgentSession] = {}
        self._default_agent: str | None = None
        self._accepting = True

    # --- agents and groups ----------------------------------------------------------------------

    @property
    def agents(self) -> list[str]:
        """The symbols of the configured agents, in the order they were added."""
        return list(self._agents)

    @property
    def default_agent(self) -> str | None:
        """The agent a call without an agent symbol is sent for (the first one added)."""
        return self._default_agent

    def session(self, symbol: str) -> AgentSession | None:
        """The session of agent `symbol`, if it is configured."""
        return self._agents.get(symbol)

    @property
    def groups(self) -> list[LimitGroup]:
        """Every limit group made so far (one per sending address)."""
        return list(self._groups.values())

    def group(self, local_address: str = "") -> LimitGroup:
        """The limit group of agents sending from `local_address` ("" = the default route)."""
        group = self._groups.get(local_address)
        if group is None:
            group = LimitGroup(
                local_address,
                limiter=TwoPoolRateLimiter(self.rate_limit, self._clock),
                scheduler=PriorityScheduler(
                    clock=self._clock,
                    queue_limits=self.queue.limits(),
                    aging_after=self.queue.aging_after_grants,
                ),
                max_in_flight=self.http.max_in_flight,
                clock=self._clock,
                metrics=self._metrics,
            )
            group.start()
            self._groups[local_address] = group
        return group

    def add_agent(self, symbol: str, token: str, *, local_address: str = "") -> None:
        """Send calls for `symbol` with `token`, sharing the limit of `local_address`."""
        if symbol in self._agents:
            raise ValueError(f"agent {symbol} is already configured")
        client = self._client(token, local_address)
        self._agents[symbol] = AgentSession(symbol, client, self.group(local_address))
        if self._default_agent is None:
            self._default_agent = symbol
        log.info("agent %s ready", symbol, extra={"agent": symbol})

    def token_session(self, token: str | None, local_address: str = "") -> AgentSession:
        """A session of the gateway's own, with `token` (or none) instead of an agent's; its
        client is the caller's to close."""
        return AgentSession(
            "",
            self._client(token, local_address),
            self.group(local_address),
            address_only=token is None,
        )

    def _client(self, token: str | None, local_address: str) -> httpx.AsyncClient:
        return build_client(
            self.base_url,
            self.http,
            token,
            local_address=local_address or None,
            transport_factory=self._transport_factory,
        )

    # --- calls ----------------------------------------------------------------------------------

    def admit(self, call: ApiCall) -> QueuedCall | Rejected:
        """The call ready to queue, or the reason it may not."""
        call_id = call.call_id or str(uuid.uuid4())
        method = call.method.upper()
        resolved = resolve(method, call.path or "/")
        agent = call.agent or self._default_agent or ""
        priority = (
            call.priority if call.priority in PRIORITY_CLASSES else resolved.endpoint.priority
        )
        ship = call.ship_symbol or resolved.ship_symbol
        body = bytes(call.json_body)
        session = self._agents.get(agent)
        fence = call.fence if call.HasField("fence") else None
        refused = functools.partial(
            Rejected, call_id, agent, method, resolved, priority, ship, node=call.node, fence=fence
        )
        reason = self._rejection(call, method, body, session)
        if reason is not None or session is None:
            return refused(reason or "")
        fenced = self.fences.check(fence) if fence is not None else None
        if fenced is not None:
            self._metrics.fenced.labels(stage="admission").inc()
            return refused(fenced, outcome=CallOutcome.CALL_OUTCOME_FENCED)
        return QueuedCall(
            session=session,
            resolved=resolved,
            method=method,
            query=dict(call.query),
            body=body,
            priority=priority,
            deadline=self._deadline(call),
            call_id=call_id,
            ship_symbol=ship,
            fence=fence,
            node=call.node,
        )

    def own_call(self, session: AgentSession, method: str, path: str, body: bytes) -> QueuedCall:
        """A call the gateway makes for itself (the default deadline, the endpoint's own
        class)."""
        resolved: ResolvedCall = resolve(method, path)
        return QueuedCall(
            session=session,
            resolved=resolved,
            method=method.upper(),
            query={},
            body=body,
            priority=resolved.endpoint.priority,
            deadline=self._clock.monotonic() + self.queue.default_deadline_seconds,
            call_id=str(uuid.uuid4()),
        )

    def _rejection(
        self, call: ApiCall, method: str, body: bytes, session: AgentSession | None
    ) -> str | None:
        if not self._accepting:
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

    def _deadline(self, call: ApiCall) -> float:
        """The call's wall-clock deadline as an instant of the monotonic clock (the default
        deadline from now when it brings none)."""
        if not call.HasField("deadline"):
            return self._clock.monotonic() + self.queue.default_deadline_seconds
        wall = call.deadline.seconds + call.deadline.nanos / 1e9
        return self._clock.monotonic() + (wall - self._clock.time())

    # --- lifecycle ------------------------------------------------------------------------------

    def stop_accepting(self) -> None:
        """Refuse new calls and answer every queued one as shutting down; calls on the wire
        finish (their retries still get permits)."""
        self._accepting = False
        for group in self._groups.values():
            group.stop_accepting()

    async def close(self) -> None:
        """Stop every group's permit loop and close every agent's client. Safe to call twice."""
        self.stop_accepting()
        for group in self._groups.values():
            await group.close()
        for session in self._agents.values():
            await session.client.aclose()
