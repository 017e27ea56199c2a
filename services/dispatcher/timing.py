"""Waking ship tasks at instants of the injected clock, and reading the game server's clock.

Ship tasks sleep until an instant on `Clock.monotonic()` (a cooldown's end, an arrival).
`LoopTimers` turns that into one asyncio timer (no polling, no thread); `ManualTimers` fires
timers only when a test advances its `ManualClock`. `ServerClock` converts the API's UTC
instants to local monotonic ones without trusting that this node's wall clock agrees with the
game server's.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from flotilla.clock import Clock, ManualClock

__all__ = ["Cancellable", "LoopTimers", "ManualTimers", "ServerClock", "Timers", "Wakeup"]


class Cancellable(Protocol):
    """A scheduled callback that can be called off."""

    def cancel(self) -> None:
        """Call the callback off."""


class Timers(Protocol):
    """Runs a callback at a monotonic instant of the service's clock."""

    def call_at(self, when: float, callback: Callable[[], None]) -> Cancellable:
        """Run `callback` at monotonic instant `when`."""


class LoopTimers:
    """Timers on the running event loop, for a clock whose monotonic reading advances in real
    time (the system clock; the loop's own clock is the same monotonic clock)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def call_at(self, when: float, callback: Callable[[], None]) -> Cancellable:
        """Run `callback` at monotonic instant `when`."""
        delay = max(0.0, when - self._clock.monotonic())
        return asyncio.get_running_loop().call_later(delay, callback)


class _ManualTimer:
    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        """Call the callback off."""
        self.cancelled = True


class ManualTimers:
    """Timers that fire when a test moves its `ManualClock` forward (`advance`)."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self._heap: list[tuple[float, int, _ManualTimer]] = []
        self._order = itertools.count()

    def call_at(self, when: float, callback: Callable[[], None]) -> Cancellable:
        """Run `callback` at monotonic instant `when`."""
        timer = _ManualTimer(when, callback)
        heapq.heappush(self._heap, (when, next(self._order), timer))
        return timer

    def next_instant(self) -> float | None:
        """The instant of the earliest pending timer (None: none)."""
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def advance(self, seconds: float) -> None:
        """Move the clock forward, firing every timer due on the way, in order."""
        self.advance_to(self.clock.monotonic() + seconds)

    def advance_to(self, instant: float) -> None:
        """Move the clock to `instant`, firing every timer due by then, in order."""
        while True:
            due = self.next_instant()
            if due is None or due > instant:
                break
            _, _, timer = heapq.heappop(self._heap)
            self.clock.advance_to(due)
            timer.callback()
        self.clock.advance_to(instant)


class Wakeup:
    """One ship task's sleep: until an instant, or until something interrupts it (a new
    assignment, a hand-over). One future and one timer per sleeping ship."""

    __slots__ = ("_future", "_handle", "_timers")

    def __init__(self, timers: Timers) -> None:
        self._timers = timers
        self._future: asyncio.Future[None] | None = None
        self._handle: Cancellable | None = None

    async def sleep_until(self, when: float | None) -> None:
        """Sleep until monotonic instant `when` (None: until interrupted)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._future = future
        if when is not None:
            self._handle = self._timers.call_at(when, self.interrupt)
        try:
            await future
        finally:
            if self._handle is not None:
                self._handle.cancel()
                self._handle = None
            self._future = None

    def interrupt(self) -> None:
        """End the current sleep now (no-op when not sleeping)."""
        future = self._future
        if future is not None and not future.done():
            future.set_result(None)


class ServerClock:
    """The offset of the game server's clock from this node's wall clock, learnt from answers.

    An answer that starts a cooldown or a flight tells the server's "now" when it handled the
    call (`expiration - totalSeconds`, or the route's departure). That instant lies between the
    call's send and its receipt here, so `server_now - received` is a lower bound of the offset;
    the bound kept is the largest seen within the last `window_seconds` (so a clock that drifts
    back is followed). Using a lower bound makes a converted instant late, never early: a ship
    is not woken before the server agrees its cooldown is over (by at most the round trip).
    """

    def __init__(self, clock: Clock, window_seconds: float = 600.0) -> None:
        self._clock = clock
        self._window = window_seconds
        self._offset: float | None = None
        self._at = 0.0

    def observe(self, server_now: datetime, received_wall: float) -> None:
        """Record that the server's clock read `server_now` no later than `received_wall`."""
        sample = server_now.timestamp() - received_wall
        now = self._clock.monotonic()
        if self._offset is None or sample >= self._offset or now - self._at > self._window:
            self._offset = sample
            self._at = now

    def offset(self) -> float:
        """Seconds to add to this node's wall clock to read the server's (a lower bound)."""
        return 0.0 if self._offset is None else self._offset

    def to_monotonic(self, instant: datetime) -> float:
        """The local monotonic instant at which the server's clock reads `instant`."""
        wall = instant.timestamp() - self.offset()
        return self._clock.monotonic() + (wall - self._clock.time())
