"""The rate limit far from the server, over real HTTP: the gateway and the real simulator
(its rate limit on, latency on the way in and out with jitter) started through the kit on real
NATS. No 429 in steady state at 300±90 ms one way; a gateway started while another client has
spent the address's pools sends one request before its first answer and gets no 429 after it;
our wall clock stepping a second forward or back changes nothing."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from flotilla.clock import SystemClock
from gateway.service import SEAM_TRANSPORT_FACTORY
from gateway.upstream import default_transport

from .conftest import RunningGateway, gateway_service, gateway_settings, simulator, wait_until

pytestmark = pytest.mark.slow


def far(one_way_ms: float, jitter: float = 0.3) -> dict[str, Any]:
    """Simulator settings: the real rate limit, `one_way_ms` each way within ±`jitter`."""
    return {
        "rate_limit": {"enabled": True},
        "network": {
            "latency_in_ms": one_way_ms,
            "latency_in_jitter": jitter,
            "latency_out_ms": one_way_ms,
            "latency_out_jitter": jitter,
            "seed": 7,
        },
    }


@dataclass
class Wire:
    """Every request the gateway sends and every answer it gets, in order, over the real
    transport."""

    events: list[tuple[str, int]] = field(default_factory=list)

    def factory(self, limits: httpx.Limits, local_address: str | None) -> httpx.AsyncBaseTransport:
        return _Recording(self, default_transport(limits, local_address))

    def statuses(self) -> list[int]:
        return [status for kind, status in self.events if kind == "answer"]

    def sent_before_first_answer(self) -> int:
        sent = 0
        for kind, _ in self.events:
            if kind == "answer":
                return sent
            sent += 1
        return sent


class _Recording(httpx.AsyncBaseTransport):
    def __init__(self, wire: Wire, inner: httpx.AsyncBaseTransport) -> None:
        self._wire = wire
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._wire.events.append(("send", 0))
        try:
            response = await self._inner.handle_async_request(request)
        except httpx.HTTPError:
            self._wire.events.append(("answer", 0))
            raise
        self._wire.events.append(("answer", response.status_code))
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def rate_limited(running: RunningGateway) -> float:
    metric = running.metrics.rate_limited
    return float(sum(metric.labels(kind=k)._value.get() for k in ("headers", "bare")))


async def flood(running: RunningGateway, reads: int, *, within: float) -> int:
    """`reads` background reads at once; how many were answered within `within` seconds."""
    api = running.client(default_deadline_seconds=within + 30)
    agent = await api.get_agent()
    waypoint = agent.headquarters
    tasks = [asyncio.create_task(api.get_waypoint(waypoint)) for _ in range(reads)]
    done, pending = await asyncio.wait(tasks, timeout=within)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return sum(1 for t in done if t.exception() is None)


async def test_no_429_in_steady_state_at_300_ms_one_way(nats_url: str) -> None:
    """40 s of reads at 300±90 ms each way (the burst pool spent, then the static pool's
    windows placed from the answers): every answer a success."""
    wire = Wire()
    with simulator(**far(300.0)) as base_url:
        async with gateway_service(
            gateway_settings(nats_url, base_url), seams={SEAM_TRANSPORT_FACTORY: wire.factory}
        ) as running:
            answered = await flood(running, 200, within=40.0)
            refused = rate_limited(running)
    assert refused == 0 and 429 not in wire.statuses()
    # 30 burst points, then static windows placed cautiously (nothing left to absorb an
    # early arrival) until enough answers have been seen: well over a point a second.
    assert answered >= 60


async def test_a_gateway_started_on_spent_pools_probes_once_then_gets_no_429(
    nats_url: str,
) -> None:
    """A first gateway spends the address's pools and stops; a second one on the same address
    (another agent, so only the address's pools are spent) sends one request, waits for its
    answer, and is refused at most that once."""
    with simulator(**far(50.0)) as base_url:
        async with gateway_service(gateway_settings(nats_url, base_url)) as first:
            await flood(first, 34, within=30.0)
        wire = Wire()
        async with gateway_service(
            gateway_settings(nats_url, base_url), seams={SEAM_TRANSPORT_FACTORY: wire.factory}
        ) as second:
            answered = await flood(second, 20, within=30.0)
    statuses = wire.statuses()
    assert wire.sent_before_first_answer() == 1
    assert statuses.count(429) <= 1 and 429 not in statuses[1:]
    assert answered == 20


class SteppedClock(SystemClock):
    """The machine's clocks, with the wall clock stepped by `step` seconds once set."""

    def __init__(self) -> None:
        self.step = 0.0

    def time(self) -> float:
        return time.time() + self.step

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.step)


@pytest.mark.parametrize("step", [1.0, -1.0])
async def test_a_wall_clock_step_causes_no_429(nats_url: str, step: float) -> None:
    """The gateway's wall clock jumps by `step` while reads flow (the simulator keeps real
    time): windows are timed on the monotonic clock and server instants through what the
    answers taught, so nothing is refused."""
    clock = SteppedClock()
    wire = Wire()
    with simulator(**far(50.0)) as base_url:
        async with gateway_service(
            gateway_settings(nats_url, base_url),
            seams={SEAM_TRANSPORT_FACTORY: wire.factory},
            clock=clock,
        ) as running:
            api = running.client(default_deadline_seconds=60)
            waypoint = (await api.get_agent()).headquarters
            tasks = [asyncio.create_task(api.get_waypoint(waypoint)) for _ in range(90)]
            # Past the burst pool: the static pool's windows are being placed from answers.
            await wait_until(lambda: sum(t.done() for t in tasks) >= 40, within=30)
            clock.step = step
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=45)
            refused = rate_limited(running)
    assert refused == 0 and 429 not in wire.statuses()
