"""Fencing at the gateway: a ship action whose token is older than one known for the ship is
answered FENCED without a request — at admission, and after its wait in the queue — and the
floors come back after a restart from the leases bucket alone (`gateway.fencing`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import nats
import pytest
from nats.js import JetStreamContext

from flotilla import names
from flotilla.topology import ensure_topology, leases_epoch
from flotilla.v1.api_pb2 import ApiCall, CallOutcome, ShipFence
from flotilla.v1.cluster_pb2 import ShipLease
from gateway.fencing import FenceBook, lease_pair
from gateway.ratelimit import RateLimitConfig
from gateway.request_log import request_log_event

from .conftest import FakeApi, call, fake_gateway, gateway_on_fake_api, wait_until

COMPLETED = CallOutcome.CALL_OUTCOME_COMPLETED
FENCED = CallOutcome.CALL_OUTCOME_FENCED
ONE_PER_TENTH = RateLimitConfig(static=1, static_period_seconds=0.1, burst=0)
EPOCH = 1_700_000_000_000_000_000


def action(ship: str, token: int, *, epoch: int = EPOCH, node: str = "U") -> ApiCall:
    """An extraction of `ship` sent by dispatcher node `node` under lease token `token`."""
    return call(
        "POST",
        f"/my/ships/{ship}/extract",
        fence=ShipFence(key=ship, token=token, epoch=epoch),
        node=node,
    )


def fenced_count(metrics: object, stage: str) -> float:
    counter = metrics.fenced.labels(stage=stage)  # type: ignore[attr-defined]
    return float(counter._value.get())


# --- the book ---------------------------------------------------------------------------------


def test_the_book_refuses_a_pair_below_the_floor_and_learns_higher_ones() -> None:
    book = FenceBook()
    assert book.check(ShipFence(key="S-1", token=5, epoch=EPOCH)) is None
    assert book.check(ShipFence(key="S-1", token=5, epoch=EPOCH)) is None  # the same tenure
    reason = book.check(ShipFence(key="S-1", token=4, epoch=EPOCH))
    assert reason is not None and "S-1" in reason and "4" in reason
    # A recreated bucket restarts its revisions, and its later epoch supersedes.
    assert book.check(ShipFence(key="S-1", token=1, epoch=EPOCH + 1)) is None
    assert book.check(ShipFence(key="S-1", token=9, epoch=EPOCH)) is not None
    # Another ship has a floor of its own.
    assert book.check(ShipFence(key="S-2", token=2, epoch=EPOCH)) is None
    # A lease change seen in the bucket only ever raises a floor.
    book.learn("S-2", (EPOCH, 7))
    book.learn("S-2", (EPOCH, 3))
    assert book.floor("S-2") == (EPOCH, 7)


def test_a_rebuilt_book_keeps_live_tenures_and_fences_every_other_older_token() -> None:
    book = FenceBook()
    book.replay("LIVE", (EPOCH, 4))  # a tenure live at the restart keeps its token
    book.replay("ENDED", (EPOCH, 6))  # a tombstone at revision 6
    book.default = (EPOCH, 11)  # the stream's last sequence was 10
    assert book.check(ShipFence(key="LIVE", token=4, epoch=EPOCH)) is None
    assert book.check(ShipFence(key="ENDED", token=5, epoch=EPOCH)) is not None
    assert book.check(ShipFence(key="GONE", token=10, epoch=EPOCH)) is not None
    assert book.check(ShipFence(key="NEW", token=12, epoch=EPOCH)) is None


def test_a_lease_message_sets_a_tombstones_revision_or_the_leases_token() -> None:
    acquired = ShipLease(ship_symbol="S", node="U").SerializeToString()
    renewed = ShipLease(ship_symbol="S", node="U", token=3).SerializeToString()
    assert lease_pair(EPOCH, acquired, 3) == (EPOCH, 3)
    assert lease_pair(EPOCH, renewed, 8) == (EPOCH, 3)
    assert lease_pair(EPOCH, None, 9) == (EPOCH, 9)  # a release or an expiry


# --- the gateway core -------------------------------------------------------------------------


async def test_an_older_token_is_fenced_without_a_request_and_logged_with_its_node(
    fake_api: FakeApi,
) -> None:
    async with fake_gateway(fake_api) as gateway:
        newer = await gateway.execute(action("S-1", 9, node="V"))
        older = await gateway.execute(action("S-1", 5, node="U"))
        same = await gateway.execute(action("S-1", 9, node="V"))
        unfenced = await gateway.execute(call("POST", "/my/ships/S-1/extract"))
        assert fenced_count(gateway.metrics, "admission") == 1
    assert newer.result.outcome == COMPLETED and same.result.outcome == COMPLETED
    assert older.result.outcome == FENCED
    assert older.result.attempts == 0 and older.result.status == 0
    assert "below 9" in older.result.error_message
    assert unfenced.result.outcome == COMPLETED  # calls without a fence are not checked
    assert fake_api.paths() == ["/my/ships/S-1/extract"] * 3
    event = request_log_event(older)
    assert (event.node, event.fence_token, event.outcome) == ("U", 5, FENCED)
    assert (event.ship_symbol, event.attempts) == ("S-1", 0)
    assert request_log_event(newer).fence_token == 9


async def test_a_call_that_goes_stale_while_queued_is_fenced_before_the_wire(
    fake_api: FakeApi,
) -> None:
    async with fake_gateway(fake_api, rate_limit=ONE_PER_TENTH) as gateway:
        first = asyncio.create_task(gateway.execute(call("GET", "/my/agent")))
        await wait_until(lambda: len(fake_api.requests) == 1)
        # Both queue behind the first request's window: the old owner's call was admitted
        # first, while its token was the highest, then the new owner's came.
        old = asyncio.create_task(gateway.execute(action("S-1", 5, node="U")))
        await wait_until(lambda: gateway.fences.floor("S-1") == (EPOCH, 5))
        new = asyncio.create_task(gateway.execute(action("S-1", 9, node="V")))
        await wait_until(lambda: gateway.fences.floor("S-1") == (EPOCH, 9))
        _, stale, fresh = await asyncio.gather(first, old, new)
        # The permit the stale call was granted is not left in use: later calls still go out.
        after = await gateway.execute(action("S-1", 9, node="V"))
        assert fenced_count(gateway.metrics, "queue") == 1
        assert fenced_count(gateway.metrics, "admission") == 0
        assert gateway.groups[0].in_flight == 0
    assert stale.result.outcome == FENCED and "queued" in stale.result.error_message
    assert stale.result.attempts == 0 and stale.result.queued_ms > 0
    assert fresh.result.outcome == COMPLETED and after.result.outcome == COMPLETED
    assert fake_api.paths() == ["/my/agent", "/my/ships/S-1/extract", "/my/ships/S-1/extract"]


async def test_a_retry_is_not_sent_once_the_token_has_gone_stale(fake_api: FakeApi) -> None:
    async with fake_gateway(fake_api) as gateway:

        async def refuse_while_taken_over(request: httpx.Request) -> httpx.Response:
            # The connection fails before the request leaves (a retry would be safe), and
            # meanwhile another node's newer lease for the ship is seen.
            gateway.fences.learn("S-1", (EPOCH, 9))
            raise httpx.ConnectError("connection refused", request=request)

        fake_api.handler = refuse_while_taken_over
        record = await gateway.execute(action("S-1", 5))
        assert fenced_count(gateway.metrics, "retry") == 1
    result = record.result
    assert result.outcome == FENCED and "before attempt 2" in result.error_message
    assert result.attempts == 1  # the one attempt that failed before any byte left
    assert fake_api.paths() == ["/my/ships/S-1/extract"]


# --- the service and the leases bucket --------------------------------------------------------


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await ensure_topology(js)
    try:
        yield js
    finally:
        await nc.close()


async def put_lease(js: JetStreamContext, ship: str, node: str, token: int = 0) -> int:
    """Write `ship`'s lease as a node does (token 0: the acquiring write); its revision."""
    kv = await js.key_value(names.LEASES_BUCKET)
    value = ShipLease(ship_symbol=ship, node=node, token=token)
    return int(await kv.put(ship, value.SerializeToString()))


async def delete_lease(js: JetStreamContext, ship: str) -> int:
    kv = await js.key_value(names.LEASES_BUCKET)
    await kv.delete(ship)
    entry = await js.get_last_msg(f"KV_{names.LEASES_BUCKET}", f"$KV.{names.LEASES_BUCKET}.{ship}")
    return int(entry.seq or 0)


async def test_a_released_lease_fences_its_holder_before_the_next_owner_calls(
    nats_url: str, js: JetStreamContext, fake_api: FakeApi
) -> None:
    epoch = await leases_epoch(js)
    async with gateway_on_fake_api(nats_url, fake_api) as running:
        gateway = running.gateway
        token = await put_lease(js, "F-1", "U")
        first = await gateway.execute(action("F-1", token, epoch=epoch, node="U"))
        renewed = await put_lease(js, "F-1", "U", token=token)
        tombstone = await delete_lease(js, "F-1")
        assert token < renewed < tombstone
        await wait_until(lambda: gateway.fences.floor("F-1") == (epoch, tombstone))
        late = await gateway.execute(action("F-1", token, epoch=epoch, node="U"))
        # The next owner's lease is written after the tombstone: its token is higher.
        next_token = await put_lease(js, "F-1", "V")
        taken = await gateway.execute(action("F-1", next_token, epoch=epoch, node="V"))
    assert first.result.outcome == COMPLETED
    assert late.result.outcome == FENCED and late.result.attempts == 0
    assert taken.result.outcome == COMPLETED
    assert fake_api.paths() == ["/my/ships/F-1/extract"] * 2


async def test_a_restarted_gateway_rebuilds_its_fences_from_the_leases_bucket(
    nats_url: str, js: JetStreamContext, fake_api: FakeApi
) -> None:
    epoch = await leases_epoch(js)
    live = await put_lease(js, "R-LIVE", "U")
    ended = await put_lease(js, "R-ENDED", "U")
    spare = await put_lease(js, "R-SPARE", "U")
    async with gateway_on_fake_api(nats_url, fake_api) as running:
        for ship, token in (("R-LIVE", live), ("R-ENDED", ended)):
            outcome = (await running.gateway.execute(action(ship, token, epoch=epoch))).result
            assert outcome.outcome == COMPLETED
    # While no gateway runs: LIVE is renewed, ENDED released. GONE stands for a ship whose
    # tenure ended long ago and whose expiry marker is already removed (its key holds no
    # message): its old token is any revision from before the restart, here SPARE's.
    await put_lease(js, "R-LIVE", "U", token=live)
    await delete_lease(js, "R-ENDED")
    async with gateway_on_fake_api(nats_url, fake_api) as running:
        gateway = running.gateway
        outcomes = {}
        for name, ship, token in (
            ("live", "R-LIVE", live),
            ("ended", "R-ENDED", ended),
            ("gone", "R-GONE", spare),
        ):
            outcomes[name] = (await gateway.execute(action(ship, token, epoch=epoch))).result
        # A tenure acquired after the restart has a higher token than anything before it.
        fresh = await put_lease(js, "R-NEW", "V")
        outcomes["new"] = (await gateway.execute(action("R-NEW", fresh, epoch=epoch))).result
        stale_epoch = action("R-NEW", fresh + 1, epoch=epoch - 1)
        outcomes["older epoch"] = (await gateway.execute(stale_epoch)).result
    assert {name: result.outcome for name, result in outcomes.items()} == {
        "live": COMPLETED,
        "ended": FENCED,
        "gone": FENCED,
        "new": COMPLETED,
        "older epoch": FENCED,
    }
    assert all(r.attempts == 0 for r in outcomes.values() if r.outcome == FENCED)
    assert fake_api.paths() == [
        "/my/ships/R-LIVE/extract",
        "/my/ships/R-ENDED/extract",
        "/my/ships/R-LIVE/extract",
        "/my/ships/R-NEW/extract",
    ]
