"""Readiness of the API without I/O on the probe's path: recent traffic decides, and while it
is quiet, the latest TCP connect that the watch loop made."""

from __future__ import annotations

import asyncio

from flotilla.clock import ManualClock
from flotilla.local_servers import free_port
from gateway.upstream import UpstreamHealth


async def test_quiet_traffic_falls_back_to_the_latest_connect() -> None:
    clock = ManualClock()
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    health = UpstreamHealth(f"http://127.0.0.1:{port}/v2", clock)
    try:
        assert health.state() == (False, "not checked yet")
        assert await health.check() == (True, "reachable")
        assert health.state() == (True, "reachable")
        health.failed("ConnectError: refused")
        assert health.state() == (False, "ConnectError: refused")  # traffic wins while fresh
        health.answered()
        assert health.state() == (True, "answering")
        clock.advance(31)  # quiet again: the connect decides
        assert health.state() == (True, "reachable")
    finally:
        server.close()
        await server.wait_closed()


async def test_the_watch_records_an_unreachable_api_and_ends_on_stop() -> None:
    health = UpstreamHealth(f"http://127.0.0.1:{free_port()}/v2", ManualClock())
    stops: list[float] = []

    async def stopped_within(seconds: float) -> bool:
        stops.append(seconds)
        return len(stops) == 2  # the second wait is interrupted by a stop

    await asyncio.wait_for(health.watch(stopped_within, interval_seconds=5.0), 10)
    ok, detail = health.state()
    assert not ok and detail.startswith("cannot connect to 127.0.0.1")
    assert stops == [5.0, 5.0]
