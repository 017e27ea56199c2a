"""No write is applied twice when the API did what was asked and its answer was lost: ships
bought, cargo purchased and sold through the gateway against the real simulator over real HTTP,
with answers replaced by 500, 502, 504, 524, a dropped or reset connection or a timeout after
the action ran, and the simulator's own state (read directly, not through the gateway) as the
count of what was applied."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any

import httpx

from flotilla.client import CallError, OutcomeUnknown
from gateway.service import SEAM_TRANSPORT_FACTORY
from gateway.upstream import default_transport

from .conftest import gateway_service, gateway_settings, simulator

# For tests that are not about the rate limit: the gateway's limiter out of the way.
NO_LIMIT: dict[str, Any] = {"static": 10_000, "burst": 0}
FAST_RETRIES: dict[str, Any] = {"base_delay_seconds": 0.01, "max_delay_seconds": 0.05}

SHIPS_TO_BUY = 12
UNITS_TO_TRADE = 20
LOST_SHARE = 0.35


def _lost_answer(kind: str, request: httpx.Request) -> httpx.Response:
    """What reaches the gateway instead of the API's answer."""
    if kind == "dropped":
        raise httpx.RemoteProtocolError(
            "Server disconnected without sending a response.", request=request
        )
    if kind == "reset":
        raise httpx.ReadError("[Errno 104] Connection reset by peer", request=request)
    if kind == "timeout":
        raise httpx.ReadTimeout("timed out", request=request)
    if kind == "500":
        return httpx.Response(500, json={"error": {"code": 500, "message": "internal error"}})
    return httpx.Response(int(kind), text=f"<html><body>{kind}</body></html>")


@dataclass
class LostAnswers:
    """Lets every request reach the simulator over real HTTP, then throws away the answer of a
    seeded share of the writes (after the action ran) and puts a failure in its place.

    This stands in for the simulator's own "fault after the action" settings until they are
    available; the simulator still applies every request it receives exactly as it would.
    """

    rng: random.Random
    share: float = LOST_SHARE
    enabled: bool = False
    writes_forwarded: int = 0
    lost: dict[str, int] = field(default_factory=dict)
    kinds: tuple[str, ...] = ("500", "502", "504", "524", "dropped", "reset", "timeout")

    def factory(self, limits: httpx.Limits, local_address: str | None) -> httpx.AsyncBaseTransport:
        return _LosingTransport(self, default_transport(limits, local_address))


class _LosingTransport(httpx.AsyncBaseTransport):
    def __init__(self, faults: LostAnswers, inner: httpx.AsyncBaseTransport) -> None:
        self._faults = faults
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        faults = self._faults
        if not faults.enabled or request.method == "GET":
            return response
        faults.writes_forwarded += 1
        if faults.rng.random() >= faults.share:
            return response
        await response.aread()  # the action ran; its answer never arrives
        await response.aclose()
        kind = faults.rng.choice(faults.kinds)
        faults.lost[kind] = faults.lost.get(kind, 0) + 1
        return _lost_answer(kind, request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@dataclass
class Tally:
    """How the calls of one kind ended for the caller."""

    answered: int = 0
    unknown: int = 0
    other: list[BaseException] = field(default_factory=list)

    def add(self, ended: object) -> None:
        if isinstance(ended, OutcomeUnknown):
            self.unknown += 1
        elif isinstance(ended, BaseException):
            self.other.append(ended)
        else:
            self.answered += 1


async def _tally(calls: list[Any]) -> Tally:
    tally = Tally()
    for ended in await asyncio.gather(*calls, return_exceptions=True):
        tally.add(ended)
    return tally


async def _in_turn(calls: list[Any]) -> Tally:
    """One ship's actions one after the other, as a ship's behaviour sends them."""
    tally = Tally()
    for coroutine in calls:
        try:
            tally.add(await coroutine)
        except CallError as exc:
            tally.add(exc)
    return tally


async def test_no_ship_purchase_or_sale_is_applied_twice_when_answers_are_lost(
    nats_url: str,
) -> None:
    with simulator(starting_credits=5_000_000) as base_url:
        # The oracle reads the simulator directly, with the agent's own token.
        async with httpx.AsyncClient(base_url=base_url) as direct:
            joined = await direct.post("/register", json={"symbol": "ONCE-1", "faction": "COSMIC"})
            data = joined.json()["data"]
            direct.headers["Authorization"] = f"Bearer {data['token']}"
            command, satellite = (s["symbol"] for s in data["ships"])
            yard = data["ships"][1]["nav"]["waypointSymbol"]  # the satellite starts at the yard

            faults = LostAnswers(random.Random(23))
            settings = gateway_settings(
                nats_url,
                base_url,
                spacetraders={"agent_tokens": {"ONCE-1": data["token"]}},
                rate_limit=NO_LIMIT,
                retry=FAST_RETRIES,
            )
            seams = {SEAM_TRANSPORT_FACTORY: faults.factory}
            async with gateway_service(settings, seams=seams) as running:
                api = running.client(default_deadline_seconds=30)
                faults.enabled = True
                ships = await _tally(
                    [api.buy_ship("SHIP_PROBE", yard) for _ in range(SHIPS_TO_BUY)]
                )
                bought = (await direct.get("/my/ships", params={"limit": 20})).json()
                purchases = await _in_turn(
                    [api.purchase(command, "FUEL", 1) for _ in range(UNITS_TO_TRADE)]
                )
                held = (await direct.get(f"/my/ships/{command}/cargo")).json()["data"]
                sales = await _in_turn(
                    [api.sell(command, "FUEL", 1) for _ in range(UNITS_TO_TRADE)]
                )
                left = (await direct.get(f"/my/ships/{command}/cargo")).json()["data"]
    assert satellite != command
    for tally in (ships, purchases, sales):
        # Every answer was lost after the action ran: never a refusal or a failure.
        assert tally.other == [], tally.other
    assert ships.unknown > 0 and purchases.unknown > 0 and sales.unknown > 0, faults.lost
    assert len(faults.lost) >= 5, faults.lost  # most kinds of lost answer came up
    # Each call reached the simulator once: the gateway resent none of them.
    assert faults.writes_forwarded == SHIPS_TO_BUY + 2 * UNITS_TO_TRADE
    # The simulator's count: every call applied exactly once, whether answered or unknown.
    assert bought["meta"]["total"] == 2 + SHIPS_TO_BUY == 2 + ships.answered + ships.unknown
    assert held["units"] == UNITS_TO_TRADE == purchases.answered + purchases.unknown
    # Had a sale been applied twice, a later one would have found no fuel to sell.
    assert left["units"] == 0 and sales.answered + sales.unknown == UNITS_TO_TRADE
