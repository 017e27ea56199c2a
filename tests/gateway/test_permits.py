"""Permits and the queue: a ship action is never held back by a paced call that aging put
first, a retry waits for its permit only until the call's deadline, a permit granted to a call
that went away is settled at once, a call that brings no deadline gets one, and a permit
planned for later is granted at its instant, not a timer's millisecond after it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from flotilla.clock import SystemClock
from flotilla.metrics import MetricsRegistry
from flotilla.semconv import BACKGROUND, SHIP_UNBLOCK
from gateway.limit_group import LimitGroup, Ticket
from gateway.metrics import GatewayMetrics
from gateway.ratelimit import Permit, RateLimitConfig, RateLimitHeaders, TwoPoolRateLimiter
from gateway.scheduler import PriorityScheduler, QueueConfig

from .conftest import call, fake_gateway


def placed_limiter(clock: SystemClock, **config: float) -> TwoPoolRateLimiter:
    """A limiter whose probe was answered: fresh pools at the server, one static point used."""
    limiter = TwoPoolRateLimiter(RateLimitConfig(**config), clock)  # type: ignore[arg-type]
    probe = limiter.acquire()
    assert probe is not None
    limiter.mark_sent(probe)
    reset = clock.time() + 0.9
    limiter.observe(probe, RateLimitHeaders(remaining=31, reset_at=reset))
    return limiter


def group_of(limiter: TwoPoolRateLimiter, clock: SystemClock, aging_after: int = 8) -> LimitGroup:
    return LimitGroup(
        "",
        limiter=limiter,
        scheduler=PriorityScheduler(
            clock=clock, queue_limits=QueueConfig().limits(), aging_after=aging_after
        ),
        max_in_flight=8,
        clock=clock,
        metrics=GatewayMetrics(MetricsRegistry()),
    )


def ticket() -> Ticket:
    return Ticket(asyncio.get_running_loop().create_future())


async def test_a_paced_call_put_first_by_aging_does_not_hold_back_a_ship_action() -> None:
    clock = SystemClock()
    # Paced calls may take no burst point at all: only the static pool's next window.
    limiter = placed_limiter(clock, burst_reserve=30)
    group = group_of(limiter, clock, aging_after=1)
    first_ship, read, second_ship = ticket(), ticket(), ticket()
    group.submit(first_ship, SHIP_UNBLOCK, None)
    group.submit(read, BACKGROUND, None)
    group.start()
    try:
        await asyncio.wait_for(first_ship.future, 5)  # the static pool's point; reads passed over
        entry = group.submit(second_ship, SHIP_UNBLOCK, None)
        assert group.scheduler.peek() is not entry  # aging put the read first
        await asyncio.wait_for(second_ship.future, 0.5)  # a burst point, at once
        assert not read.future.done()  # the read waits for the next static window
    finally:
        await group.close()


async def test_a_retry_waits_for_its_permit_only_until_the_deadline() -> None:
    clock = SystemClock()
    limiter = placed_limiter(clock)
    limiter.pause(30.0)
    group = group_of(limiter, clock)
    group.start()
    try:
        granted = await asyncio.wait_for(group.retry_permit(deadline=clock.monotonic() + 0.05), 5)
        assert granted is None
    finally:
        await group.close()


async def test_a_permit_granted_to_a_call_that_went_away_is_settled_at_once() -> None:
    clock = SystemClock()
    limiter = placed_limiter(clock)
    group = group_of(limiter, clock)
    waiting = ticket()
    entry = group.submit(waiting, SHIP_UNBLOCK, None)
    group.start()
    try:
        await asyncio.wait_for(waiting.future, 5)
        assert limiter.outstanding == 1
        group.withdraw(entry)  # its caller went away before it was sent
        assert limiter.outstanding == 0 and group.in_flight == 0
    finally:
        await group.close()


async def test_a_call_without_a_deadline_gets_the_default_one(fake_api: object) -> None:
    async with fake_gateway(fake_api) as gateway:  # type: ignore[arg-type]
        admitted = gateway.admission.admit(call("GET", "/my/agent"))
        deadline = getattr(admitted, "deadline", None)
        assert deadline is not None
        expected = SystemClock().monotonic() + QueueConfig().default_deadline_seconds
        assert abs(deadline - expected) < 5


async def test_a_permit_planned_for_later_is_granted_at_its_instant_never_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The loop sets its timer a little early (the event loop's timers fire up to a millisecond
    late) and yields through the rest: the permit is granted once its instant has come, not
    before, and the loop plans only a few times while it waits (no busy polling)."""
    clock = SystemClock()
    limiter = placed_limiter(clock, burst_reserve=30)  # reads take no burst point
    plans = 0
    delay = limiter.delay

    def counted_delay(*, paced: bool = False) -> float:
        nonlocal plans
        plans += 1
        return delay(paced=paced)

    limiter.delay = counted_delay  # type: ignore[method-assign]
    group = group_of(limiter, clock)
    loop = asyncio.get_running_loop()
    timers: list[tuple[float, float]] = []  # the loop's own wake-up timers: (set at, delay)
    call_later = loop.call_later

    def recording_call_later(delay: float, callback: Any, *args: Any) -> asyncio.TimerHandle:
        if callback == group._wake.set:
            timers.append((clock.monotonic(), delay))
        return call_later(delay, callback, *args)

    monkeypatch.setattr(loop, "call_later", recording_call_later)
    first, second = ticket(), ticket()
    group.submit(first, BACKGROUND, None)
    group.submit(second, BACKGROUND, None)
    group.start()
    try:
        await asyncio.wait_for(first.future, 5)  # the static window's second point, at once
        planned = clock.monotonic() + delay(paced=True)  # the next window's opener
        assert planned > clock.monotonic() + 0.1
        plans = 0
        permit = await asyncio.wait_for(second.future, 5)
        assert isinstance(permit, Permit)
        assert permit.granted_at >= planned - 1e-6
        assert plans <= 5
        # The wait was one timer, set to fire a little before the instant; the last stretch
        # was not left to a timer (which fires up to a millisecond late).
        ends = [at + after for at, after in timers]
        assert ends[-1] == pytest.approx(planned - LimitGroup.SPIN_SECONDS, abs=1e-3)
        assert all(after > LimitGroup.SPIN_SECONDS / 2 for _, after in timers)
    finally:
        await group.close()
