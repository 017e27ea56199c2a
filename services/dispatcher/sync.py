"""Where the ships' states come from, without spending requests on each ship.

The ship list is the assignments bucket: the conductor assigns every ship it buys or finds, and
an unassigned ship is not driven. A ship's state is its snapshot in the ships bucket, written by
its owner after every change, so a new owner (after a hand-over or a crash) starts from it and
asks the API nothing. Only when the ships bucket is nearly empty (a first start, or NATS lost
its data) does one node — the one that takes the `_fleet_sync` key — list the fleet once, page by
page (20 ships per request instead of one request per ship), and write every snapshot; the other
nodes wait for it before they start their ships. A ship still without a snapshot after that is
looked at once by its owner.
"""

from __future__ import annotations

import asyncio
import logging
import time

import nats.errors
import nats.js.errors
from nats.js import JetStreamContext

from dispatcher.events import EventPublisher
from dispatcher.kvops import claim, delete_if_unchanged, is_tombstone
from dispatcher.ship import ShipModel
from flotilla import names
from flotilla.client import CallError, SpaceTradersClient, Transport
from flotilla.clock import Clock
from flotilla.v1.cluster_pb2 import ShipLease

__all__ = ["sync_fleet"]

log = logging.getLogger("dispatcher.sync")

SYNC_TTL_SECONDS = 120
_WAIT_STEP = 0.5


async def _snapshot_count(js: JetStreamContext) -> int:
    info = await js.stream_info(f"KV_{names.SHIPS_BUCKET}")
    return int(info.state.messages)


async def _sync_running(js: JetStreamContext) -> bool:
    try:
        msg = await js.get_last_msg(
            f"KV_{names.LEASES_BUCKET}", f"$KV.{names.LEASES_BUCKET}.{names.FLEET_SYNC_KEY}"
        )
    except (nats.js.errors.NotFoundError, nats.errors.TimeoutError):
        return False
    return not is_tombstone(msg.headers)


async def sync_fleet(
    js: JetStreamContext,
    transport: Transport,
    publisher: EventPublisher,
    clock: Clock,
    *,
    node: str,
    agent: str,
    assigned: int,
    stopping: asyncio.Event,
) -> int:
    """List the fleet into the ships bucket if it lacks most of the assigned ships; return the
    snapshots written here (0 when not needed or another node did it)."""
    if assigned == 0 or await _snapshot_count(js) * 2 >= assigned:
        return 0
    value = ShipLease(ship_symbol=names.FLEET_SYNC_KEY, node=node).SerializeToString()
    revision = await claim(js, names.LEASES_BUCKET, names.FLEET_SYNC_KEY, value, SYNC_TTL_SECONDS)
    if revision is None:
        log.info("another node is listing the fleet: waiting for it")
        deadline = time.monotonic() + SYNC_TTL_SECONDS
        while await _sync_running(js) and time.monotonic() < deadline:
            try:
                await asyncio.wait_for(stopping.wait(), _WAIT_STEP)
                return 0
            except TimeoutError:
                continue
        return 0
    written = 0
    try:
        if await _snapshot_count(js) * 2 >= assigned:
            return 0  # another node listed the fleet and let go of the key just before
        api = SpaceTradersClient(transport)
        for ship in await api.all_ships():
            model = ShipModel(symbol=ship.symbol, agent=agent)
            model.apply_ship(ship)
            model.version = int(clock.time() * 1_000_000)
            publisher.value(names.SHIPS_BUCKET, ship.symbol, model.snapshot(clock.now()))
            written += 1
        await publisher.flushed(30.0)
        log.info("listed the fleet: %d ship(s)", written)
    except CallError as exc:
        log.warning("listing the fleet failed (%s): owners will look at their ships", exc)
    finally:
        await delete_if_unchanged(js, names.LEASES_BUCKET, names.FLEET_SYNC_KEY, revision)
    return written
