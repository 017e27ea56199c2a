"""One rate limit and the calls that compete for it: a `LimitGroup` joins a priority scheduler,
a two-pool rate limiter and the in-flight slots, and runs the loop that hands out permits.

Agents that send from the same address share one group (the API limits per IP as well as per
account). The loop decides *who* sends at the moment a request *may* be sent, so a cooldown
call that arrives while background reads wait takes the very next permit. Each permit also
takes one in-flight slot (a semaphore of the connection pool's size), so the pool can never be
asked for more connections than it has.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections import deque
from dataclasses import dataclass, field

from flotilla.clock import Clock
from flotilla.semconv import FLEET, PRIORITY_CLASSES, priority_name
from gateway.metrics import GatewayMetrics
from gateway.ratelimit import Permit, TwoPoolRateLimiter
from gateway.scheduler import Entry, PriorityScheduler

__all__ = ["GroupClosed", "LimitGroup", "Refusal", "Ticket"]

log = logging.getLogger("gateway.limit_group")


def _cancelling() -> bool:
    """The running task itself is being cancelled (not only a future it waits on)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class Refusal(enum.Enum):
    """Why a queued call will not be sent."""

    EXPIRED = "expired"  # its deadline passed while it waited
    SHUTTING_DOWN = "shutting_down"  # the gateway is draining


class GroupClosed(Exception):
    """The group no longer accepts calls (the gateway is draining)."""


@dataclass(eq=False)
class Ticket:
    """A call's place in the queue: resolved with a `Permit` (and a slot) or a `Refusal`."""

    future: asyncio.Future[Permit | Refusal]
    call_id: str = field(default="")


class LimitGroup:
    """Hands out permits to queued calls and retries, within the rate limit and the slot cap."""

    def __init__(
        self,
        key: str,
        *,
        limiter: TwoPoolRateLimiter,
        scheduler: PriorityScheduler[Ticket],
        max_in_flight: int,
        clock: Clock,
        metrics: GatewayMetrics,
    ) -> None:
        self.key = key
        self.limiter = limiter
        self.scheduler = scheduler
        self.max_in_flight = max_in_flight
        self._clock = clock
        self._metrics = metrics
        self._slots = asyncio.Semaphore(max_in_flight)
        self._retry_waiters: deque[asyncio.Future[Permit]] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._accepting = True
        self._closing = False
        self.in_flight = 0
        self.peak_in_flight = 0
        label = key or "default"
        self._depth_gauges = {
            c: metrics.queue_depth.labels(group=label, priority=priority_name(c))
            for c in PRIORITY_CLASSES
        }
        self._in_flight_gauge = metrics.in_flight.labels(group=label)
        self._utilisation_gauge = metrics.limit_utilisation.labels(group=label)
        metrics.registry.on_scrape(self._refresh_gauges)

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the loop that hands out permits (idempotent)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"gateway-permits-{self.key}")

    def stop_accepting(self) -> None:
        """Refuse new calls and answer every queued one as shutting down; retries of calls
        already on the wire still get permits."""
        self._accepting = False
        for entry in self.scheduler.drain():
            self._settle(entry.item, Refusal.SHUTTING_DOWN)
        self._wake.set()

    async def close(self) -> None:
        """Stop the loop; waiting retries are cancelled. Safe to call twice."""
        self.stop_accepting()
        self._closing = True
        for waiter in self._retry_waiters:
            waiter.cancel()
        self._retry_waiters.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # --- what calls use -----------------------------------------------------------------------

    def submit(self, ticket: Ticket, priority: int, deadline: float | None) -> Entry[Ticket]:
        """Queue a call; raises `QueueFull` when its class is full, `GroupClosed` when draining."""
        if not self._accepting:
            raise GroupClosed(self.key)
        entry = self.scheduler.push(ticket, priority, deadline)
        self._wake.set()
        return entry

    def withdraw(self, entry: Entry[Ticket]) -> None:
        """The call's caller went away: leave the queue, or give back a slot already granted."""
        if self.scheduler.remove(entry):
            self._wake.set()
            return
        future = entry.item.future
        granted = future.result() if future.done() and not future.cancelled() else None
        if isinstance(granted, Permit):
            # Granted but never sent: the limiter stops counting it on the wire at once.
            self.limiter.settle(granted)
            self.release_slot()

    async def retry_permit(self, deadline: float | None = None) -> Permit | None:
        """A permit for another attempt of a call that already holds a slot, served before any
        queued call; None when the monotonic `deadline` passes first."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Permit] = loop.create_future()
        self._retry_waiters.append(waiter)
        self._wake.set()
        timer = None
        if deadline is not None:
            delay = max(0.0, deadline - self._clock.monotonic())
            timer = loop.call_later(delay, lambda: waiter.done() or waiter.cancel())
        try:
            return await asyncio.shield(waiter)
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.limiter.settle(waiter.result())  # granted, never to be sent
            if waiter.cancelled() and not self._closing and not _cancelling():
                return None  # the deadline passed
            waiter.cancel()
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def release_slot(self) -> None:
        """A call that was granted a permit is finished with the wire."""
        self.in_flight -= 1
        self._slots.release()
        self._in_flight_gauge.set(self.in_flight)
        self._wake.set()

    # --- the loop ------------------------------------------------------------------------------

    SPIN_SECONDS = 0.002

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            for entry in self.scheduler.expire():
                self._settle(entry.item, Refusal.EXPIRED)
            delay = await self._grant_ready()
            next_deadline = self.scheduler.next_deadline()
            if next_deadline is not None:
                until = max(0.0, next_deadline - self._clock.monotonic())
                delay = until if delay is None else min(delay, until)
            self._refresh_depths()
            await self._sleep(delay)

    async def _sleep(self, delay: float | None) -> None:
        """Wait for a wake-up, or at most `delay` seconds (a timer that sets the same event:
        no task per wait, and no lost cancellation as with `asyncio.wait_for` in 3.11).

        The event loop's timers fire up to a millisecond late (its poll rounds the timeout up
        to whole milliseconds), and a permit granted late arrives late: a static window opened
        that much after the previous one ended is lost to the limit. So the timer is set
        `SPIN_SECONDS` early and the rest is waited by yielding to the loop until the instant
        (on the loop's own clock, which always runs)."""
        if delay is None:
            await self._wake.wait()
            return
        loop = asyncio.get_running_loop()
        if delay <= self.SPIN_SECONDS:
            until = loop.time() + delay
            # Yielding on purpose: no timer is that precise.
            while loop.time() < until and not self._wake.is_set():  # noqa: ASYNC110
                await asyncio.sleep(0)
            return
        timer = loop.call_later(delay - self.SPIN_SECONDS, self._wake.set)
        try:
            await self._wake.wait()
        finally:
            timer.cancel()

    async def _grant_ready(self) -> float | None:
        """Grant every permit available now; return the seconds until the next one could be
        (None: nothing to grant until something changes)."""
        while True:
            while self._retry_waiters and self._retry_waiters[0].done():
                self._retry_waiters.popleft()
            if self._retry_waiters:
                permit = self.limiter.acquire()
                if permit is None:
                    return self.limiter.delay()
                self._retry_waiters.popleft().set_result(permit)
                continue
            if self._slots.locked():
                return None
            entry = self.scheduler.peek()
            if entry is None:
                return None
            if entry.item.future.done():  # cancelled by its caller before it could withdraw
                self.scheduler.remove(entry)
                continue
            # Fleet and background calls are paced: they leave most of the burst pool to ship
            # actions that may arrive meanwhile.
            paced = entry.priority >= FLEET
            permit = self.limiter.acquire(paced=paced)
            if permit is None and paced:
                # A paced call that aging put first must not hold back a ship action that may
                # go now: the point it waits for is not the one the ship action would take.
                urgent = self.scheduler.peek_below(FLEET)
                if urgent is not None and not urgent.item.future.done():
                    permit = self.limiter.acquire()
                    if permit is not None:
                        self.scheduler.pop_entry(urgent)
                        self._grant(urgent, permit)
                        await self._slots.acquire()  # never blocks: checked above
                        continue
            if permit is None:
                return self.limiter.delay(paced=paced)
            popped = self.scheduler.pop()
            assert popped is entry
            await self._slots.acquire()  # never blocks: checked above, nothing ran since
            self._grant(entry, permit)

    def _grant(self, entry: Entry[Ticket], permit: Permit) -> None:
        """Hand `permit` and a slot (taken by the caller) to a popped entry."""
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        self._in_flight_gauge.set(self.in_flight)
        entry.item.future.set_result(permit)

    def _settle(self, ticket: Ticket, refusal: Refusal) -> None:
        if not ticket.future.done():
            ticket.future.set_result(refusal)

    def _refresh_depths(self) -> None:
        for c, gauge in self._depth_gauges.items():
            gauge.set(self.scheduler.depth(c))

    def _refresh_gauges(self) -> None:
        self._refresh_depths()
        self._in_flight_gauge.set(self.in_flight)
        self._utilisation_gauge.set(self.limiter.utilisation())
