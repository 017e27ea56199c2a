"""Where the gateway's agents come from: configured tokens, or — for a local run against the
simulator with nothing configured — an agent it registers at start and keeps only in memory."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flotilla.backoff import Backoff
from flotilla.kit import ServiceFailed
from flotilla.settings import env_name
from flotilla.v1.api_pb2 import ApiResult, CallOutcome
from gateway.core import Gateway
from gateway.settings import REAL_API, GatewaySettings

__all__ = [
    "REGISTER_BACKOFF",
    "AgentCredentials",
    "AgentSetupError",
    "add_configured_agents",
    "generated_symbol",
    "is_real_api",
    "register_agent",
    "resolve_symbol",
    "symbol_from_token",
]

log = logging.getLogger("gateway.agents")

# Waits between registration attempts while the API is not answering yet (in `flotilla up` the
# simulator may still be starting): 1 s, doubling, at most 30 s.
REGISTER_BACKOFF = Backoff(base_seconds=1.0, max_seconds=30.0)


class AgentSetupError(ServiceFailed):
    """An agent could not be set up and retrying will not help (e.g. a token was refused); the
    service stops with this one-line reason."""


@dataclass(frozen=True)
class AgentCredentials:
    """An agent's symbol and token, and the local address its requests leave from."""

    symbol: str
    token: str
    local_address: str = ""

    def __repr__(self) -> str:  # never print the token
        return f"AgentCredentials(symbol={self.symbol!r}, local_address={self.local_address!r})"


def symbol_from_token(token: str) -> str | None:
    """The agent symbol inside a SpaceTraders agent token (a JWT), without verifying it."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims: Any = json.loads(base64.urlsafe_b64decode(payload))
    except ValueError:
        return None
    if not isinstance(claims, dict):
        return None
    for key in ("identifier", "symbol", "agentSymbol", "sub"):
        value = claims.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def is_real_api(base_url: str) -> bool:
    """Whether `base_url` is the real game (its host), not a simulator or a local universe."""
    return urlsplit(base_url).hostname == urlsplit(REAL_API).hostname


def generated_symbol() -> str:
    """A fresh agent symbol for a local run, e.g. FLOT-3F9A2C (3 to 14 characters)."""
    return f"FLOT-{secrets.token_hex(3).upper()}"


def _data(result: ApiResult) -> dict[str, Any] | None:
    if result.outcome != CallOutcome.CALL_OUTCOME_COMPLETED or result.status >= 400:
        return None
    try:
        parsed = json.loads(result.json_body)
    except ValueError:
        return None
    data = parsed.get("data") if isinstance(parsed, dict) else None
    return data if isinstance(data, dict) else None


def _describe(result: ApiResult) -> str:
    return f"HTTP {result.status}, code {result.error_code}: {result.error_message or '?'}"


def _permanent(result: ApiResult) -> bool:
    """A refusal that retrying cannot fix (a 4xx other than 429)."""
    return (
        result.outcome == CallOutcome.CALL_OUTCOME_COMPLETED
        and 400 <= result.status < 500
        and result.status != 429
    )


async def resolve_symbol(gateway: Gateway, token: str, local_address: str = "") -> str:
    """Whose token this is: read from the token, else asked of the API (`GET /my/agent`)."""
    symbol = symbol_from_token(token)
    if symbol:
        return symbol
    result = await gateway.call_with_token(token, "GET", "/my/agent", local_address=local_address)
    data = _data(result)
    if data is None or not isinstance(data.get("symbol"), str):
        raise AgentSetupError(f"cannot tell which agent a token belongs to ({_describe(result)})")
    return str(data["symbol"])


def _unknown(result: ApiResult) -> bool:
    """The registration may have happened: the API may hold the agent (and its token)."""
    return result.outcome == CallOutcome.CALL_OUTCOME_UNKNOWN


async def register_agent(
    gateway: Gateway,
    *,
    symbol: str,
    faction: str,
    account_token: str | None,
    stopping: asyncio.Event,
    new_symbol: Callable[[], str] | None = None,
    backoff: Backoff = REGISTER_BACKOFF,
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> AgentCredentials | None:
    """Register a new agent (`POST /register`) and return its credentials.

    Keeps trying while the API is unreachable (in `flotilla up` the simulator may still be
    starting), waiting the capped exponential steps of `backoff`; a refusal (4xx) raises
    `AgentSetupError`. A registration whose outcome is unknown is never sent again with the same
    symbol: the agent may exist, a second `POST /register` would be refused (4111) and its token
    would be lost. With `new_symbol` the next attempt registers under the symbol it gives (a
    local universe, where agents cost nothing); without, `AgentSetupError` says what to do.
    Returns None if `stopping` is set first.
    """
    failures = 0
    while not stopping.is_set():
        body = json.dumps({"symbol": symbol, "faction": faction}).encode()
        result = await gateway.call_with_token(account_token, "POST", "/register", body=body)
        data = _data(result)
        if data is not None:
            token = data.get("token")
            agent = data.get("agent")
            registered = agent.get("symbol") if isinstance(agent, dict) else None
            if not isinstance(token, str) or not token:
                raise AgentSetupError("the registration answer carries no token")
            log.info("registered agent %s (token kept in memory only)", registered or symbol)
            return AgentCredentials(str(registered or symbol), token)
        if _permanent(result):
            raise AgentSetupError(f"registering agent {symbol} was refused ({_describe(result)})")
        if _unknown(result):
            if new_symbol is None:
                raise AgentSetupError(_unknown_registration_advice(gateway, symbol, result))
            abandoned, symbol = symbol, new_symbol()
            log.warning(
                "registering agent %s had an unknown outcome (%s); it may exist, so it is not "
                "registered again: registering %s instead",
                abandoned,
                _describe(result),
                symbol,
            )
            continue
        failures += 1
        # The steps without jitter: one gateway registering has no one to spread out from.
        wait = backoff.step(failures)
        log.warning(
            "registering agent %s failed (%s); trying again in %.1fs",
            symbol,
            _describe(result),
            wait,
        )
        pause = sleep or _interruptible_sleep(stopping)
        await pause(wait)
    return None


def _unknown_registration_advice(gateway: Gateway, symbol: str, result: ApiResult) -> str:
    token_env = env_name(GatewaySettings, "spacetraders", "token")
    symbol_env = env_name(GatewaySettings, "registration", "symbol")
    return (
        f"registering agent {symbol} at {gateway.admission.base_url} had an unknown outcome "
        f"({_describe(result)}) and is not sent again (a second registration would be refused "
        f"and the token lost): see whether the agent exists (GET /agents/{symbol}); if it "
        f"does, take its token from your account and set {token_env}, otherwise start again or "
        f"set {symbol_env} to another symbol"
    )


def _interruptible_sleep(stopping: asyncio.Event) -> Callable[[float], Awaitable[None]]:
    async def pause(seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await stopping.wait()

    return pause


async def add_configured_agents(
    gateway: Gateway, settings: GatewaySettings, stopping: asyncio.Event
) -> bool:
    """Give the gateway its agents: the configured tokens, or a freshly registered agent when
    none is configured (local run). False when asked to stop before one was ready."""
    api = settings.spacetraders
    addresses = settings.agent_local_addresses
    for symbol, token in api.agent_tokens.items():
        gateway.add_agent(symbol, token.get_secret_value(), local_address=addresses.get(symbol, ""))
    if api.token is not None:
        secret = api.token.get_secret_value()
        symbol = await resolve_symbol(gateway, secret)
        if symbol not in gateway.agents:
            gateway.add_agent(symbol, secret, local_address=addresses.get(symbol, ""))
    if gateway.agents:
        return True
    if not settings.registration.agent:
        raise AgentSetupError(
            f"no agent configured: set {env_name(GatewaySettings, 'spacetraders', 'token')} or "
            f"{env_name(GatewaySettings, 'spacetraders', 'agent_tokens')} (or leave "
            f"{env_name(GatewaySettings, 'registration', 'agent')} on to register one)"
        )
    account = api.account_token
    credentials = await register_agent(
        gateway,
        symbol=settings.registration.symbol or generated_symbol(),
        faction=settings.registration.faction,
        account_token=account.get_secret_value() if account is not None else None,
        stopping=stopping,
        # Agents of the real game are the account's; a local universe has plenty to spare.
        new_symbol=None if is_real_api(api.base_url) else generated_symbol,
    )
    if credentials is None:
        return False
    gateway.add_agent(credentials.symbol, credentials.token)
    return True
