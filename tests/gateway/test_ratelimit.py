"""The two-pool rate limiter: the probe that places it, 429 pauses and header parsing on a
manual clock, and whole runs against the simulator's own rate limiter as the server (an
independent model of the API's pools), reached through a far link: latency each way with
jitter, a server clock offset, our wall clock stepping, pools spent before we start."""

from __future__ import annotations

import heapq
import itertools
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flotilla.clock import ManualClock
from gateway.ratelimit import (
    ArrivalEstimate,
    RateLimitConfig,
    RateLimitHeaders,
    TwoPoolRateLimiter,
    parse_rate_limit_headers,
)
from simulator.config import SimulatorConfig
from simulator.ratelimit import RateLimiter as ServerRateLimiter

MARGIN = 0.003
START = datetime(2025, 1, 1, tzinfo=UTC)


def limiter(clock: ManualClock, **config: Any) -> TwoPoolRateLimiter:
    return TwoPoolRateLimiter(RateLimitConfig(margin_seconds=MARGIN, **config), clock)


def answer(remaining: int, reset_in: float, clock: ManualClock) -> RateLimitHeaders:
    """Headers of an answer whose server (on our clock) refills `reset_in` from now."""
    reset = clock.now() + timedelta(seconds=reset_in)
    return parse_rate_limit_headers(
        {"x-ratelimit-remaining": str(remaining), "x-ratelimit-reset": reset.isoformat()},
        clock.time(),
    )


def probed(clock: ManualClock, remaining: int | None, reset_in: float) -> TwoPoolRateLimiter:
    """A limiter whose probe, sent 0.1 s ago, left the server `remaining` points in a static
    window ending `reset_in` from now (None: answered without rate-limit headers)."""
    rl = limiter(clock)
    probe = rl.acquire()
    assert probe is not None and probe.probe
    rl.mark_sent(probe)
    clock.advance(0.1)
    headers = RateLimitHeaders() if remaining is None else answer(remaining, reset_in, clock)
    rl.observe(probe, headers)
    return rl


def placed(clock: ManualClock, reset_in: float) -> TwoPoolRateLimiter:
    """A limiter whose probe found fresh pools (1 static + 30 burst left)."""
    return probed(clock, 31, reset_in)


def test_until_an_answer_places_the_model_one_request_goes_and_nothing_else() -> None:
    """A gateway that starts knows nothing of the server's pools (another client may have
    spent them): it sends one probe and waits for its answer."""
    clock = ManualClock(monotonic_start=1000.0)
    rl = limiter(clock)
    probe = rl.acquire()
    assert probe is not None and probe.probe and rl.probing
    rl.mark_sent(probe)
    assert rl.acquire() is None and rl.delay() > 0
    clock.advance(0.2)
    rl.observe(probe, answer(31, 0.9, clock))  # fresh pools: 1 static + 30 burst left
    assert not rl.probing
    granted = [rl.acquire() for _ in range(31)]
    assert all(p is not None for p in granted[:27])  # the buffer of 4 is kept back
    assert granted[-1] is None


def test_a_reset_the_frontier_did_not_plan_is_no_burst_refill_while_the_pool_is_full() -> None:
    """An answer whose reset fits no window the model planned looks like the burst pool's
    refill; with `remaining` at the burst limit the pool was full, so the model must not take
    it for the end of a burst window (it would refill its pool early and over-spend)."""
    clock = ManualClock(monotonic_start=1000.0)
    rl = placed(clock, 0.9)
    permit = rl.acquire()
    assert permit is not None and permit.pool == "static"
    rl.mark_sent(permit)
    clock.advance(0.1)
    rl.observe(permit, answer(30, 0.3, clock))  # before the frontier's end, pool full
    assert rl.burst_window_ends is None
    assert rl.burst_remaining == 30


def test_planning_on_our_clock_ends_with_the_first_answer_that_has_headers() -> None:
    """A probe answered without rate-limit headers (by the API itself) sets the model on our
    own clock with the configured limits. The first answer with headers says where the
    server's windows are: the model starts again from it, as from a probe's answer, counting
    the requests still on the wire against the server's pools."""
    clock = ManualClock(monotonic_start=1000.0)
    rl = probed(clock, None, 0.0)
    assert rl.estimate.known and rl.estimate.sure == pytest.approx(0.0)  # our clock
    on_the_wire = [rl.acquire() for _ in range(4)]
    assert all(p is not None for p in on_the_wire)
    for permit in on_the_wire:
        assert permit is not None
        rl.mark_sent(permit)
    clock.advance(0.1)
    first = on_the_wire[0]
    assert first is not None
    rl.observe(first, answer(25, 0.4, clock))  # the server's clock, far from ours
    # The earliest arrival estimated from this answer alone: it arrived before the reset.
    # (Mixed with what was learned on our clock, the estimate would fall to its sure bound,
    # a static period lower, and stay there for hundreds of answers.)
    reset = clock.time() + 0.4
    assert rl.estimate.low == pytest.approx(reset + 0.001 - first.granted_at, abs=0.002)
    assert rl.burst_remaining == 25 - 1 - 3  # less the three still on the wire
    assert rl.static_remaining == 0
    assert rl.burst_window_ends is not None


def test_a_probe_that_may_have_found_the_burst_pool_full_bounds_no_burst_window() -> None:
    """`remaining` 30 after the probe is 1 static + 29 burst (a burst window open, ending
    within a burst period of the probe) or 0 + 30 (the probe took a window's second point;
    the burst window opens later, with our first burst point, and ends later). The model
    counts 29 points and takes no end from the probe: assuming the first, it would refill
    its pool a little before the server does and send burst points into a spent pool."""
    clock = ManualClock(monotonic_start=1000.0)
    rl = probed(clock, 30, 0.5)
    assert rl.burst_remaining == 29
    assert rl.burst_window_ends is None
    # With fewer, the burst window surely opened before the probe arrived: it ends a burst
    # period after the probe's static window at the latest.
    other = probed(clock, 29, 0.5)
    assert other.burst_remaining == 28
    assert other.burst_window_ends == pytest.approx(clock.time() + 0.5 + 60.0, abs=0.002)


def test_a_probe_refused_pauses_until_retry_after_then_probes_again() -> None:
    clock = ManualClock(monotonic_start=1000.0)
    rl = limiter(clock)
    probe = rl.acquire()
    assert probe is not None
    rl.mark_sent(probe)
    clock.advance(0.1)
    pause = rl.on_rate_limited(RateLimitHeaders(remaining=0, retry_after=3.0), probe)
    assert pause == pytest.approx(3.0 + MARGIN)
    assert rl.acquire() is None and rl.acquire(paced=True) is None
    assert rl.delay() == pytest.approx(3.0 + MARGIN)
    clock.advance(3.0 + MARGIN)
    again = rl.acquire()
    assert again is not None and again.probe
    assert rl.acquire() is None
    assert rl.rate_limited == 1


def test_a_bare_html_429_pauses_for_the_default() -> None:
    clock = ManualClock(monotonic_start=1000.0)
    rl = limiter(clock, default_pause_seconds=2.0)
    pause = rl.on_rate_limited(RateLimitHeaders())
    assert pause == pytest.approx(2.0 + MARGIN)
    assert rl.delay() == pytest.approx(2.0 + MARGIN)
    clock.advance(1.0)
    rl.pause(0.1)  # a second, shorter pause does not shorten the running one
    assert rl.delay() == pytest.approx(1.0 + MARGIN)


def test_a_429_with_only_a_reset_pauses_until_it_on_the_servers_clock_not_ours() -> None:
    """The reset is an instant of the server's clock: the pause is measured from what the
    answers taught about that clock, so our wall clock being 5 s behind changes nothing."""
    clock = ManualClock(monotonic_start=1000.0)
    rl = placed(clock, 0.95)
    permit = rl.acquire()
    assert permit is not None
    rl.mark_sent(permit)
    clock.advance(0.1)
    reset = clock.now() + timedelta(seconds=1.5)
    ours_behind = clock.time() - 5.0
    headers = parse_rate_limit_headers(
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset.isoformat()}, ours_behind
    )
    pause = rl.on_rate_limited(headers, permit)
    assert 1.5 <= pause <= 1.5 + 0.2 + 2 * MARGIN  # at most a round trip late, never early


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
    assert headers.reset_at == pytest.approx(reset.timestamp())
    assert headers.reset_after == pytest.approx(0.75)
    assert headers.retry_after == pytest.approx(2.0)
    assert parse_rate_limit_headers({"retry-after": "1"}, wall).retry_after == 1.0
    assert parse_rate_limit_headers({"content-type": "text/html"}, wall).empty


def test_limits_in_the_headers_replace_the_configured_ones() -> None:
    clock = ManualClock(monotonic_start=1000.0)
    rl = limiter(clock)
    permit = rl.acquire()
    rl.observe(permit, RateLimitHeaders(limit_per_second=3, limit_burst=10))
    assert rl.burst_remaining == 10


def test_the_arrival_estimate_follows_every_answer_it_learns() -> None:
    """What the estimate says is kept between answers (the model asks several times per
    decision) and follows each new answer at once."""
    est = ArrivalEstimate(1.0)
    # Sent at 10.0, answered at 10.2, counted in a window ending at 10.9 (server clock).
    est.learn(10.0, 10.2, 10.9, static=True)
    readings = (est.sure, est.low, est.aim, est.spread, est.opener_spread)
    assert readings == (est.sure, est.low, est.aim, est.spread, est.opener_spread)
    assert est.spread == pytest.approx(0.3 * 0.2 + 0.002)
    assert est.sure == pytest.approx(10.9 - 1.0 - 10.2)
    # A slower round trip widens the spread; a later window's opener, sent at 20.0 and
    # answered at 20.6, lifts the lower bound.
    est.learn(20.0, 20.6, 21.0, static=True)
    assert est.spread == pytest.approx(0.6 - 0.2 + 0.002)
    assert est.sure == pytest.approx(max(10.9 - 1.0 - 10.2, 21.0 - 1.0 - 20.6))
    assert est.opener_spread == pytest.approx(abs((21.0 - 1.0 - 20.0) - (10.9 - 1.0 - 10.0)))
    est.learn_lower(30.0, 30.0)  # a bound from a 429: arrived no earlier than received
    assert est.sure == 0.0 and est.low >= 0.0


# --- whole runs against the simulator's limiter, through a far link -------------------------


class _ServerClock:
    """The simulator's clock: the same monotonic time as ours, its wall clock `offset` ahead."""

    def __init__(self, ours: ManualClock, offset: float) -> None:
        self._ours = ours
        self._offset = offset

    def monotonic(self) -> float:
        return self._ours.monotonic()

    def now(self) -> datetime:
        return START + timedelta(seconds=self._ours.monotonic() + self._offset)

    def time(self) -> float:
        return self.now().timestamp()


@dataclass
class Run:
    """What a run against the server came to."""

    allowed: int
    refused: int
    per_minute: float
    sent_before_first_answer: int
    refused_after_first_answer: int
    # Burst points the server counted in each of its burst windows, in order (the server's
    # own pool, read after every request: the oracle is not the model).
    burst_windows: list[int]
    # How long after each burst window ended the next one opened (the server's clock).
    burst_gaps: list[float]
    # When each burst window opened, and each static window with how long after the one
    # before it ended.
    burst_opened: list[float]
    static_gaps: list[tuple[float, float]]


def drive(
    *,
    minutes: float,
    latency: float,
    jitter: float = 0.3,
    in_flight: int = 8,
    seed: int = 1,
    server_offset: float = 0.0,
    wall_step: tuple[float, float] | None = None,
    spent: bool = False,
    paced: bool = False,
    tokenless_first: bool = False,
    lost: float = 0.0,
) -> Run:
    """Send through the model as fast as it allows, with up to `in_flight` requests on the
    wire. Each reaches the simulator's rate limiter `latency` × (1 ± `jitter`) seconds after it
    was sent and its answer comes back as long again (each drawn on its own, so requests
    overtake each other). The server's wall clock is `server_offset` ahead; ours steps by
    `wall_step[1]` seconds at `wall_step[0]` into the run (the limiter reads only the headers'
    instants, so this reaches it only through `parse_rate_limit_headers`). `spent`: another
    client emptied both pools just before the start. `lost`: the fraction of allowed requests
    whose answer is lost after the server counted them (a proxy's 502 or 504 in the API's
    place, or a dropped connection)."""
    clock = ManualClock(START, monotonic_start=1000.0)
    server = ServerRateLimiter(SimulatorConfig(), _ServerClock(clock, server_offset))
    if spent:
        for _ in range(40):
            server.check("10.0.0.1", "token")
    rl = TwoPoolRateLimiter(RateLimitConfig(), clock)
    rng = random.Random(seed)
    events: list[tuple[float, int, str, Any]] = []
    order = itertools.count()
    on_wire = allowed = refused = sent_before = refused_after = 0
    burst_windows: list[int] = []
    burst_gaps: list[float] = []
    burst_opened: list[float] = []
    static_gaps: list[tuple[float, float]] = []
    window: float | None = None
    static_end: float | None = None
    answered = False
    skew = 0.0
    first = True
    start = clock.monotonic()
    end = start + minutes * 60.0

    def way() -> float:
        return latency * (1 + rng.uniform(-jitter, jitter))

    while clock.monotonic() < end:
        while on_wire < in_flight and rl.delay(paced=paced) == 0.0:
            permit = rl.acquire(paced=paced)
            assert permit is not None
            token = None if (first and tokenless_first) else "token"
            rl.mark_sent(permit, address_only=token is None)
            first = False
            sent_before += not answered
            heapq.heappush(events, (clock.monotonic() + way(), next(order), "in", (permit, token)))
            on_wire += 1
        next_permit = (
            clock.monotonic() + rl.delay(paced=paced) if on_wire < in_flight else float("inf")
        )
        clock.advance_to(min(next_permit, events[0][0] if events else float("inf")))
        if wall_step is not None and clock.monotonic() - start >= wall_step[0]:
            skew += wall_step[1]
            wall_step = None
        while events and events[0][0] <= clock.monotonic():
            _, _, kind, data = heapq.heappop(events)
            if kind == "in":
                permit, token = data
                burst_before = server.pools("10.0.0.1").burst
                decision = server.check("10.0.0.1", token)
                pools = server.pools("10.0.0.1")
                burst_after, refill_at = pools.burst, pools.burst_refills_at
                now = clock.monotonic()
                if pools.static_refills_at is not None and pools.static_refills_at != static_end:
                    if static_end is not None:  # this request opened a static window
                        static_gaps.append((now, now - static_end))
                    static_end = pools.static_refills_at
                if refill_at is not None and refill_at != window:
                    if window is not None:
                        burst_gaps.append(now - window)
                    burst_opened.append(now)
                    window = refill_at  # this request opened a burst window
                    burst_windows.append(server.limits.burst - burst_after)
                elif refill_at is not None and burst_after < burst_before:
                    burst_windows[-1] += burst_before - burst_after
                heapq.heappush(
                    events, (clock.monotonic() + way(), next(order), "out", (permit, decision))
                )
                continue
            permit, decision = data
            on_wire -= 1
            headers = parse_rate_limit_headers(decision.headers(), clock.time() + skew)
            if decision.allowed:
                allowed += 1
                if lost and rng.random() < lost:
                    rl.settle(permit)  # what the gateway does with a proxy's answer or none
                    continue
                rl.observe(permit, headers)
            else:
                refused += 1
                refused_after += answered
                rl.on_rate_limited(headers, permit)
            answered = True
    return Run(
        allowed,
        refused,
        allowed / ((clock.monotonic() - start) / 60.0),
        sent_before,
        refused_after,
        burst_windows,
        burst_gaps,
        burst_opened,
        static_gaps,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("latency", "least"),
    # One way; measured (10 minutes, seeds 1-2): about 149.6, 149.4, 147.0-147.3, 142.0 and
    # 138.3-139.1 a minute (see the README on how close any sender can get far away).
    [(0.0002, 149.0), (0.02, 149.0), (0.1, 146.8), (0.3, 141.5), (0.4, 137.8)],
)
@pytest.mark.parametrize("seed", [1, 2])
def test_far_from_the_server_it_spends_the_limit_without_a_429(
    latency: float, least: float, seed: int
) -> None:
    """Ten minutes at one-way latencies of 0.2 ms to 400 ms, each way ±30 %, eight requests
    in flight: not one request refused, and the rate the model reaches at that distance."""
    run = drive(minutes=10, latency=latency, seed=seed)
    assert run.refused == 0
    assert run.per_minute >= least, run.per_minute


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_far_from_the_server_windows_before_a_burst_refill_open_close_to_the_others(
    seed: int,
) -> None:
    """With the burst pool spent nothing absorbs an early arrival, so the static windows
    around a burst refill are planned cautiously; at 300±90 ms one way the caution costs
    little: those windows open on average no more than 100 ms after their predecessors end
    (the others about 65 ms; planned from the round trips' spread, as the model once did,
    110-140 ms), read from the server's own pools."""
    run = drive(minutes=10, latency=0.3, seed=seed)
    assert run.refused == 0
    near: list[float] = []
    elsewhere: list[float] = []
    for opened, gap in run.static_gaps:
        close = any(abs(opened - burst) < 3.0 for burst in run.burst_opened)
        (near if close else elsewhere).append(gap)
    assert len(near) >= 40, len(near)
    assert sum(near) / len(near) <= 0.100, sum(near) / len(near)
    assert sum(elsewhere) / len(elsewhere) <= 0.070, sum(elsewhere) / len(elsewhere)


@pytest.mark.slow
@pytest.mark.parametrize(("latency", "least"), [(0.02, 30), (0.1, 30), (0.3, 28)])
@pytest.mark.parametrize("seed", [3, 4])
def test_far_from_the_server_every_burst_window_is_spent(
    latency: float, least: int, seed: int
) -> None:
    """The points kept against early arrivals are spent before the burst pool refills, and
    answers that overtake each other cost none: the server counts all 30 in every burst
    window (the last is cut short by the end of the run). At 300 ms one way a point kept for
    an opener still on the wire is now and then left over when it arrived in time."""
    run = drive(minutes=5, latency=latency, seed=seed)
    assert run.refused == 0
    complete = run.burst_windows[:-1]
    assert len(complete) >= 4, run.burst_windows
    assert min(complete) >= least, run.burst_windows
    assert sum(complete) >= 30 * len(complete) - 2, run.burst_windows


@pytest.mark.slow
@pytest.mark.parametrize("latency", [0.02, 0.1, 0.3])
@pytest.mark.parametrize("seed", [1, 2])
def test_answers_lost_after_the_server_counted_them_lead_to_no_429(
    latency: float, seed: int
) -> None:
    """One answer in ten lost after the server counted the request (a proxy answered in the
    API's place, or the connection dropped), the probe's included (seed 2 loses it, and then
    the second probe takes a window's second point): not one request refused, and little of
    the limit lost."""
    run = drive(minutes=10, latency=latency, seed=seed, lost=0.1)
    assert run.refused == 0
    # Measured: 149.4 and 149.0, 146.8 and 146.8, 141.4 and 142.0 a minute.
    assert run.per_minute >= {0.02: 148.5, 0.1: 146.3, 0.3: 140.8}[latency], run.per_minute


@pytest.mark.slow
@pytest.mark.parametrize("offset", [5.0, -5.0])
def test_a_server_clock_five_seconds_off_changes_nothing(offset: float) -> None:
    run = drive(minutes=3, latency=0.1, server_offset=offset)
    assert run.refused == 0
    assert run.per_minute >= 144.0, run.per_minute


@pytest.mark.slow
@pytest.mark.parametrize("step", [2.0, -2.0, 1.0, -1.0])
def test_our_wall_clock_stepping_changes_nothing(step: float) -> None:
    run = drive(minutes=2, latency=0.1, wall_step=(30.0, step))
    assert run.refused == 0
    assert run.per_minute >= 144.0, run.per_minute


@pytest.mark.slow
@pytest.mark.parametrize("latency", [0.02, 0.05, 0.1, 0.3])
@pytest.mark.parametrize("seed", [1, 10, 15])
def test_starting_on_spent_pools_costs_at_most_the_probe(latency: float, seed: int) -> None:
    """Another client emptied both pools: one request goes before the first answer, it is
    the only one refused, and nothing after it. (The other client's burst window ends a
    minute later, while the model's is bounded from the probe's answer: at 50 ms, seeds 10
    and 15 once refilled the model's pool at that bound, after the server's pool had
    refilled and our requests had opened a new window, and got a 429.)"""
    run = drive(minutes=2, latency=latency, seed=seed, spent=True)
    assert run.sent_before_first_answer == 1
    assert run.refused <= 1 and run.refused_after_first_answer == 0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("latency", "share"), [(0.0002, 0.98), (0.02, 0.98), (0.1, 0.975), (0.3, 0.94)]
)
def test_background_reads_alone_spend_the_points_kept_for_ship_actions(
    latency: float, share: float
) -> None:
    """Paced calls leave most of the burst pool to ship actions until its last seconds; with
    no ship action coming, they still spend it: 98 % of 150 a minute nearby, as much as
    unpaced calls far away (about 147 and 142 a minute at 100 and 300 ms one way)."""
    run = drive(minutes=10, latency=latency, paced=True)
    assert run.refused == 0
    assert run.per_minute >= share * 150, run.per_minute


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("in_flight", [1, 2, 8])
def test_a_request_counted_only_on_the_address_does_not_lead_to_429s(
    seed: int, in_flight: int
) -> None:
    """Registering an agent spends a point of the address's pools but not the account's, so
    the server's two keys could open their windows at different times (the headers report
    only the tighter one); the model keeps them together."""
    run = drive(minutes=4, latency=0.02, in_flight=in_flight, seed=seed, tokenless_first=True)
    assert run.refused == 0
    assert run.per_minute >= 0.96 * 150, run.per_minute


def test_utilisation_is_the_last_minutes_requests_over_the_sustained_maximum() -> None:
    clock = ManualClock(monotonic_start=1000.0)
    rl = limiter(clock)
    for _ in range(30):
        permit = rl.acquire()
        assert permit is not None
        rl.mark_sent(permit)
        rl.observe(permit, answer(31, 0.99, clock))
    assert rl.utilisation() == pytest.approx(30 / 150)
    clock.advance(61)
    assert rl.utilisation() == 0.0
