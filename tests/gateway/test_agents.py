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
    is_real_api,
    register_agent,
    symbol_from_token,
)
from gateway.core import Gateway
from gateway.ratelimit import RateLimitConfig
from gateway.settings import GatewaySettings

from .conftest import FAKE_API, FAST_RETRIES, FakeApi, fake_gateway, json_response


def jwt(claims: dict[str, object]) -> str:
    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256'})}.{part(claims)}.c2lnbmF0dXJl"


def test_the_agent_symbol_is_read_from_its_token() -> None:
    assert symbol_from_token(jwt({"identifier": "FLEET-7", "sub": "agent-token"})) == "FLEET-7"
    assert symbol_from_token("not-a-jwt") is None
    assert symbol_from_token("a.b.c") is None


# Each request without a token holds the static window (see the limiter): keep it short.
QUICK = RateLimitConfig(static=100, static_period_seconds=0.05, burst=0)


def registered(symbol: str, token: str) -> httpx.Response:
    return json_response(201, {"data": {"token": token, "agent": {"symbol": symbol}}})


def scripted(fake_api: FakeApi, answers: list[httpx.Response | Exception]) -> list[str]:
    """Answer the registrations with `answers` in turn; the symbols asked for, in order."""
    symbols: list[str] = []

    async def answer(request: httpx.Request) -> httpx.Response:
        assert "authorization" not in request.headers  # the simulator needs no account token
        body = json.loads(request.content)
        assert body["faction"] == "COSMIC"
        symbols.append(body["symbol"])
        step = answers.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    fake_api.handler = answer
    return symbols


class Waits:
    """A sleep that records the waits instead of waiting."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


async def test_registration_is_retried_with_the_same_symbol_while_it_was_never_sent(
    fake_api: FakeApi,
) -> None:
    # Connection refused every time: the first call gives up after its bounded attempts
    # (FAILED: nothing reached the API), the next one, a backoff step later, succeeds.
    refused = [httpx.ConnectError("refused")] * 4
    symbols = scripted(fake_api, [*refused, registered("NEW-1", "tok-1")])
    waits = Waits()
    async with fake_gateway(fake_api, rate_limit=QUICK) as gateway:
        credentials = await register_agent(
            gateway,
            symbol="NEW-1",
            faction="COSMIC",
            account_token=None,
            stopping=asyncio.Event(),
            new_symbol=lambda: "OTHER-1",
            sleep=waits,
        )
    assert credentials is not None and credentials.symbol == "NEW-1"
    assert credentials.token == "tok-1" and "tok-1" not in repr(credentials)
    assert symbols == ["NEW-1"] * 5
    assert waits.seconds == [REGISTER_BACKOFF.step(1)] == [1.0]


@pytest.mark.parametrize(
    "lost",
    [
        httpx.Response(502, text="<html>Bad Gateway</html>"),
        httpx.Response(504, text="<html>Gateway Time-out</html>"),
        httpx.Response(524, text="<html>A timeout occurred</html>"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
    ],
    ids=["502", "504", "524", "read-timeout", "dropped"],
)
async def test_after_an_unknown_outcome_the_local_run_registers_under_a_new_symbol(
    fake_api: FakeApi, lost: httpx.Response | Exception
) -> None:
    # Were NEW-1 sent again, this fake (like the API) would answer 4111 and the token of the
    # agent just registered would be lost.
    taken = json_response(409, {"error": {"code": 4111, "message": "symbol taken"}})
    symbols = scripted(fake_api, [lost, registered("FRESH-2", "tok-2"), taken])
    waits = Waits()
    async with fake_gateway(fake_api, rate_limit=QUICK) as gateway:
        credentials = await register_agent(
            gateway,
            symbol="NEW-1",
            faction="COSMIC",
            account_token=None,
            stopping=asyncio.Event(),
            new_symbol=lambda: "FRESH-2",
            sleep=waits,
        )
    assert credentials is not None and credentials.symbol == "FRESH-2"
    assert credentials.token == "tok-2"
    assert symbols == ["NEW-1", "FRESH-2"]  # NEW-1 sent once, never again
    assert waits.seconds == []  # a new symbol needs no wait


async def test_against_the_real_api_an_unknown_outcome_stops_with_what_to_do(
    fake_api: FakeApi,
) -> None:
    symbols = scripted(fake_api, [httpx.Response(504, text="<html>Gateway Time-out</html>")])
    async with fake_gateway(fake_api, rate_limit=QUICK) as gateway:
        with pytest.raises(AgentSetupError) as stopped:
            await register_agent(
                gateway,
                symbol="MINE-1",
                faction="COSMIC",
                account_token=None,
                stopping=asyncio.Event(),
                new_symbol=None,
            )
    assert symbols == ["MINE-1"]
    message = str(stopped.value)
    assert "\n" not in message
    assert "unknown outcome" in message and "HTTP 504" in message
    assert "GET /agents/MINE-1" in message
    assert "FLOTILLA_SPACETRADERS_TOKEN" in message
    assert "FLOTILLA_GATEWAY_REGISTER_SYMBOL" in message


def test_only_the_real_api_keeps_registrations_to_the_symbol_asked_for() -> None:
    assert is_real_api("https://api.spacetraders.io/v2")
    assert is_real_api("https://api.spacetraders.io/v2/")
    assert not is_real_api("http://127.0.0.1:8811/v2")
    assert not is_real_api("https://api.test/v2")


async def test_a_configured_gateway_on_the_real_api_does_not_change_the_symbol(
    fake_api: FakeApi,
) -> None:
    """`add_configured_agents` decides from the API address: the real game stops."""
    symbols = scripted(fake_api, [httpx.ReadTimeout("slow")])
    settings = GatewaySettings(
        spacetraders={"base_url": "https://api.spacetraders.io/v2"},  # type: ignore[arg-type]
        registration={"symbol": "MINE-1"},  # type: ignore[arg-type]
    )
    # A gateway with no agent yet (as at start), in front of the fake.
    gateway = Gateway(
        FAKE_API,
        rate_limit=QUICK,
        retry=FAST_RETRIES,
        transport_factory=fake_api.transport_factory,
    )
    try:
        with pytest.raises(AgentSetupError, match="unknown outcome"):
            await add_configured_agents(gateway, settings, asyncio.Event())
    finally:
        await gateway.close()
    assert symbols == ["MINE-1"]


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
