"""The purchase journal on a real NATS server, before any call is sent: a second purchase while
one is in doubt is refused without a call; a conductor that lost the lease after journalling
sends nothing and leaves the entry for whoever leads next. (No gateway serves here: a call
would end `expired` — "no gateway" — so `busy` and `not_leader` show none was made.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import nats
import pytest
from nats.aio.client import Client as NatsClient

from conductor.purchasing import Buyer, Journal
from conductor.reconcile import Purchase
from flotilla.client import GatewayTransport, SpaceTradersClient
from flotilla.clock import ManualClock
from flotilla.topology import ensure_topology

START = datetime.fromtimestamp(1_000_000, UTC)
PURCHASE = Purchase("miners", "SHIP_MINING_DRONE", "X1-A-HQ", 30_000, 70_000, "mine")


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NatsClient]:
    client = await nats.connect(nats_url)
    try:
        await ensure_topology(client.jetstream())
        yield client
    finally:
        await client.drain()


def _buyer(nc: NatsClient, clock: ManualClock, holder: str) -> Buyer:
    return Buyer(
        nc.jetstream(),
        SpaceTradersClient(GatewayTransport(nc, clock=clock)),
        clock,
        holder=holder,
        deadline_seconds=30,
        settle_seconds=30,
        list_deadline_seconds=30,
    )


async def _yes() -> bool:
    return True


async def _no() -> bool:
    return False


async def test_a_journalled_purchase_blocks_every_other_until_settled(nc: NatsClient) -> None:
    clock = ManualClock(START)
    a, b = _buyer(nc, clock, "a"), _buyer(nc, clock, "b")
    lost = await a.buy(PURCHASE, _no)
    assert lost.outcome == "not_leader"
    found = await b.pending()
    assert found is not None
    journal, _ = found
    assert journal == Journal(
        "miners", "SHIP_MINING_DRONE", "X1-A-HQ", 1_000_030.0, 1_000_060.0, "a"
    )
    busy = await b.buy(PURCHASE, _yes)
    assert busy.outcome == "busy"
    assert await a.pending() == found  # untouched: it waits for whoever leads to settle it


async def test_without_a_journal_the_purchase_is_attempted(nc: NatsClient) -> None:
    clock = ManualClock(START)
    result = await _buyer(nc, clock, "a").buy(PURCHASE, _yes)
    assert result.outcome == "expired"  # no gateway: never sent, the entry removed
    assert await _buyer(nc, clock, "b").pending() is None


async def test_a_purchase_in_doubt_stays_until_the_fleet_could_be_listed(nc: NatsClient) -> None:
    clock = ManualClock(START)
    a = _buyer(nc, clock, "a")
    assert (await a.buy(PURCHASE, _no)).outcome == "not_leader"
    stopping = asyncio.Event()
    stopping.set()
    # Before the settle instant: nothing is listed (a stop cuts the wait short).
    assert await a.settle(stopping) is False
    assert a.listings == 0
    clock.advance(61)
    # After it the fleet would be listed, but no gateway answers: the entry stays.
    assert await a.settle(asyncio.Event()) is False
    assert a.listings == 0
    assert await a.pending() is not None
