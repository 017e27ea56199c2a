"""The leader lease on a real NATS server: one holder at a time, renewal by compare-and-set, a
holder that stops counting itself leader before the server could expire its key (by the
injected clock), and a release that lets a standby take over at once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import nats
import pytest
from nats.js import JetStreamContext

from conductor.leader import LeaderLease
from flotilla.clock import ManualClock
from flotilla.topology import ensure_topology


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(nats_url)
    try:
        context = nc.jetstream()
        await ensure_topology(context)
        yield context
    finally:
        await nc.drain()


async def test_one_holder_renews_and_a_standby_takes_over_after_a_release(
    js: JetStreamContext,
) -> None:
    clock = ManualClock()
    a = LeaderLease(js, clock, ttl_seconds=30, renew_seconds=5, holder="a")
    b = LeaderLease(js, clock, ttl_seconds=30, renew_seconds=5, holder="b")
    assert await a.step() is True
    assert await b.step() is False
    assert a.is_leader and not b.is_leader
    first = a.revision
    assert await a.step() is True  # a renewal: a new revision, same holder
    assert a.revision > first
    assert await a.confirm()
    await a.release()
    assert not a.is_leader
    assert await b.step() is True
    assert b.is_leader
    assert await a.step() is False


async def test_a_holder_that_has_not_renewed_stops_leading_before_its_key_can_expire(
    js: JetStreamContext,
) -> None:
    clock = ManualClock()
    a = LeaderLease(js, clock, ttl_seconds=30, renew_seconds=5, holder="a")
    assert await a.step()
    clock.advance(24.9)
    assert a.is_leader and await a.confirm()
    clock.advance(0.2)  # 25.1 s since the renewal: within a renew interval of the TTL
    assert not a.is_leader
    assert not await a.confirm()


async def test_a_stale_holder_cannot_renew_over_a_new_one(js: JetStreamContext) -> None:
    clock = ManualClock()
    a = LeaderLease(js, clock, ttl_seconds=30, renew_seconds=5, holder="a")
    b = LeaderLease(js, clock, ttl_seconds=30, renew_seconds=5, holder="b")
    assert await a.step()
    stale = a.revision
    await a.release()
    assert await b.step()
    a.revision = stale  # as if a had missed its own release
    assert await a.step() is False
    assert b.is_leader and await b.confirm()
