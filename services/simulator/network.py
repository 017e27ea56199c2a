"""A server far away: per-request delays on the way in and on the way out, each drawn within
its jitter from a seeded generator, and a server clock that runs ahead of (or behind) the
machine's.

The delays are waited with `asyncio.sleep` inside each request's own task, so requests in flight
together overlap their delays instead of queueing behind one another. The rate limit counts a
request at the instant its way in ends, not when the event loop gets round to it (a timer
fires a millisecond or more late, later on a busy machine): the network delivers on time even
when the server is slow to look.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from flotilla.clock import Clock
from simulator.config import NetworkSection

__all__ = ["Delays", "Network", "ShiftedClock"]


@dataclass(frozen=True)
class Delays:
    """How long one request waits on its way in and its answer on its way out, in seconds."""

    inbound: float
    outbound: float


class Network:
    """Draws each request's delays, reproducibly: one generator seeded with the section's
    `seed`, two draws per request (way in, then way out) when a way has a latency."""

    def __init__(self, network: NetworkSection) -> None:
        self._random = random.Random(network.seed)
        self._inbound = (network.latency_in_ms / 1000, network.latency_in_jitter)
        self._outbound = (network.latency_out_ms / 1000, network.latency_out_jitter)

    @property
    def enabled(self) -> bool:
        """Whether any request is delayed at all."""
        return self._inbound[0] > 0 or self._outbound[0] > 0

    def _draw(self, mean: float, jitter: float) -> float:
        if mean <= 0:
            return 0.0
        if jitter <= 0:
            return mean
        return mean * self._random.uniform(1 - jitter, 1 + jitter)

    def draw(self) -> Delays:
        """The delays of the next request."""
        return Delays(self._draw(*self._inbound), self._draw(*self._outbound))


class ShiftedClock:
    """`clock` with its wall-clock readings (`time`, `now`) moved by `offset_seconds`; the
    monotonic reading, which only measures intervals, is left alone."""

    def __init__(self, clock: Clock, offset_seconds: float) -> None:
        self.clock = clock
        self.offset_seconds = offset_seconds

    def monotonic(self) -> float:
        """The wrapped clock's monotonic reading, unchanged."""
        return self.clock.monotonic()

    def time(self) -> float:
        """The wrapped clock's wall time plus the offset."""
        return self.clock.time() + self.offset_seconds

    def now(self) -> datetime:
        """The wrapped clock's UTC time plus the offset."""
        return self.clock.now() + timedelta(seconds=self.offset_seconds)
