"""Lease renewals on real NATS when an acknowledgement goes missing: a renewal the server stored
but whose answer never reached the node (a busy node, a slow link) moves the key's revision, and
the next renewal's compare-and-set finds another revision than the one the node knows. The node
must tell its own unheard renewal from another node's write: keep the lease in the first case,
give it up in the second."""

from __future__ import annotations

from collections.abc import AsyncIterator

import nats
import pytest
from nats.js import JetStreamContext

from dispatcher.kvops import EXPECTED_LAST, TTL_HEADER
from dispatcher.leases import RENEWAL_SLICES, LeaseTable, lease_subject, leases_epoch
from dispatcher.pipeline import Pipeline
from flotilla.clock import SystemClock
from flotilla.topology import ensure_topology
from flotilla.v1.cluster_pb2 import ShipLease


@pytest.fixture
async def table(nats_url: str) -> AsyncIterator[tuple[JetStreamContext, LeaseTable]]:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await ensure_topology(js)
    pipeline = Pipeline(nc)
    await pipeline.start()
    leases = LeaseTable(
        js,
        pipeline,
        node="U",
        epoch=await leases_epoch(js),
        ttl_seconds=8,
        safety_margin_seconds=1.5,
        clock=SystemClock(),
    )
    try:
        yield js, leases
    finally:
        await pipeline.close()
        await nc.close()


async def test_a_renewal_whose_acknowledgement_was_lost_keeps_the_lease(
    table: tuple[JetStreamContext, LeaseTable],
) -> None:
    js, leases = table
    [lease] = await leases.acquire(["SHIP-1"])
    # The renewal this node sent, stored by the server; its acknowledgement never arrived, so
    # the node still knows the revision before it.
    unheard = await js.publish(
        lease_subject("SHIP-1"),
        lease.payload,
        headers={EXPECTED_LAST: str(lease.revision), TTL_HEADER: "8s"},
    )
    assert unheard.seq > lease.revision

    lost = await leases.renew_all()

    assert lost == []
    assert leases.held["SHIP-1"] is lease and not lease.lost
    assert lease.revision > unheard.seq  # renewed on top of the unheard one
    assert lease.token == lease.fence.token  # the same tenure: the fencing token is unchanged
    last = await js.get_last_msg("KV_flotilla_leases", lease_subject("SHIP-1"))
    assert last.seq == lease.revision


async def test_another_nodes_write_in_between_loses_the_lease(
    table: tuple[JetStreamContext, LeaseTable],
) -> None:
    js, leases = table
    [lease, other] = await leases.acquire(["SHIP-1", "SHIP-2"])
    # SHIP-1's key now holds another node's lease (as after a lapse and a take-over).
    theirs = ShipLease(ship_symbol="SHIP-1", node="V", ttl_seconds=8).SerializeToString()
    await js.publish(
        lease_subject("SHIP-1"),
        theirs,
        headers={EXPECTED_LAST: str(lease.revision), TTL_HEADER: "8s"},
    )

    lost = await leases.renew_all()

    assert lost == [lease] and lease.lost
    assert "SHIP-1" not in leases.held
    assert leases.held["SHIP-2"] is other and not other.lost  # the batch's others renew
    last = await js.get_last_msg("KV_flotilla_leases", lease_subject("SHIP-1"))
    assert ShipLease.FromString(last.data or b"").node == "V"  # left alone


async def test_the_renewal_slices_cover_every_held_lease_once(
    table: tuple[JetStreamContext, LeaseTable],
) -> None:
    _, leases = table
    ships = [f"SLICE-{n}" for n in range(40)]
    taken = await leases.acquire(ships)
    assert len(taken) == 40
    slices = [leases.due(k) for k in range(RENEWAL_SLICES)]
    assert sorted(lease.ship for part in slices for lease in part) == sorted(ships)
    assert sum(1 for part in slices if part) > 1  # spread, not one batch

    # A slice's batch renews its leases alone; a released ship leaves its slice.
    part = next(p for p in slices if len(p) >= 2)
    before = {lease.ship: lease.revision for lease in leases.held.values()}
    assert await leases.renew(part) == []
    renewed = {lease.ship for lease in leases.held.values() if lease.revision != before[lease.ship]}
    assert renewed == {lease.ship for lease in part}
    assert await leases.release([part[0].ship]) == 1
    slice_ = part[0].token % RENEWAL_SLICES
    assert part[0].ship not in {lease.ship for lease in leases.due(slice_)}
    assert len(leases.due(slice_)) == len(part) - 1
