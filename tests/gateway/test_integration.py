"""The gateway over real NATS in front of the real simulator: a fleet's calls end to end, a
cooldown call overtaking a flood of reads under the real rate limit, faults survived, and the
connection pool holding under 200 concurrent callers."""

from __future__ import annotations

import asyncio
import contextlib
import random
import statistics
from datetime import UTC, datetime
from typing import Any

import pytest

from flotilla.client import (
    ApiError,
    CallFailed,
    CooldownActive,
    NotInOrbit,
    OutcomeUnknown,
    ShipInTransit,
)
from flotilla.client.models import Ship
from flotilla.semconv import BACKGROUND
from flotilla.v1.api_pb2 import CallOutcome

from .conftest import gateway_service, gateway_settings, simulator, wait_until

# For tests that are not about the rate limit: the gateway's limiter out of the way.
NO_LIMIT: dict[str, Any] = {"static": 10_000, "burst": 0}


async def sleep_until(moment: datetime) -> None:
    """Sleep until a game instant the API reported (an arrival, a cooldown's end)."""
    await asyncio.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()) + 0.05)


def command_ship(ships: list[Ship]) -> Ship:
    return next(s for s in ships if s.registration.role == "COMMAND")


async def test_a_fleet_plays_through_the_client_end_to_end(nats_url: str) -> None:
    with simulator(time_scale=50) as base_url:
        async with gateway_service(
            gateway_settings(nats_url, base_url, rate_limit=NO_LIMIT)
        ) as running:
            api = running.client(default_deadline_seconds=30)
            agent = await api.get_agent()
            ships = await api.all_ships()
            ship = command_ship(ships)
            assert agent.symbol == running.agent and agent.ship_count == len(ships)

            with pytest.raises(NotInOrbit) as not_in_orbit:
                await api.extract(ship.symbol)
            assert not_in_orbit.value.code == 4236 and not_in_orbit.value.status == 400

            nav = await api.orbit(ship.symbol)
            assert nav.status == "IN_ORBIT"
            system = ship.nav.system_symbol
            asteroids = await api.list_waypoints(system, type="ENGINEERED_ASTEROID")
            target = asteroids.items[0].symbol
            flight = await api.navigate(ship.symbol, target)
            assert flight.nav.status == "IN_TRANSIT"
            assert flight.nav.route.destination.symbol == target

            with pytest.raises(ShipInTransit) as in_transit:
                await api.navigate(ship.symbol, ship.nav.waypoint_symbol)
            assert in_transit.value.arrival == flight.nav.route.arrival

            await sleep_until(flight.nav.route.arrival)
            extraction = await api.extract(ship.symbol)
            assert extraction.extraction.yield_.units >= 0
            assert extraction.cooldown.remaining_seconds > 0
            with pytest.raises(CooldownActive) as cooling:
                await api.extract(ship.symbol)
            assert cooling.value.expiration is not None and cooling.value.remaining_seconds > 0

            market = await api.get_market(ship.nav.waypoint_symbol)
            assert market.symbol == ship.nav.waypoint_symbol
            await running.request_log.wait_idle()
            logged = running.request_log.published
    # Every API call made one request-log event (registering the agent included).
    assert logged == 11


@pytest.mark.slow
@pytest.mark.parametrize(
    ("burst_reserve", "longest", "typical"),
    [
        # As deployed: reads leave most of the burst pool to ship actions, which go at once.
        (29, 0.45, 0.05),
        # Without that reserve: the flood takes every point as it comes, so a ship action
        # waits for the next static window (at worst a window, half of one typically).
        (0, 1.05, 0.7),
    ],
)
async def test_under_the_real_limit_a_cooldown_call_overtakes_a_flood_of_reads(
    nats_url: str, burst_reserve: int, longest: float, typical: float
) -> None:
    """With the simulator's real limits (2/s + 30/min) and ~150 background reads queued, each
    cooldown-starting call (sent at random moments, as ships come off cooldown) waits at most
    about one request slot (0.4 s at 2.5 requests/s), and nothing gets a 429."""
    rng = random.Random(4)
    with simulator(rate_limit={"enabled": True}, time_scale=50) as base_url:
        async with gateway_service(
            gateway_settings(nats_url, base_url, rate_limit={"burst_reserve": burst_reserve})
        ) as running:
            ship_api = running.client(default_deadline_seconds=60)
            ships = await ship_api.all_ships()
            ship = command_ship(ships)
            await ship_api.orbit(ship.symbol)
            flood_api = running.client(default_deadline_seconds=120)
            group = running.gateway.groups[0]
            flood = [
                asyncio.create_task(flood_api.get_market(ship.nav.waypoint_symbol))
                for _ in range(150)
            ]
            waits: list[float] = []
            try:
                # Once the burst pool is spent, reads queue up behind the static pool.
                await wait_until(lambda: group.scheduler.depth(BACKGROUND) >= 100, within=20)
                for _ in range(8):
                    await asyncio.sleep(rng.uniform(0.1, 0.9))  # the next ship is ready
                    with contextlib.suppress(ApiError):
                        # At a planet the game refuses to mine: the answer is not the point,
                        # the time the call waited for its request slot is.
                        await ship_api.extract(ship.symbol)
                    result = ship_api.last_result
                    assert result is not None
                    assert result.outcome == CallOutcome.CALL_OUTCOME_COMPLETED
                    waits.append(result.queued_ms / 1000)
                    assert group.scheduler.depth(BACKGROUND) >= 50  # the flood is still there
            finally:
                for task in flood:
                    task.cancel()
                await asyncio.gather(*flood, return_exceptions=True)
            rate_limited = running.metrics.rate_limited.labels(kind="headers")._value.get()
    assert max(waits) <= longest, waits
    assert statistics.median(waits) <= typical, waits
    assert rate_limited == 0


async def test_faults_from_the_simulator_are_survived_with_bounded_retries(
    nats_url: str,
) -> None:
    faults: dict[str, Any] = {
        "error_500_rate": 0.08,
        "error_502_rate": 0.08,
        "html_429_rate": 0.05,
        "drop_rate": 0.05,
        "latency_ms": 15,
        "seed": 11,
    }
    sections: dict[str, Any] = {
        "retry": {"base_delay_seconds": 0.01, "max_delay_seconds": 0.05},
        "rate_limit": {"default_pause_seconds": 0.05, **NO_LIMIT},
    }
    with simulator(faults=faults) as base_url:
        async with gateway_service(gateway_settings(nats_url, base_url, **sections)) as running:
            api = running.client(default_deadline_seconds=60)
            ships = None
            while ships is None:  # even the first listing may meet a fault
                with contextlib.suppress(CallFailed):
                    ships = await api.all_ships()
            ship = command_ship(ships)

            async def read(n: int) -> Any:
                if n % 3 == 0:
                    return await api.get_agent()
                if n % 3 == 1:
                    return await api.get_ship(ship.symbol)
                return await api.get_market(ship.nav.waypoint_symbol)

            reads = await asyncio.gather(*(read(n) for n in range(90)), return_exceptions=True)
            # Orbit and dock are idempotent (retried); a purchase is not (never repeated blindly).
            moves = await asyncio.gather(
                *(api.orbit(ship.symbol) for _ in range(10)), return_exceptions=True
            )
            writes: list[object] = []
            for _ in range(20):
                await_result: object
                try:
                    await_result = await api.refuel(ship.symbol)
                except Exception as exc:
                    await_result = exc
                writes.append(await_result)
            after = await api.get_agent()  # still serving
            retries = sum(
                running.metrics.retries.labels(reason=r)._value.get()
                for r in ("ambiguous", "not_sent", "rate_limited")
            )
            bare_429s = running.metrics.rate_limited.labels(kind="bare")._value.get()
    failed_reads = [r for r in reads if isinstance(r, Exception)]
    assert all(isinstance(r, CallFailed) for r in failed_reads), failed_reads
    assert len(failed_reads) <= 3
    assert all(isinstance(r, CallFailed) and r.attempts <= 4 + 5 for r in failed_reads)
    assert not [m for m in moves if isinstance(m, Exception) and not isinstance(m, CallFailed)]
    unknown = [w for w in writes if isinstance(w, OutcomeUnknown)]
    assert unknown, "some refuels should have met an ambiguous fault"
    assert all(w.attempts == 1 for w in unknown)
    assert retries > 10 and bare_429s > 0
    assert after.symbol == running.agent


async def test_two_hundred_concurrent_callers_never_overflow_the_connection_pool(
    nats_url: str,
) -> None:
    with simulator(faults={"latency_ms": 40}) as base_url:
        async with gateway_service(
            gateway_settings(nats_url, base_url, http={"max_in_flight": 8}, rate_limit=NO_LIMIT)
        ) as running:
            api = running.client(default_deadline_seconds=60)
            session = running.gateway.admission.session(running.agent)
            assert session is not None
            pool = session.client._transport._pool  # type: ignore[attr-defined]
            most_connections = 0
            done = asyncio.Event()

            async def watch_pool() -> None:
                nonlocal most_connections
                while not done.is_set():
                    most_connections = max(most_connections, len(pool.connections))
                    await asyncio.sleep(0.002)

            watcher = asyncio.create_task(watch_pool())
            try:
                agents = await asyncio.gather(*(api.get_agent() for _ in range(200)))
            finally:
                done.set()
                await watcher
            peak = running.gateway.groups[0].peak_in_flight
    assert len(agents) == 200 and {a.symbol for a in agents} == {running.agent}
    assert peak == 8  # the cap was reached and never passed
    assert 1 <= most_connections <= 8
