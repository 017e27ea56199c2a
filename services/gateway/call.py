"""A call on its way through the gateway: the agent session it is sent for, and `QueuedCall`,
the one object that carries it from admission through the queue to the wire and its result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import httpx

from flotilla.v1.api_pb2 import ApiResult, CallOutcome, PriorityClass, ShipFence
from gateway.endpoints import ResolvedCall
from gateway.limit_group import LimitGroup
from gateway.ratelimit import Permit

__all__ = ["AgentSession", "CallProgress", "QueuedCall", "Rejected", "api_result"]


@dataclass
class AgentSession:
    """An agent's HTTP client (its token lives only in the client's headers) and its group."""

    symbol: str
    client: httpx.AsyncClient
    group: LimitGroup
    # Requests without an agent token count on the address's rate limit only.
    address_only: bool = False


@dataclass
class CallProgress:
    """What happened to a call so far: the permit of its current attempt, seconds spent queued
    (retry permits included) and on the wire, attempts made and the latest response."""

    permit: Permit | None = None
    queued: float = 0.0
    wire: float = 0.0
    attempts: int = 0
    response: httpx.Response | None = None


def api_result(
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
    """The `ApiResult` of one call (times in seconds, reported in milliseconds)."""
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


@dataclass
class QueuedCall:
    """A call admitted for an agent: what to send, in which class, until when (a monotonic
    deadline, or None), and its progress; every way it can end is `result(...)`."""

    session: AgentSession
    resolved: ResolvedCall
    method: str
    query: dict[str, str]
    body: bytes
    priority: int
    deadline: float | None
    call_id: str
    ship_symbol: str = ""
    # The ship's fencing token when a dispatcher node sent the call (None: not fenced).
    fence: ShipFence | None = None
    node: str = ""  # the dispatcher node that sent it ("" for other callers)
    progress: CallProgress = field(default_factory=CallProgress)

    @property
    def agent(self) -> str:
        """The symbol of the agent the call is sent for ("" for the gateway's own calls)."""
        return self.session.symbol

    @property
    def template(self) -> str:
        """The endpoint's path template, e.g. `/my/ships/{shipSymbol}/extract`."""
        return self.resolved.endpoint.template

    def result(
        self,
        outcome: CallOutcome,
        *,
        status: int = 0,
        body: bytes = b"",
        error_code: int = 0,
        message: str = "",
    ) -> ApiResult:
        """The call's `ApiResult`, with the time it spent queued and on the wire so far."""
        return api_result(
            self.call_id,
            self.priority,
            outcome,
            status=status,
            body=body,
            error_code=error_code,
            message=message,
            queued=self.progress.queued,
            wire=self.progress.wire,
            attempts=self.progress.attempts,
        )


@dataclass(frozen=True)
class Rejected:
    """A call refused before it could queue (unknown agent, bad method, path or body, or the
    gateway draining: `REJECTED`; a fencing token older than the ship's: `FENCED`), with the
    reason the caller is told."""

    call_id: str
    agent: str
    method: str
    resolved: ResolvedCall
    priority: int
    ship_symbol: str
    reason: str
    outcome: CallOutcome = CallOutcome.CALL_OUTCOME_REJECTED
    node: str = ""
    fence: ShipFence | None = None

    @property
    def template(self) -> str:
        """The endpoint's path template."""
        return self.resolved.endpoint.template

    def result(self) -> ApiResult:
        """The `REJECTED` or `FENCED` answer, which no request was spent on."""
        return api_result(self.call_id, self.priority, self.outcome, message=self.reason)
