"""How a client reaches the gateway: one `ApiCall` over NATS request/reply, carrying the
caller's trace context, answered by one `ApiResult`."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import nats.errors
from google.protobuf.timestamp_pb2 import Timestamp
from nats.aio.client import Client as NatsClient

from flotilla import names
from flotilla.client.errors import CallFailed, GatewayUnavailable, OutcomeUnknown
from flotilla.clock import Clock, SystemClock
from flotilla.telemetry import inject_headers
from flotilla.v1.api_pb2 import ApiCall, ApiResult, PriorityClass, ShipFence

__all__ = [
    "UNSPECIFIED",
    "CallRequest",
    "GatewayTransport",
    "Transport",
]

UNSPECIFIED = PriorityClass.PRIORITY_CLASS_UNSPECIFIED


@dataclass(frozen=True)
class CallRequest:
    """One API call as a client describes it (the path is below the API base, e.g. /my/agent)."""

    method: str
    path: str
    body: dict[str, Any] | None = None
    query: dict[str, str] = field(default_factory=dict)
    # UNSPECIFIED lets the gateway derive the class from the method and path.
    priority: int = UNSPECIFIED
    # Seconds the call may wait in the gateway's queue; None: no deadline.
    deadline_seconds: float | None = None
    ship_symbol: str = ""
    # The ship's fencing token, set by the dispatcher on every ship action (None: not fenced).
    fence: ShipFence | None = None
    # The dispatcher node sending the call ("" for other callers).
    node: str = ""


class Transport(Protocol):
    """Something that turns a `CallRequest` into the gateway's `ApiResult`."""

    async def send(self, request: CallRequest) -> ApiResult:
        """Send one call and return the gateway's result."""
        ...


class GatewayTransport:
    """Sends calls for `agent` to the gateway over NATS ("" = the gateway's default agent).

    The reply wait is the call's deadline plus `reply_allowance_seconds` (time on the wire and
    retries); without a deadline, `no_deadline_wait_seconds`.
    """

    def __init__(
        self,
        nc: NatsClient,
        *,
        agent: str = "",
        subject: str = names.GATEWAY_CALL_SUBJECT,
        reply_allowance_seconds: float = 120.0,
        no_deadline_wait_seconds: float = 900.0,
        clock: Clock | None = None,
    ) -> None:
        self._nc = nc
        self._clock = clock or SystemClock()
        self.agent = agent
        self._subject = subject
        self._allowance = reply_allowance_seconds
        self._no_deadline_wait = no_deadline_wait_seconds

    def build_call(self, request: CallRequest, call_id: str, headers: dict[str, str]) -> ApiCall:
        """The `ApiCall` message for `request`, its deadline as a wall-clock instant."""
        call = ApiCall(
            call_id=call_id,
            agent=self.agent,
            method=request.method.upper(),
            path=request.path,
            query=request.query,
            json_body=json.dumps(request.body).encode() if request.body is not None else b"",
            priority=cast(PriorityClass, request.priority),
            ship_symbol=request.ship_symbol,
            node=request.node,
        )
        if request.fence is not None:
            call.fence.CopyFrom(request.fence)
        if request.deadline_seconds is not None:
            deadline = Timestamp()
            deadline.FromNanoseconds(int((self._clock.time() + request.deadline_seconds) * 1e9))
            call.deadline.CopyFrom(deadline)
        for key in ("traceparent", "tracestate"):
            if key in headers:
                call.trace_context[key] = headers[key]
        return call

    async def send(self, request: CallRequest) -> ApiResult:
        """Send the call over NATS and wait for the result (a bounded wait: see the class)."""
        call_id = str(uuid.uuid4())
        headers = inject_headers()
        call = self.build_call(request, call_id, headers)
        if request.deadline_seconds is None:
            wait = self._no_deadline_wait
        else:
            wait = request.deadline_seconds + self._allowance
        try:
            reply = await self._nc.request(
                self._subject, call.SerializeToString(), timeout=wait, headers=headers or None
            )
        except nats.errors.NoRespondersError:
            raise GatewayUnavailable("no gateway is serving calls", call_id=call_id) from None
        except nats.errors.TimeoutError:
            message = f"no reply from the gateway within {wait:.0f}s"
            if request.method.upper() == "GET":
                raise CallFailed(message, call_id=call_id) from None
            raise OutcomeUnknown(message, call_id=call_id) from None
        except (nats.errors.ConnectionClosedError, nats.errors.ConnectionDrainingError) as exc:
            raise GatewayUnavailable(f"NATS connection unusable: {exc!r}", call_id=call_id) from exc
        return ApiResult.FromString(reply.data)
