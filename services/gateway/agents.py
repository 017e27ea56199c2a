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

from flotilla.v1.api_pb2 import ApiResult, CallOutcome
from gateway.core import Gateway

log = logging.getLogger("gateway.agents")


class AgentSetupError(Exception):
    """An agent could not be set up and retrying will not help (e.g. a token was refused)."""


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


async def register_agent(
    gateway: Gateway,
    *,
    symbol: str,
    faction: str,
    account_token: str | None,
    stopping: asyncio.Event,
    retry_seconds: Callable[[int], float] = lambda n: min(30.0, 0.5 * 2.0 ** min(n, 6)),
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> AgentCredentials | None:
    """Register a new agent (`POST /register`) and return its credentials.

    Keeps trying while the API is unreachable (in `flotilla up` the simulator may still be
    starting); a refusal (4xx) raises `AgentSetupError`. Returns None if `stopping` is set
    first.
    """
    body = json.dumps({"symbol": symbol, "faction": faction}).encode()
    failures = 0
    while not stopping.is_set():
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
        failures += 1
        wait = retry_seconds(failures)
        log.warning(
            "registering agent %s failed (%s); trying again in %.1fs",
            symbol,
            _describe(result),
            wait,
        )
        pause = sleep or _interruptible_sleep(stopping)
        await pause(wait)
    return None


def _interruptible_sleep(stopping: asyncio.Event) -> Callable[[float], Awaitable[None]]:
    async def pause(seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await stopping.wait()

    return pause
