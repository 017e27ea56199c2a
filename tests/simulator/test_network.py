"""A server far away: latency on the way in (before the rate limit counts the request) and on
the way out, each with a seeded jitter, overlapping across requests in flight; a server clock
ahead of or behind the machine's; and `TCP_NODELAY` on every accepted connection, so that a
kept-alive request is not held back by a delayed ACK."""

from __future__ import annotations

import asyncio
import socket
import statistics
import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
import pytest

from flotilla.clock import ManualClock, SystemClock
from simulator.app import create_app
from simulator.config import NetworkSection, RateLimitSection, SimulatorConfig
from simulator.network import Delays, Network, ShiftedClock
from simulator.server import bind_socket, running_simulator_async
from simulator.views import iso

NO_LIMIT = RateLimitSection(enabled=False)


def _reset(response: httpx.Response) -> float:
    """The `x-ratelimit-reset` of `response`, in epoch seconds."""
    text = response.headers["x-ratelimit-reset"].replace("Z", "+00:00")
    return datetime.fromisoformat(text).timestamp()


def test_delays_are_reproducible_and_stay_within_their_jitter() -> None:
    section = NetworkSection(
        latency_in_ms=300, latency_in_jitter=0.3, latency_out_ms=100, latency_out_jitter=0.1, seed=7
    )
    network, again = Network(section), Network(section)
    draws = [network.draw() for _ in range(2000)]
    assert draws == [again.draw() for _ in range(2000)]
    inbound = [d.inbound for d in draws]
    outbound = [d.outbound for d in draws]
    assert 0.21 <= min(inbound) < 0.22 and 0.38 < max(inbound) <= 0.39
    assert 0.09 <= min(outbound) < 0.092 and 0.108 < max(outbound) <= 0.11
    assert abs(statistics.mean(inbound) - 0.3) < 0.01
    assert len(set(inbound)) == len(inbound)  # drawn, not fixed
    other_seed = Network(section.model_copy(update={"seed": 8}))
    assert [other_seed.draw() for _ in range(10)] != draws[:10]


def test_no_jitter_gives_the_mean_and_no_latency_none() -> None:
    fixed = Network(NetworkSection(latency_in_ms=50, latency_out_ms=20))
    assert {(d.inbound, d.outbound) for d in (fixed.draw() for _ in range(20))} == {(0.05, 0.02)}
    assert fixed.enabled
    none = Network(NetworkSection(latency_in_jitter=0.5))
    assert not none.enabled and none.draw().inbound == 0.0


async def test_the_way_in_is_spent_before_the_rate_limit_counts_the_request() -> None:
    # The static pool refills a period after the request was counted: at the server, after
    # the way in. Measured on the machine's clock, so a loaded machine only makes it later.
    config = SimulatorConfig(network=NetworkSection(latency_in_ms=400))
    app = create_app(config, SystemClock())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim.test/v2") as client:
        sent = time.time()
        response = await client.get("/")
    assert response.status_code == 200
    assert _reset(response) - sent >= 0.4 + 1.0 - 0.002  # iso() keeps milliseconds


async def test_a_busy_server_counts_a_request_when_its_way_in_ended() -> None:
    # The way in ends while the server's event loop is busy with something else (blocked
    # here for 300 ms): the request is counted at the end of its way in, as a real server's
    # network would deliver it, not whenever the loop gets round to it.
    config = SimulatorConfig(network=NetworkSection(latency_in_ms=50))
    app = create_app(config, SystemClock())
    on_its_way = asyncio.Event()
    draw = app.network.draw

    def drawing() -> Delays:
        on_its_way.set()
        return draw()

    app.network.draw = drawing  # type: ignore[method-assign]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim.test/v2") as client:
        sent = time.time()
        request = asyncio.create_task(client.get("/"))
        await asyncio.wait_for(on_its_way.wait(), 5)  # its way in has begun
        time.sleep(0.3)  # noqa: ASYNC251 -- the server's loop is busy past the end of the way in
        response = await request
    assert response.status_code == 200
    took = time.time() - sent
    assert took >= 0.3
    # Counted 50 ms after it was sent (and a little for the request's own handling), not
    # after the 300 ms the loop was blocked.
    assert _reset(response) - sent < 1.0 + 0.05 + 0.1


async def test_the_way_out_is_spent_after_the_answer_is_computed() -> None:
    config = SimulatorConfig(network=NetworkSection(latency_out_ms=400))
    app = create_app(config, SystemClock())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim.test/v2") as client:
        sent = time.time()
        response = await client.get("/")
        arrived = time.time()
    assert response.status_code == 200
    assert arrived - sent >= 0.4
    # Counted (and the reset placed) before the way out: the reset is less than a static
    # period after the answer arrived.
    assert _reset(response) <= arrived - 0.4 + 1.0 + 0.002


async def test_requests_in_flight_each_wait_their_own_delay_at_the_same_time() -> None:
    in_flight = 8
    config = SimulatorConfig(
        rate_limit=NO_LIMIT,
        network=NetworkSection(
            latency_in_ms=500, latency_in_jitter=0.3, latency_out_ms=500, latency_out_jitter=0.3
        ),
    )
    least = 2 * 0.5 * 0.7  # the shortest round trip the jitter allows
    limits = httpx.Limits(max_connections=in_flight)
    async with (
        running_simulator_async(config) as url,
        httpx.AsyncClient(base_url=url, limits=limits) as client,
    ):

        async def timed() -> float:
            started = time.monotonic()
            response = await client.get("/")
            assert response.status_code == 200
            return time.monotonic() - started

        started = time.monotonic()
        took = await asyncio.gather(*(timed() for _ in range(in_flight)))
        elapsed = time.monotonic() - started
    assert min(took) >= least - 0.005
    # One after the other they would take at least in_flight × least (5.6 s); together, about
    # one round trip (1 s).
    assert elapsed < in_flight * least / 2


async def test_the_server_clock_offset_shows_in_date_reset_and_game_timestamps(
    clock: ManualClock,
) -> None:
    offset = 5.0
    shifted = create_app(
        SimulatorConfig(network=NetworkSection(clock_offset_seconds=offset)), clock
    )
    plain = create_app(SimulatorConfig(), clock)
    answers: dict[str, httpx.Response] = {}
    for name, app in (("shifted", shifted), ("plain", plain)):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sim.test/v2") as c:
            answers[name] = await c.post("/register", json={"symbol": "FAR", "faction": "COSMIC"})
    assert {r.status_code for r in answers.values()} == {201}
    now = clock.now()
    assert parsedate_to_datetime(answers["shifted"].headers["date"]) == now + timedelta(seconds=5)
    assert parsedate_to_datetime(answers["plain"].headers["date"]) == now
    assert answers["shifted"].headers["x-ratelimit-reset"] == iso(now + timedelta(seconds=6))
    assert answers["plain"].headers["x-ratelimit-reset"] == iso(now + timedelta(seconds=1))
    deadlines = {
        name: datetime.fromisoformat(r.json()["data"]["contract"]["deadlineToAccept"])
        for name, r in answers.items()
    }
    assert deadlines["shifted"] - deadlines["plain"] == timedelta(seconds=offset)


def test_a_shifted_clock_moves_wall_time_but_not_intervals(clock: ManualClock) -> None:
    behind = ShiftedClock(clock, -5.0)
    assert behind.monotonic() == clock.monotonic()
    assert behind.time() == clock.time() - 5.0
    assert behind.now() == clock.now() - timedelta(seconds=5)
    clock.advance(2.0)
    assert behind.now().tzinfo == UTC and behind.now() == clock.now() - timedelta(seconds=5)


def test_the_listening_socket_says_it_is_tcp() -> None:
    # asyncio sets TCP_NODELAY only on connections whose socket has the TCP protocol number;
    # accepted connections inherit the listening socket's.
    sock = bind_socket()
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()


async def test_a_kept_alive_request_is_answered_in_a_few_milliseconds() -> None:
    # A behaviour check, not a benchmark: without TCP_NODELAY each answer on a kept-alive
    # connection waits for the client's delayed ACK (~40 ms); with it, about a millisecond.
    config = SimulatorConfig(rate_limit=NO_LIMIT)
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with (
        running_simulator_async(config) as url,
        httpx.AsyncClient(base_url=url, limits=limits) as client,
    ):
        await client.get("/")  # the connection is opened here, not measured
        took = []
        for _ in range(40):
            started = time.perf_counter()
            response = await client.get("/")
            took.append(time.perf_counter() - started)
            assert response.status_code == 200
    assert statistics.median(took) < 0.020, sorted(took)


@pytest.mark.parametrize("offset", [-5.0, 5.0])
async def test_a_served_simulator_dates_its_answers_on_its_own_clock(offset: float) -> None:
    config = SimulatorConfig(
        rate_limit=NO_LIMIT, network=NetworkSection(clock_offset_seconds=offset)
    )
    async with running_simulator_async(config) as url, httpx.AsyncClient(base_url=url) as client:
        before = datetime.now(UTC)
        response = await client.get("/")
        after = datetime.now(UTC)
    assert len(response.headers.get_list("date")) == 1  # uvicorn's own is switched off
    date = parsedate_to_datetime(response.headers["date"])  # whole seconds
    shift = timedelta(seconds=offset)
    assert before + shift - timedelta(seconds=1) <= date <= after + shift
