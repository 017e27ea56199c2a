"""No write is applied twice when the API did what was asked and its answer was lost: ships
bought, cargo purchased and sold through the gateway against the real simulator over real HTTP,
and the simulator's own state (read directly, not through the gateway) as the count of what was
applied.

Two ways of losing the answer: the simulator's own after-the-action faults (500, 502, 504 and
dropped connections, the simulator started as a service and far away), and a transport that
throws away the simulator's answers on the gateway's side, for what the simulator cannot make
happen on cue (a CDN's 524, a reset connection, a read timeout)."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any

import httpx

from flotilla.client import CallError, OutcomeUnknown
from flotilla.kit import open_service
from flotilla.settings import load_settings
from gateway.service import SEAM_TRANSPORT_FACTORY
from gateway.upstream import default_transport
from simulator.app import SimulatorApp
from simulator.config import SimulatorSettings
from simulator.declaration import SERVICE as SIMULATOR

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

    The simulator still applies every request it receives exactly as it would; this covers the
    kinds of lost answer it cannot produce itself (524, reset, timeout) beside those it can.
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


# A fifth of all requests (reads too) lose their answer after the action ran, a few ways.
AFTER_ACTION_FAULTS: dict[str, Any] = {
    "after_error_500_rate": 0.05,
    "after_error_502_rate": 0.05,
    "after_error_504_rate": 0.05,
    "after_drop_rate": 0.05,
    "seed": 9,
}
FAR: dict[str, Any] = {
    "latency_in_ms": 20,
    "latency_in_jitter": 0.3,
    "latency_out_ms": 20,
    "latency_out_jitter": 0.3,
    "seed": 9,
}


def _sent(app: SimulatorApp, route: str) -> int:
    """How many `POST route` requests reached the route (and ran), whatever they were answered:
    the simulator's own count."""
    total = 0.0
    for metric in app.metrics.requests.collect():
        for sample in metric.samples:
            labels = sample.labels
            if (
                sample.name.endswith("_total")
                and labels["method"] == "POST"
                and labels["route"] == route
            ):
                total += sample.value
    return int(total)


def _injected(app: SimulatorApp) -> dict[str, int]:
    """The simulator's count of faults injected, by kind."""
    counts: dict[str, int] = {}
    for metric in app.metrics.faults.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total") and sample.value:
                counts[sample.labels["kind"]] = int(sample.value)
    return counts


async def test_no_write_is_applied_twice_under_the_simulators_after_the_action_faults(
    nats_url: str,
) -> None:
    sim_settings = load_settings(
        SimulatorSettings,
        port=0,
        probes={"port": 0},
        config={
            "starting_credits": 5_000_000,
            "rate_limit": {"enabled": False},
            "faults": AFTER_ACTION_FAULTS,
            "network": FAR,
        },
    )
    async with open_service(SIMULATOR, sim_settings) as simulated:
        app: SimulatorApp = simulated.exposed["app"]
        game = app.game
        # Registered in the game itself: every request over HTTP may be faulted.
        agent = game.register("ONCE-2", "COSMIC")
        command, satellite = (s.symbol for s in game.agent_ships(agent))
        yard = game.ships[satellite].nav.waypoint_symbol  # the satellite starts at the yard
        settings = gateway_settings(
            nats_url,
            simulated.exposed["url"],
            spacetraders={"agent_tokens": {"ONCE-2": agent.token}},
            rate_limit=NO_LIMIT,
            retry=FAST_RETRIES,
        )
        async with gateway_service(settings) as running:
            api = running.client(default_deadline_seconds=30)
            ships = await _tally([api.buy_ship("SHIP_PROBE", yard) for _ in range(SHIPS_TO_BUY)])
            owned = len(game.agent_ships(agent))
            purchases = await _in_turn(
                [api.purchase(command, "FUEL", 1) for _ in range(UNITS_TO_TRADE)]
            )
            held = game.ships[command].cargo.get("FUEL", 0)
            sales = await _in_turn([api.sell(command, "FUEL", 1) for _ in range(UNITS_TO_TRADE)])
            left = game.ships[command].cargo.get("FUEL", 0)
        injected = _injected(app)
        sent = {
            route: _sent(app, route)
            for route in (
                "/v2/my/ships",
                "/v2/my/ships/{ship_symbol}/purchase",
                "/v2/my/ships/{ship_symbol}/sell",
            )
        }
    for tally in (ships, purchases, sales):
        # Every write ran; a lost answer is unknown, never a refusal or a failure.
        assert tally.other == [], tally.other
    assert ships.unknown > 0 and purchases.unknown > 0 and sales.unknown > 0, injected
    assert len(injected) >= 3, injected  # most kinds of after-the-action fault came up
    # The simulator's count of what reached each route: the gateway resent none of them.
    assert sent == {
        "/v2/my/ships": SHIPS_TO_BUY,
        "/v2/my/ships/{ship_symbol}/purchase": UNITS_TO_TRADE,
        "/v2/my/ships/{ship_symbol}/sell": UNITS_TO_TRADE,
    }
    # The simulator's state: every call applied exactly once, whether answered or unknown.
    assert owned == 2 + SHIPS_TO_BUY == 2 + ships.answered + ships.unknown
    assert held == UNITS_TO_TRADE == purchases.answered + purchases.unknown
    # Had a sale been applied twice, a later one would have found no fuel to sell.
    assert left == 0 and sales.answered + sales.unknown == UNITS_TO_TRADE
