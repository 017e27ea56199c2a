"""The transport of one ship's calls: every call carries the ship's fencing token and node, is
refused here once the lease is no longer usable, and is measured (ready → request delay,
requests per behaviour cycle, errors by code: every failed call, whether the behaviour or the
ship's task handles it)."""

from __future__ import annotations

from typing import Protocol

from dispatcher.leases import Lease
from flotilla.client import CallError, CallRequest, Transport
from flotilla.clock import Clock
from flotilla.v1.api_pb2 import ApiResult, CallOutcome

__all__ = ["FencedTransport", "LeaseExpired", "SendObserver"]


class LeaseExpired(CallError):
    """The ship's lease is lost or about to lapse: nothing was sent, and the ship's task must
    stop driving it."""


class SendObserver(Protocol):
    """Told about each call a ship sends (the ship's runner)."""

    def on_send(self, now: float) -> None:
        """A call of the ship is being sent at monotonic instant `now`."""

    def on_fenced(self) -> None:
        """The gateway refused a call of the ship as fenced."""

    def on_failed(self, result: ApiResult) -> None:
        """A call of the ship came back with an API error or without an answer."""


class FencedTransport:
    """Wraps the node's gateway transport for one ship under one lease."""

    __slots__ = ("_clock", "_inner", "_node", "_observer", "lease")

    def __init__(
        self,
        inner: Transport,
        lease: Lease,
        *,
        node: str,
        clock: Clock,
        observer: SendObserver,
    ) -> None:
        self._inner = inner
        self.lease = lease
        self._node = node
        self._clock = clock
        self._observer = observer

    async def send(self, request: CallRequest) -> ApiResult:
        """Send the call with the ship's fence, unless the lease is no longer usable."""
        now = self._clock.monotonic()
        if not self.lease.usable(now):
            raise LeaseExpired(f"the lease of {self.lease.ship} is no longer usable")
        fenced = CallRequest(
            method=request.method,
            path=request.path,
            body=request.body,
            query=request.query,
            priority=request.priority,
            deadline_seconds=request.deadline_seconds,
            ship_symbol=request.ship_symbol or self.lease.ship,
            fence=self.lease.fence,
            node=self._node,
        )
        self._observer.on_send(now)
        result = await self._inner.send(fenced)
        if result.outcome == CallOutcome.CALL_OUTCOME_FENCED:
            self._observer.on_fenced()
        if result.error_code or result.outcome != CallOutcome.CALL_OUTCOME_COMPLETED:
            self._observer.on_failed(result)
        return result
