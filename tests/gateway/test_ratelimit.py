"""The two-pool rate limiter: its model of the server's pools, header correction and 429 pauses,
checked on a manual clock (and against the simulator's own rate limiter as the server)."""

from __future__ import annotations

import heapq
import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flotilla.clock import ManualClock
from gateway.ratelimit import (
    RateLimitConfig,
    RateLimitHeaders,
    TwoPoolRateLimiter,
    parse_rate_limit_headers,
)
from simulator.config import SimulatorConfig
from simulator.ratelimit import RateLimiter as ServerRateLimiter

MARGIN = 0.005


def limiter(clock: ManualClock, **config: float) -> TwoPoolRateLimiter:
    return TwoPoolRateLimiter(RateLimitConfig(margin_seconds=MARGIN, **config), clock)  # type: ignore[arg-type]


def take(limiter: TwoPoolRateLimiter, *, paced: bool = False) -> str:
    permit = limiter.acquire(paced=paced)
    assert permit is not None, f"no permit; delay {limiter.delay(paced=paced)}"
    limiter.mark_sent(permit)
    return permit.pool


def test_the_static_pool_goes_first_then_the_burst_pool_then_nothing() -> None:
    clock = ManualClock(monotonic_start=1000.0)
    rl = limiter(clock)
    assert [take(rl) for _ in range(32)] == ["static"] * 2 + ["burst"] * 30
    assert rl.acquire() is None
    # Next point: the static pool refills one period (plus the margin) after its first use.
    assert rl.delay() == pytest.approx(1.0 + MARGIN)


def test_the_static_pool_refills_a_period_after_its_first_use_not_its_last() -> None:
    clock = ManualClock(monotonic_start=1000.0)
    rl = limiter(clock, burst=0)
    take(rl)
    clock.advance(0.9)
    take(rl)
    assert rl.delay() == pytest.approx(0.1 + MARGIN)
    clock.advance(0.1 + MARGIN)
    assert [take(rl), take(rl)] == ["static", "static"]


def test_the_burst_pool_refills_a_period_after_its_first_use() -> None:
    clock = ManualClock(monotonic_start=1000.0)
    rl = limiter(clock)
    take(rl)
    take(rl)
    take(rl)  # opens the burst window at 1000.0
    for _ in range(29):
        clock.advance(1.0 + MARGIN)
        assert [take(rl), take(rl), take(rl)] == ["static", "static", "burst"]
    assert rl.burst_remaining == 0 and rl.acquire() is None
    assert rl.burst_window_ends == pytest.approx(1000.0 + 60.0 + MARGIN)
    clock.advance_to(1000.0 + 60.0 + MARGIN)
    assert rl.burst_remaining == 30


def test_a_window_is_anchored_when_its_request_is_sent_not_when_granted() -> None:
    clock = ManualClock(monotonic_start=1000.0)
    rl = limiter(clock, burst=0)
    permit = rl.acquire()
    assert permit is not None and permit.opens_window
    clock.advance(0.3)  # the call took a while to reach the wire
    rl.mark_sent(permit)
    assert rl.static_window_ends == pytest.approx(1000.3 + 1.0 + MARGIN)


def test_paced_calls_leave_the_second_static_point_to_ship_actions_until_late() -> None:
    clock = ManualClock(monotonic_start=1000.0)
    rl = limiter(clock)
    assert take(rl, paced=True) == "static"
    # A low-priority call waits until 0.8 s into the window for the second point ...
    assert rl.delay(paced=True) == pytest.approx(0.8)
    # ... which an unpaced (ship) call may take at once.
    assert rl.delay(paced=False) == 0.0
    clock.advance(0.8)
    assert take(rl, paced=True) == "static"
    # With the static pool empty, the burst pool is there for anyone.
    assert rl.delay(paced=True) == 0.0
    assert take(rl, paced=True) == "burst"


def test_a_lower_remaining_in_the_headers_makes_the_model_spend_the_difference() -> None:
    clock = ManualClock(monotonic_start=1000.0)
    rl = limiter(clock)
    permit = rl.acquire()
    assert permit is not None
    rl.mark_sent(permit)
    # The model has 1 + 30 left; the server says 20 (someone else on our IP spent 11).
    rl.observe(permit, RateLimitHeaders(remaining=20, reset_after=1.0))
    assert rl.static_remaining + rl.burst_remaining == 20
    assert rl.corrections == 1
    # A higher remaining than the model is never trusted.
    permit = rl.acquire()
    assert permit is not None
    rl.observe(permit, RateLimitHeaders(remaining=30, reset_after=1.0))
    assert rl.static_remaining + rl.burst_remaining == 19


def test_the_reset_header_moves_a_window_out_when_the_server_stamped_the_request_later() -> None:
    clock = ManualClock(monotonic_start=1000.0)
    rl = limiter(clock, burst=0)
    permit = rl.acquire()
    assert permit is not None
    rl.mark_sent(permit)
    clock.advance(0.030)  # answered 30 ms later; the server counted it 25 ms after we sent it
    rl.observe(permit, RateLimitHeaders(remaining=1, reset_after=1.0 + 0.025 - 0.030))
    ends = rl.static_window_ends
    assert ends is not None and ends >= 1000.0 + 0.025 + 1.0


def test_nothing_left_at_the_server_holds_every_empty_pool_until_its_reset() -> None:
    clock = ManualClock(monotonic_start=1000.0)
    rl = limiter(clock)
    # A first exchange tells the limiter how the server's clock relates to ours.
    opener = rl.acquire()
    assert opener is not None
    rl.mark_sent(opener)
    clock.advance(0.001)
    rl.observe(opener, RateLimitHeaders(remaining=31, reset_after=0.9995))
    for _ in range(31):
        take(rl)
    assert rl.acquire() is None
    clock.advance(0.5)
    # The server says 0 left and its next refill is 0.6 s away: later than the model thought.
    rl.observe(opener, RateLimitHeaders(remaining=0, reset_after=0.6))
    assert rl.delay() == pytest.approx(0.6, abs=0.003)


def test_requests_on_the_wire_are_taken_off_what_the_server_said_it_had_left() -> None:
    clock = ManualClock(monotonic_start=1000.0)
    rl = limiter(clock)
    first = rl.acquire()
    assert first is not None
    rl.mark_sent(first)
    on_the_wire = [rl.acquire() for _ in range(5)]
    assert all(p is not None for p in on_the_wire)
    clock.advance(0.002)
    # Someone else spent 24 points: the server has 7 left after `first`.
    rl.observe(first, RateLimitHeaders(remaining=7, reset_after=0.998))
    assert rl.server_bound() == 7 - 5
    for _ in range(2):
        take(rl)
    assert rl.acquire() is None  # nothing more until the server's refill ...
    assert rl.delay() == pytest.approx(0.998, abs=0.003)
    for permit in on_the_wire:  # ... even as the answers come back
        assert permit is not None
        rl.settle(permit)
    assert rl.acquire() is None


def test_an_address_only_request_gives_up_the_rest_of_the_static_window() -> None:
    clock = ManualClock(monotonic_start=1000.0)
    rl = limiter(clock, burst=0)
    permit = rl.acquire()
    assert permit is not None
    rl.mark_sent(permit, address_only=True)
    assert rl.static_remaining == 0
    assert rl.delay() == pytest.approx(1.0 + MARGIN)


def test_a_429_pauses_everything_until_retry_after() -> None:
    clock = ManualClock(monotonic_start=1000.0)
    rl = limiter(clock)
    take(rl)
    pause = rl.on_rate_limited(RateLimitHeaders(remaining=0, retry_after=3.0, reset_after=2.5))
    assert pause == pytest.approx(3.0 + MARGIN)
    assert rl.acquire() is None and rl.acquire(paced=True) is None
    assert rl.delay() == pytest.approx(3.0 + MARGIN)
    clock.advance(3.0 + MARGIN)
    assert rl.delay() == 0.0
    assert rl.rate_limited == 1


def test_a_bare_html_429_pauses_for_the_default_and_leaves_the_pools_alone() -> None:
    clock = ManualClock(monotonic_start=1000.0)
    rl = limiter(clock, default_pause_seconds=2.0)
    take(rl)
    pause = rl.on_rate_limited(RateLimitHeaders())
    assert pause == pytest.approx(2.0 + MARGIN)
    assert rl.delay() == pytest.approx(2.0 + MARGIN)
    clock.advance(1.0)
    # A second, shorter pause does not shorten the running one.
    rl.pause(0.1)
    assert rl.delay() == pytest.approx(1.0 + MARGIN)
    clock.advance(1.0 + MARGIN)
    assert rl.burst_remaining == 30  # untouched


def test_headers_are_parsed_whatever_their_case_and_time_format() -> None:
    wall = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC).timestamp()
    reset = datetime(2025, 3, 1, 12, 0, 0, 750_000, tzinfo=UTC)
    headers = parse_rate_limit_headers(
        {
            "X-RateLimit-Type": "IP Address",
            "X-RateLimit-Limit-Per-Second": "2",
            "x-ratelimit-limit-burst": "30",
            "x-ratelimit-remaining": "7",
            "x-ratelimit-reset": reset.isoformat().replace("+00:00", "Z"),
            "Retry-After": "Sat, 01 Mar 2025 12:00:02 GMT",
        },
        wall,
    )
    assert headers.limit_type == "IP Address"
    assert (headers.limit_per_second, headers.limit_burst, headers.remaining) == (2, 30, 7)
    assert headers.reset_after == pytest.approx(0.75)
    assert headers.retry_after == pytest.approx(2.0)
    assert parse_rate_limit_headers({"retry-after": "1"}, wall).retry_after == 1.0
    assert parse_rate_limit_headers({"content-type": "text/html"}, wall).empty


def test_limits_in_the_headers_replace_the_configured_ones() -> None:
    clock = ManualClock(monotonic_start=1000.0)
    rl = limiter(clock)
    permit = rl.acquire()
    rl.observe(permit, RateLimitHeaders(limit_per_second=3, limit_burst=10))
    assert rl.static_remaining == 2 and rl.burst_remaining == 10


class _BothClocks:
    """The gateway's and the simulator's clocks moving together."""

    def __init__(self) -> None:
        self.gateway = ManualClock(monotonic_start=1000.0)
        self._start = datetime(2025, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self.gateway.monotonic())

    def monotonic(self) -> float:
        return self.gateway.monotonic()

    def time(self) -> float:
        return self.now().timestamp()


def _drive_against_the_server(
    *,
    minutes: float,
    latency_ms: float,
    in_flight: int,
    seed: int,
    tokenless_first: bool,
    paced: bool = False,
) -> tuple[int, int, float]:
    """Send through the model as fast as it allows, with up to `in_flight` requests on the
    wire, each reaching the simulator's rate limiter after its own random delay (so they can
    overtake each other); return (allowed, refused, allowed per minute)."""
    clocks = _BothClocks()
    clock = clocks.gateway
    server = ServerRateLimiter(SimulatorConfig(), clocks)
    rl = TwoPoolRateLimiter(RateLimitConfig(), clock)
    rng = random.Random(seed)
    wall_offset = clocks.now().timestamp() - clock.monotonic()
    events: list[tuple[float, int, str, Any]] = []
    order = itertools.count()
    on_wire = allowed = refused = 0
    first = True
    start = clock.monotonic()
    end = start + minutes * 60.0
    while clock.monotonic() < end:
        while on_wire < in_flight and rl.delay(paced=paced) == 0.0:
            permit = rl.acquire(paced=paced)
            assert permit is not None
            token = None if (first and tokenless_first) else "token"
            rl.mark_sent(permit, address_only=token is None)
            first = False
            there = rng.uniform(0.2, 1.0) * latency_ms / 1000
            back = rng.uniform(0.2, 1.0) * latency_ms / 1000
            when = clock.monotonic() + there
            heapq.heappush(events, (when, next(order), "arrive", (permit, token, back)))
            on_wire += 1
        next_permit = (
            clock.monotonic() + rl.delay(paced=paced) if on_wire < in_flight else float("inf")
        )
        next_event = events[0][0] if events else float("inf")
        clock.advance_to(min(next_permit, next_event))
        while events and events[0][0] <= clock.monotonic():
            _, _, kind, data = heapq.heappop(events)
            if kind == "arrive":
                permit, token, back = data
                decision = server.check("10.0.0.1", token)
                when = clock.monotonic() + back
                heapq.heappush(events, (when, next(order), "answer", (permit, decision)))
            else:
                permit, decision = data
                on_wire -= 1
                wall = clock.monotonic() + wall_offset
                headers = parse_rate_limit_headers(decision.headers(), wall)
                if decision.allowed:
                    allowed += 1
                    rl.observe(permit, headers)
                else:
                    refused += 1
                    rl.on_rate_limited(headers, permit)
    return allowed, refused, allowed / ((clock.monotonic() - start) / 60.0)


@pytest.mark.parametrize("latency_ms", [0.2, 3.0, 20.0])
@pytest.mark.parametrize("in_flight", [1, 8])
def test_against_the_servers_own_limiter_it_sustains_150_a_minute_without_a_429(
    latency_ms: float, in_flight: int
) -> None:
    """Ten simulated minutes against the simulator's rate limiter as the server: not one
    request refused, and at least 98% of the 150 a minute the limits allow."""
    _, refused, per_minute = _drive_against_the_server(
        minutes=10, latency_ms=latency_ms, in_flight=in_flight, seed=3, tokenless_first=False
    )
    assert refused == 0
    assert per_minute >= 0.98 * 150, per_minute


@pytest.mark.parametrize("latency_ms", [0.2, 3.0])
def test_paced_low_priority_traffic_alone_still_uses_the_whole_limit(latency_ms: float) -> None:
    """Holding points back for ship actions costs nothing when only low-priority calls are
    waiting: the static pool's second point is used late in its window, and the burst points
    kept back in the last seconds of theirs. (Thirty minutes, as the points of a burst window
    still held back when a run stops are not counted.)"""
    _, refused, per_minute = _drive_against_the_server(
        minutes=30, latency_ms=latency_ms, in_flight=8, seed=5, tokenless_first=True, paced=True
    )
    assert refused == 0
    assert per_minute >= 0.98 * 150, per_minute


@pytest.mark.parametrize("in_flight", [1, 8])
def test_a_slow_link_costs_some_rate_but_still_no_429(in_flight: int) -> None:
    """With up to 160 ms round trips the server's windows are placed less exactly (the model
    errs late), so a few percent of the rate go; refusals still do not happen."""
    _, refused, per_minute = _drive_against_the_server(
        minutes=10, latency_ms=80.0, in_flight=in_flight, seed=3, tokenless_first=False
    )
    assert refused == 0
    assert per_minute >= 0.93 * 150, per_minute


@pytest.mark.parametrize("seed", [1, 2, 3, 7])
@pytest.mark.parametrize("in_flight", [1, 2, 8])
def test_a_request_counted_only_on_the_address_does_not_lead_to_429s(
    seed: int, in_flight: int
) -> None:
    """Registering an agent spends a point of the address's pools but not the account's, so
    the server's two keys could open their windows at different times (the headers report
    only the tighter one); the model keeps them together."""
    _, refused, per_minute = _drive_against_the_server(
        minutes=4, latency_ms=20.0, in_flight=in_flight, seed=seed, tokenless_first=True
    )
    assert refused == 0
    assert per_minute >= 0.98 * 150, per_minute


def test_utilisation_is_the_last_minutes_requests_over_the_sustained_maximum() -> None:
    clock = ManualClock(monotonic_start=1000.0)
    rl = limiter(clock)
    for _ in range(30):
        take(rl)
        clock.advance(rl.delay())
    assert rl.utilisation() == pytest.approx(30 / 150)
    clock.advance(61)
    assert rl.utilisation() == 0.0
