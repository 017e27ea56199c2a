"""The two-pool rate limit: 429s with the official body and headers, and exactly 150 requests
per minute for a client that sends as fast as it is allowed."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from datetime import datetime
from typing import Any

import pytest

from flotilla.clock import ManualClock
from simulator.config import RateLimitSection, SimulatorConfig
from simulator.ratelimit import RateLimiter

RATE_HEADERS = (
    "x-ratelimit-type",
    "x-ratelimit-limit-burst",
    "x-ratelimit-limit-per-second",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
)


def test_a_sustained_client_gets_exactly_150_requests_per_minute() -> None:
    clock = ManualClock()
    limiter = RateLimiter(SimulatorConfig(), clock)
    per_minute: Counter[int] = Counter()
    step = 0.125  # exact in binary: no drift over ten simulated minutes
    while clock.monotonic() < 600:
        while limiter.check("10.0.0.1", "token").allowed:
            per_minute[int(clock.monotonic() // 60)] += 1
        clock.advance(step)
    assert [per_minute[m] for m in range(10)] == [150] * 10


def test_burst_is_only_spent_when_the_static_pool_is_empty() -> None:
    clock = ManualClock()
    limiter = RateLimiter(SimulatorConfig(), clock)
    first = limiter.check("a", None)
    assert first.remaining == 31
    limiter.check("a", None)
    clock.advance(1.0)  # the static pool refilled: no burst point was spent
    assert limiter.check("a", None).remaining == 31


def test_address_and_token_are_limited_separately_and_together() -> None:
    clock = ManualClock()
    limiter = RateLimiter(SimulatorConfig(rate_limit=RateLimitSection(burst=0)), clock)
    assert limiter.check("a", "t1").allowed and limiter.check("a", "t2").allowed
    refused = limiter.check("a", "t3")  # the address is spent, whatever the token
    assert not refused.allowed and refused.limit_type == "IP Address"
    clock.advance(1.0)
    assert limiter.check("b", "t1").allowed and limiter.check("c", "t1").allowed
    refused = limiter.check("d", "t1")  # the token is spent, whatever the address
    assert not refused.allowed and refused.limit_type == "Account"


async def test_exceeding_the_limit_answers_429_with_the_official_body_and_headers(
    make_client: Any, clock: ManualClock, api_document: Any
) -> None:
    client = make_client(SimulatorConfig(rate_limit=RateLimitSection(enabled=True)))
    statuses = []
    for _ in range(33):
        response = await client.get("/")
        statuses.append(response.status_code)
        for header in RATE_HEADERS:
            assert header in response.headers
    assert statuses == [200] * 32 + [429]
    api_document.validate("GET", "/", 429, response.content)
    error = response.json()["error"]
    assert error["code"] == 429
    assert error["data"]["type"] == "IP Address"
    assert error["data"]["limitBurst"] == 30 and error["data"]["limitPerSecond"] == 2
    assert error["data"]["remaining"] == 0
    retry_after = int(response.headers["retry-after"])
    assert retry_after == math.ceil(error["data"]["retryAfter"]) == 1
    reset = datetime.fromisoformat(response.headers["x-ratelimit-reset"].replace("Z", "+00:00"))
    assert 0 < (reset - clock.now()).total_seconds() <= 1
    clock.advance(retry_after)
    assert (await client.get("/")).status_code == 200


async def test_an_exhausted_burst_pool_asks_to_wait_for_its_refill(
    make_client: Any, clock: ManualClock
) -> None:
    client = make_client(SimulatorConfig(rate_limit=RateLimitSection(enabled=True)))
    for _ in range(32):
        await client.get("/")
    clock.advance(1.0)
    await client.get("/")
    await client.get("/")
    refused = await client.get("/")
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"  # the static pool comes back first
    assert refused.headers["x-ratelimit-remaining"] == "0"


async def test_no_rate_limit_means_no_429_and_no_headers(make_client: Any) -> None:
    client = make_client(SimulatorConfig(rate_limit=RateLimitSection(enabled=False)))
    for _ in range(50):
        response = await client.get("/")
        assert response.status_code == 200
    assert "x-ratelimit-remaining" not in response.headers


@pytest.mark.parametrize("limits", [(1, 5), (4, 0)])
def test_limits_are_configurable(limits: tuple[int, int]) -> None:
    static, burst = limits
    clock = ManualClock()
    limiter = RateLimiter(
        SimulatorConfig(rate_limit=RateLimitSection(static=static, burst=burst)), clock
    )
    allowed = 0
    while limiter.check("a", None).allowed:
        allowed += 1
    assert allowed == static + burst


async def test_a_sustained_client_of_the_api_gets_150_responses_per_simulated_minute(
    make_client: Any, clock: ManualClock, register: Any
) -> None:
    client = make_client(SimulatorConfig(rate_limit=RateLimitSection(enabled=True)))
    agent = await register(client)  # spends one point of the address, before minute 0
    clock.advance(60)
    start = clock.monotonic()
    per_minute: Counter[int] = Counter()
    while clock.monotonic() - start < 180:
        response = await client.get("/my/ships", headers=agent["headers"])
        if response.status_code == 200:
            per_minute[int((clock.monotonic() - start) // 60)] += 1
        else:
            assert response.status_code == 429
            clock.advance(0.25)
    assert [per_minute[m] for m in range(3)] == [150, 150, 150]


def test_each_burst_window_records_the_requests_of_one_whole_cycle() -> None:
    """A client that sends as fast as it may: a burst window opens every 60 s, when the first
    burst point goes, and each records the 150 requests allowed until the next opened (counted
    here on the client's side); a client that never needs a burst point opens none."""
    clock = ManualClock()
    limiter = RateLimiter(SimulatorConfig(), clock)
    allowed_at: list[float] = []
    step = 0.125
    for turn in itertools.count():
        if clock.monotonic() >= 200:
            break
        while limiter.check("10.0.0.1", "token").allowed:
            allowed_at.append(clock.monotonic())
        if turn % 4 == 0:  # two a second: never more than the static pool
            assert limiter.check("10.0.0.2", None).allowed
        clock.advance(step)
    windows = limiter.burst_windows("10.0.0.1")
    assert [w.opened_at for w in windows] == [0.0, 60.0, 120.0, 180.0]
    for window, following in itertools.pairwise(windows):
        counted = sum(1 for t in allowed_at if window.opened_at <= t < following.opened_at)
        assert window.requests == counted == 150
    assert limiter.burst_windows("10.0.0.2") == []
    assert limiter.burst_windows("10.0.0.3") == []  # never seen
    assert sorted(limiter.addresses()) == ["10.0.0.1", "10.0.0.2"]


def test_a_request_is_counted_when_it_arrived_not_when_the_server_got_round_to_it() -> None:
    """A simulated way in ends at an exact instant; a busy event loop checks the request
    later. The windows run from the arrival, the answer's reset says when on the wall clock,
    and a request checked after another is never counted before it."""
    clock = ManualClock(monotonic_start=10.0)
    limiter = RateLimiter(SimulatorConfig(), clock)
    first = limiter.check("a", None, arrived=9.95)  # checked 50 ms after it arrived
    assert first.allowed and first.remaining == 31
    assert limiter.pools("a").static_refills_at == pytest.approx(10.95)
    assert (first.reset - clock.now()).total_seconds() == pytest.approx(0.95)
    # Arrived even earlier by its draw, checked after the first: counted with it, not before.
    second = limiter.check("a", None, arrived=9.90)
    assert second.allowed and second.remaining == 30
    clock.advance(0.96)  # 10.96: the window that opened at 9.95 has ended
    third = limiter.check("a", None, arrived=10.951)
    assert third.remaining == 31  # a new static window, from its arrival: no burst point
    assert limiter.pools("a").static_refills_at == pytest.approx(11.951)
    # Without an arrival instant a request is counted when it is checked.
    clock.advance(1.0)
    limiter.check("a", None)
    assert limiter.pools("a").static_refills_at == pytest.approx(12.96)


async def test_the_admin_route_shows_how_each_address_spent_the_limit(
    make_client: Any, clock: ManualClock
) -> None:
    client = make_client(
        SimulatorConfig(rate_limit=RateLimitSection(enabled=True), admin_enabled=True)
    )
    statuses = Counter([(await client.get("/")).status_code for _ in range(40)])
    assert statuses == {200: 32, 429: 8}
    answer = await client.get("http://simulator.test/admin/rate-limit")
    assert answer.status_code == 200, answer.text
    (windows,) = answer.json()["data"]["addresses"].values()
    # The first two requests took the static pool; the window opened with the third.
    assert windows == [{"openedAt": clock.monotonic(), "requests": 30}]


async def test_the_rate_limit_route_is_refused_unless_the_admin_routes_are_on(
    make_client: Any,
) -> None:
    client = make_client(SimulatorConfig(rate_limit=RateLimitSection(enabled=True)))
    answer = await client.get("http://simulator.test/admin/rate-limit")
    assert answer.status_code == 403
    assert "FLOTILLA_SIMULATOR_ADMIN_ENABLED" in answer.json()["error"]["message"]
