"""`flotilla simulator` as the kit runs it, started through `open_service` as in production: the
API on its own port, "http" ready while it serves, metrics of what clients got, time from the
injected clock, and one clear line when its port is taken."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from flotilla.clock import ManualClock
from flotilla.kit import ServiceFailed, open_service
from flotilla.settings import load_settings
from simulator.config import FaultSection, RateLimitSection, SimulatorConfig, SimulatorSettings
from simulator.declaration import SERVICE

WITHIN = 10.0


def _settings(config: SimulatorConfig | None = None, **overrides: Any) -> SimulatorSettings:
    """Settings for a simulator on free local ports (API and probes)."""
    return load_settings(
        SimulatorSettings,
        host="127.0.0.1",
        port=overrides.pop("port", 0),
        probes={"host": "127.0.0.1", "port": 0},
        config=config or SimulatorConfig(rate_limit=RateLimitSection(enabled=False)),
        **overrides,
    )


async def _eventually(probe: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait until `probe()` holds, failing after WITHIN seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WITHIN
    while not await probe():
        if loop.time() > deadline:
            raise AssertionError(f"{what}: not within {WITHIN}s")
        await asyncio.sleep(0.02)


async def _readiness(http: httpx.AsyncClient, probe_url: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def ready() -> bool:
        response = await http.get(f"{probe_url}/readyz")
        seen.update(response.json())
        return response.status_code == 200

    await _eventually(ready, "/readyz 200")
    return seen


def _samples(exposition: str, name: str) -> dict[frozenset[tuple[str, str]], float]:
    """Every sample of metric `name`, by its labels."""
    found: dict[frozenset[tuple[str, str]], float] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == name:
                found[frozenset(sample.labels.items())] = sample.value
    return found


async def _register(http: httpx.AsyncClient, url: str, symbol: str) -> dict[str, str]:
    response = await http.post(f"{url}/register", json={"symbol": symbol, "faction": "COSMIC"})
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['data']['token']}"}


async def test_the_api_is_served_and_ready_on_its_own_port_and_stops_with_the_service() -> None:
    async with open_service(SERVICE, _settings()) as running:
        url: str = running.exposed["url"]
        assert running.probe_url is not None
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v2")
        assert url.removesuffix("/v2") != running.probe_url  # probes are not on the API port
        async with httpx.AsyncClient(timeout=5) as http:
            ready = await _readiness(http, running.probe_url)
            assert ready["checks"] == {"http": f"ok: {url}"}
            status = await http.get(f"{url}/")
            assert status.status_code == 200
            assert status.json()["status"] == "SpaceTraders simulator is running."
            # The probe endpoint serves probes, not the game.
            assert (await http.get(f"{running.probe_url}/v2/")).status_code == 404
        await running.stop()
    async with httpx.AsyncClient(timeout=2) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"{url}/")


async def test_metrics_count_requests_by_route_template_and_status_and_the_agents() -> None:
    async with (
        open_service(SERVICE, _settings()) as running,
        httpx.AsyncClient(timeout=5) as http,
    ):
        url = running.exposed["url"]
        for symbol in ("ALPHA", "BRAVO"):
            headers = await _register(http, url, symbol)
        ships = await http.get(f"{url}/my/ships", headers=headers)
        ship = ships.json()["data"][0]["symbol"]
        assert (await http.get(f"{url}/my/ships/{ship}", headers=headers)).status_code == 200
        assert (await http.get(f"{url}/my/ships/NOPE-9", headers=headers)).status_code == 404
        assert (await http.get(f"{url}/no/such/route")).status_code == 404

        exposition = (await http.get(f"{running.probe_url}/metrics")).text
        requests = _samples(exposition, "flotilla_simulator_requests_total")

        def count(method: str, route: str, status: str) -> float:
            labels = {("method", method), ("route", route), ("status", status)}
            return requests.get(frozenset(labels), 0.0)

        assert count("POST", "/v2/register", "201") == 2
        assert count("GET", "/v2/my/ships", "200") == 1
        # One template for every ship symbol, whether it exists or not.
        assert count("GET", "/v2/my/ships/{ship_symbol}", "200") == 1
        assert count("GET", "/v2/my/ships/{ship_symbol}", "404") == 1
        assert count("GET", "none", "404") == 1
        assert _samples(exposition, "flotilla_simulator_agents") == {frozenset(): 2.0}
        assert _samples(exposition, "flotilla_simulator_ships") == {frozenset(): 4.0}


async def test_429s_of_the_rate_limit_are_counted_and_it_runs_on_the_injected_clock() -> None:
    clock = ManualClock()
    config = SimulatorConfig(rate_limit=RateLimitSection(static=2, burst=3))
    async with (
        open_service(SERVICE, _settings(config), clock=clock) as running,
        httpx.AsyncClient(timeout=5) as http,
    ):
        url = running.exposed["url"]
        statuses = [(await http.get(f"{url}/")).status_code for _ in range(7)]
        assert statuses == [200] * 5 + [429] * 2
        clock.advance(1.0)  # the static pool refills on the service's clock, not the machine's
        assert (await http.get(f"{url}/")).status_code == 200
        exposition = (await http.get(f"{running.probe_url}/metrics")).text
        limited = _samples(exposition, "flotilla_simulator_rate_limited_total")
        assert limited == {frozenset({("limit_type", "IP Address")}): 2.0}
        requests = _samples(exposition, "flotilla_simulator_requests_total")
        assert requests[frozenset({("method", "GET"), ("route", "none"), ("status", "429")})] == 2


async def test_game_time_comes_from_the_injected_clock() -> None:
    clock = ManualClock()
    async with (
        open_service(SERVICE, _settings(), clock=clock) as running,
        httpx.AsyncClient(timeout=5) as http,
    ):
        url = running.exposed["url"]
        headers = await _register(http, url, "CLOCKED")
        ships = (await http.get(f"{url}/my/ships", headers=headers)).json()["data"]
        assert ships[0]["nav"]["route"]["arrival"].startswith("2025-01-01T00:00:00")
        status = (await http.get(f"{url}/")).json()
        assert status["serverResets"]["next"].startswith("2025-01-08T00:00:00")


async def test_injected_faults_are_counted_by_kind() -> None:
    config = SimulatorConfig(
        rate_limit=RateLimitSection(enabled=False),
        faults=FaultSection(error_502_rate=0.5, error_500_rate=0.5, seed=3),
    )
    async with (
        open_service(SERVICE, _settings(config)) as running,
        httpx.AsyncClient(timeout=5) as http,
    ):
        url = running.exposed["url"]
        statuses = [(await http.get(f"{url}/")).status_code for _ in range(40)]
        exposition = (await http.get(f"{running.probe_url}/metrics")).text
        faults = _samples(exposition, "flotilla_simulator_faults_total")
        assert faults[frozenset({("kind", "502")})] == statuses.count(502)
        assert faults[frozenset({("kind", "500")})] == statuses.count(500)
        assert statuses.count(502) + statuses.count(500) == 40
        assert 0 < statuses.count(502) < 40


async def test_a_taken_port_is_one_line_naming_the_variable() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServiceFailed) as failed:
            async with open_service(SERVICE, _settings(port=port)) as running:
                await running.task
    message = str(failed.value)
    assert f"cannot listen on 127.0.0.1:{port}" in message
    assert "FLOTILLA_SIMULATOR_PORT" in message
    assert "\n" not in message
