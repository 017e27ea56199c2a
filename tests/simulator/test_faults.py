"""Fault injection: 500s, 502s, bare HTML 429s, dropped connections and added latency."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from simulator.app import ConnectionDropped
from simulator.config import FaultSection, RateLimitSection, SimulatorConfig
from simulator.faults import Fault, FaultInjector
from simulator.server import running_simulator_async


async def test_a_500_is_a_json_error_counted_by_the_rate_limit(make_client: Any) -> None:
    client = make_client(SimulatorConfig(faults=FaultSection(error_500_rate=1.0)))
    response = await client.get("/systems")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == 500
    assert response.headers["x-ratelimit-remaining"] == "31"


async def test_a_502_comes_from_the_edge_as_html(make_client: Any) -> None:
    client = make_client(SimulatorConfig(faults=FaultSection(error_502_rate=1.0)))
    response = await client.get("/systems")
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert "x-ratelimit-remaining" not in response.headers


async def test_an_html_429_has_no_headers_to_go_by(make_client: Any) -> None:
    client = make_client(SimulatorConfig(faults=FaultSection(html_429_rate=1.0)))
    response = await client.get("/systems")
    assert response.status_code == 429
    assert response.text.startswith("<html>")
    assert "retry-after" not in response.headers
    assert not any(h.startswith("x-ratelimit") for h in response.headers)


async def test_a_dropped_connection_fails_in_process(make_client: Any) -> None:
    client = make_client(SimulatorConfig(faults=FaultSection(drop_rate=1.0)))
    with pytest.raises(ConnectionDropped):
        await client.get("/systems")


async def test_a_dropped_connection_gets_no_response_over_http() -> None:
    config = SimulatorConfig(
        faults=FaultSection(drop_rate=1.0), rate_limit=RateLimitSection(enabled=False)
    )
    async with running_simulator_async(config) as url, httpx.AsyncClient(base_url=url) as client:
        with pytest.raises(httpx.TransportError):
            await client.get("/systems")
        # The server itself is fine: paths outside /v2 are never faulted.
        health = await client.get(url.removesuffix("/v2") + "/health")
        assert health.status_code == 200


async def test_latency_is_added_to_every_response(make_client: Any) -> None:
    client = make_client(
        SimulatorConfig(
            faults=FaultSection(latency_ms=60), rate_limit=RateLimitSection(enabled=False)
        )
    )
    started = time.monotonic()
    await client.get("/")
    assert time.monotonic() - started >= 0.06


def test_fault_draws_are_reproducible_and_follow_the_rates() -> None:
    config = SimulatorConfig(
        faults=FaultSection(
            error_500_rate=0.1, error_502_rate=0.1, html_429_rate=0.1, drop_rate=0.1, seed=42
        )
    )
    injector, again = FaultInjector(config), FaultInjector(config)
    draws = [injector.draw() for _ in range(4000)]
    assert draws == [again.draw() for _ in range(4000)]
    for fault in (Fault.ERROR_500, Fault.ERROR_502, Fault.HTML_429, Fault.DROP):
        assert 300 < draws.count(fault) < 500
    assert 2200 < draws.count(Fault.NONE) < 2600


def test_fault_rates_cannot_add_up_to_more_than_one_and_the_error_names_them() -> None:
    with pytest.raises(ValueError) as refused:
        FaultSection(error_500_rate=0.6, drop_rate=0.6)
    message = str(refused.value)
    assert "add up to 1.2, more than 1" in message
    assert "FLOTILLA_SIMULATOR_FAULTS_ERROR_500_RATE (0.6)" in message
    assert "FLOTILLA_SIMULATOR_FAULTS_DROP_RATE (0.6)" in message
    assert "ERROR_502_RATE" not in message  # only the rates that were given


def test_fault_rates_may_add_up_to_exactly_one() -> None:
    faults = FaultSection(error_500_rate=0.2, error_502_rate=0.4, html_429_rate=0.3, drop_rate=0.1)
    assert sum(getattr(faults, name) for name in FaultSection.RATES) > 1  # in binary, barely
    assert Fault.NONE not in {
        FaultInjector(SimulatorConfig(faults=faults)).draw() for _ in range(200)
    }


async def test_faults_and_429s_are_counted_as_answered(make_client: Any) -> None:
    client = make_client(SimulatorConfig(faults=FaultSection(error_500_rate=1.0)))  # limit on
    statuses = [(await client.get("/systems")).status_code for _ in range(34)]
    assert statuses == [500] * 32 + [429] * 2  # a refused request never reaches the fault
    registry = client.app.metrics.registry.registry
    assert registry.get_sample_value("flotilla_simulator_faults_total", {"kind": "500"}) == 32
    assert (
        registry.get_sample_value(
            "flotilla_simulator_rate_limited_total", {"limit_type": "IP Address"}
        )
        == 2
    )
