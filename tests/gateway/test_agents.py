"""Where agents come from: configured tokens (the symbol read from the token), or an agent the
gateway registers itself, retrying while the API is not up yet."""

from __future__ import annotations

import asyncio
import base64
import json

import httpx
import pytest

from flotilla.kit import ServiceFailed
from gateway.agents import (
    REGISTER_BACKOFF,
    AgentSetupError,
    add_configured_agents,
    register_agent,
    symbol_from_token,
)
from gateway.core import Gateway
from gateway.ratelimit import RateLimitConfig
from gateway.settings import GatewaySettings

from .conftest import FakeApi, fake_gateway, json_response


def jwt(claims: dict[str, object]) -> str:
    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256'})}.{part(claims)}.c2lnbmF0dXJl"


def test_the_agent_symbol_is_read_from_its_token() -> None:
    assert symbol_from_token(jwt({"identifier": "FLEET-7", "sub": "agent-token"})) == "FLEET-7"
    assert symbol_from_token("not-a-jwt") is None
    assert symbol_from_token("a.b.c") is None


async def test_registration_is_retried_until_the_api_answers(fake_api: FakeApi) -> None:
    answers = [
        httpx.Response(502, text="<html>Bad Gateway</html>"),
        httpx.ConnectError("refused"),
        json_response(201, {"data": {"token": "tok-1", "agent": {"symbol": "NEW-1"}}}),
    ]

    async def answer(request: httpx.Request) -> httpx.Response:
        assert "authorization" not in request.headers  # the simulator needs no account token
        assert json.loads(request.content) == {"symbol": "NEW-1", "faction": "COSMIC"}
        step = answers.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    fake_api.handler = answer
    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)

    # Each request without a token holds the static window (see the limiter): keep it short.
    quick = RateLimitConfig(static=100, static_period_seconds=0.05, burst=0)
    async with fake_gateway(fake_api, rate_limit=quick) as gateway:
        credentials = await register_agent(
            gateway,
            symbol="NEW-1",
            faction="COSMIC",
            account_token=None,
            stopping=asyncio.Event(),
            sleep=no_wait,
        )
    assert credentials is not None and credentials.symbol == "NEW-1"
    assert credentials.token == "tok-1" and "tok-1" not in repr(credentials)
    assert len(fake_api.requests) == 3
    # The 502 ended one registration (a write that may have happened is not repeated by the
    # call itself); the next one, after the backoff's first step, met the connect error and
    # was resent within the call.
    assert waits == [REGISTER_BACKOFF.step(1)] == [1.0]


async def test_a_refused_registration_stops_with_the_reason(fake_api: FakeApi) -> None:
    async def answer(request: httpx.Request) -> httpx.Response:
        return json_response(409, {"error": {"code": 4111, "message": "symbol taken"}})

    fake_api.handler = answer
    async with fake_gateway(fake_api) as gateway:
        with pytest.raises(AgentSetupError, match="symbol taken"):
            await register_agent(
                gateway,
                symbol="TAKEN",
                faction="COSMIC",
                account_token=None,
                stopping=asyncio.Event(),
            )


async def test_a_configured_token_adds_its_agent_without_a_request(fake_api: FakeApi) -> None:
    token = jwt({"identifier": "REAL-1"})
    settings = GatewaySettings(spacetraders={"token": token})  # type: ignore[arg-type]
    async with fake_gateway(fake_api) as gateway:
        assert await add_configured_agents(gateway, settings, asyncio.Event())
        agents = gateway.agents
    assert agents == ["AGENT-1", "REAL-1"]
    assert fake_api.requests == []


async def test_without_any_token_and_registration_off_the_gateway_refuses_to_start() -> None:
    settings = GatewaySettings(registration={"agent": False})  # type: ignore[arg-type]
    gateway = Gateway("https://api.test/v2")
    try:
        with pytest.raises(AgentSetupError, match="FLOTILLA_SPACETRADERS_TOKEN") as refused:
            await add_configured_agents(gateway, settings, asyncio.Event())
        # The kit ends the service with this one line, without a traceback.
        assert isinstance(refused.value, ServiceFailed)
    finally:
        await gateway.close()
