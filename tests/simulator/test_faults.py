"""Fault injection: 500s, 502s, bare HTML 429s, dropped connections and added latency before
the action; 500s, 502s, 504s and dropped connections after it."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from flotilla.kit import open_service
from flotilla.settings import load_settings
from simulator.app import ConnectionDropped
from simulator.config import FaultSection, RateLimitSection, SimulatorConfig, SimulatorSettings
from simulator.declaration import SERVICE
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


# -- faults after the action: it ran, its answer is lost


def _agents(client: Any) -> set[str]:
    return set(client.app.game.agents)


async def _join(client: httpx.AsyncClient, symbol: str) -> httpx.Response:
    return await client.post("/register", json={"symbol": symbol, "faction": "COSMIC"})


def _sample(client: Any, name: str, labels: dict[str, str]) -> float | None:
    value: float | None = client.app.metrics.registry.registry.get_sample_value(name, labels)
    return value


async def test_an_after_action_500_answers_json_once_the_action_ran(make_client: Any) -> None:
    client = make_client(SimulatorConfig(faults=FaultSection(after_error_500_rate=1.0)))
    response = await _join(client, "LOST-500")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == 500
    assert response.headers["x-ratelimit-remaining"] == "31"  # the rate limit counted it
    assert _agents(client) == {"LOST-500"}  # registered all the same
    again = await _join(client, "LOST-500")
    assert again.status_code == 500  # the retry ran too: the symbol was taken (its answer lost)
    assert _agents(client) == {"LOST-500"}


@pytest.mark.parametrize(
    ("status", "rate"), [(502, "after_error_502_rate"), (504, "after_error_504_rate")]
)
async def test_an_after_action_edge_error_is_html_once_the_action_ran(
    make_client: Any, status: int, rate: str
) -> None:
    client = make_client(SimulatorConfig(faults=FaultSection.model_validate({rate: 1.0})))
    response = await _join(client, "LOST-EDGE")
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert str(status) in response.text
    assert not any(h.startswith("x-ratelimit") for h in response.headers)
    assert _agents(client) == {"LOST-EDGE"}


async def test_an_after_action_drop_fails_in_process_once_the_action_ran(make_client: Any) -> None:
    client = make_client(SimulatorConfig(faults=FaultSection(after_drop_rate=1.0)))
    with pytest.raises(ConnectionDropped):
        await _join(client, "LOST-DROP")
    assert _agents(client) == {"LOST-DROP"}


async def test_an_after_action_drop_gets_no_response_over_http_once_the_action_ran() -> None:
    settings = load_settings(
        SimulatorSettings,
        port=0,
        probes={"port": 0},
        config={"rate_limit": {"enabled": False}, "faults": {"after_drop_rate": 1.0}},
    )
    async with open_service(SERVICE, settings) as running:
        url = running.exposed["url"]
        async with httpx.AsyncClient(base_url=url) as client:
            for symbol in ("LOST-WIRE", "LOST-WIRE-2"):
                with pytest.raises(httpx.TransportError):
                    await _join(client, symbol)
            health = await client.get(url.removesuffix("/v2") + "/health")
        game = running.exposed["app"].game
    assert health.status_code == 200
    assert set(game.agents) == {"LOST-WIRE", "LOST-WIRE-2"}  # applied, never answered


async def test_after_action_faults_are_counted_by_kind_and_by_route(make_client: Any) -> None:
    client = make_client(
        SimulatorConfig(
            rate_limit=RateLimitSection(enabled=False),
            faults=FaultSection(
                after_error_500_rate=0.25,
                after_error_502_rate=0.25,
                after_error_504_rate=0.25,
                after_drop_rate=0.25,
                seed=5,
            ),
        )
    )
    statuses: list[int | str] = []
    for n in range(40):
        try:
            statuses.append((await _join(client, f"COUNT-{n}")).status_code)
        except ConnectionDropped:
            statuses.append("dropped")
    assert len(_agents(client)) == 40  # every action ran
    for kind, status in (("after-500", 500), ("after-502", 502), ("after-504", 504)):
        count = statuses.count(status)
        assert count > 0
        assert _sample(client, "flotilla_simulator_faults_total", {"kind": kind}) == count
        labels = {"method": "POST", "route": "/v2/register", "status": str(status)}
        assert _sample(client, "flotilla_simulator_requests_total", labels) == count
    dropped = statuses.count("dropped")
    assert dropped > 0
    assert _sample(client, "flotilla_simulator_faults_total", {"kind": "after-drop"}) == dropped
    labels = {"method": "POST", "route": "/v2/register", "status": "dropped"}
    assert _sample(client, "flotilla_simulator_requests_total", labels) == dropped


def test_after_action_draws_follow_their_rates_beside_the_faults_before() -> None:
    config = SimulatorConfig(
        faults=FaultSection(
            error_500_rate=0.1,
            after_error_500_rate=0.1,
            after_error_504_rate=0.1,
            after_drop_rate=0.1,
            seed=3,
        )
    )
    injector = FaultInjector(config)
    draws = [injector.draw() for _ in range(4000)]
    for fault in (Fault.ERROR_500, Fault.AFTER_ERROR_500, Fault.AFTER_ERROR_504, Fault.AFTER_DROP):
        assert 300 < draws.count(fault) < 500
    assert Fault.AFTER_ERROR_502 not in draws
    assert {f for f in draws if f.after_action} == {
        Fault.AFTER_ERROR_500,
        Fault.AFTER_ERROR_504,
        Fault.AFTER_DROP,
    }


def test_after_action_rates_count_toward_the_limit_of_one() -> None:
    with pytest.raises(ValueError) as refused:
        FaultSection(drop_rate=0.5, after_drop_rate=0.3, after_error_504_rate=0.3)
    message = str(refused.value)
    assert "FLOTILLA_SIMULATOR_FAULTS_AFTER_DROP_RATE (0.3)" in message
    assert "FLOTILLA_SIMULATOR_FAULTS_AFTER_ERROR_504_RATE (0.3)" in message
