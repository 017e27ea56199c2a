"""Per-ship leases in the leases bucket: exclusive ownership that expires by itself.

- **Acquire**: a KV create (publish with `Nats-Expected-Last-Subject-Sequence`: the key's last
  revision must be 0, or a tombstone's), so exactly one node can hold a ship.
- **Renew**: a compare-and-set on the revision the holder last wrote. A node's leases are
  renewed in `RENEWAL_SLICES` pipelined batches spread over the interval (a lease's slice comes
  from its token), each with one acknowledgement wait: at ten thousand leases one batch of all
  of them held the node's loop for a quarter of a second, ships that became ready waiting.
- **Expire**: every write carries a per-message TTL (`Nats-TTL`, whole seconds; the bucket
  allows it), so the NATS server removes a lease that was not renewed in time, and writes a
  delete marker that watchers see. Nothing ever needs a manual reset.
- **Fence**: the revision at which a lease was acquired is its fencing token (`ShipFence`);
  revisions are sequence numbers of the bucket's stream, so a later tenure's token is always
  higher than any earlier one's. The gateway refuses an action whose token is lower than one
  it has seen for the ship.

Why a TTL on each message kept by the server, and not lease values that carry an expiry
instant: expiry is then decided by one clock only — the NATS server's, from its own timestamp
of the write — never by comparing one node's wall clock with another's, so clock skew between
nodes cannot make a node take a lease that is still valid. The holder, for its part, never
reads a wall clock either: it counts its lease valid until `send + TTL - safety margin` on its
own monotonic clock, where `send` is when it sent the write that the server acknowledged. The
server stamped that write no earlier than `send`, so the server's expiry comes at least one
safety margin after the holder has stopped (only the clocks' rates must agree within the
margin, not their readings). A per-message TTL rather than a bucket TTL keeps the lease time a
dispatcher setting, which a rolling change of settings cannot get out of step with the bucket.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import nats.errors
import nats.js.errors
from nats.js import JetStreamContext

from dispatcher.kvops import (
    EXPECTED_LAST,
    KV_OPERATION,
    TTL_HEADER,
    is_tombstone,
    wrong_last_revision,
)
from dispatcher.pipeline import Pipeline, Write
from flotilla import names
from flotilla.clock import Clock
from flotilla.timestamps import to_timestamp
from flotilla.topology import leases_epoch
from flotilla.v1.api_pb2 import ShipFence
from flotilla.v1.cluster_pb2 import ShipLease

__all__ = ["Lease", "LeaseTable", "lease_subject", "leases_epoch"]

log = logging.getLogger("dispatcher.leases")

STREAM = f"KV_{names.LEASES_BUCKET}"
# The renew interval is cut into this many slices; each renews the leases of its slice.
RENEWAL_SLICES = 16


def lease_subject(ship: str) -> str:
    """The subject of `ship`'s lease key."""
    return f"$KV.{names.LEASES_BUCKET}.{ship}"


@dataclass(slots=True)
class Lease:
    """A lease this node holds. `valid_until` is on this node's monotonic clock."""

    ship: str
    token: int
    revision: int
    valid_until: float
    fence: ShipFence
    payload: bytes
    lost: bool = False

    def usable(self, now: float) -> bool:
        """May the ship be driven at monotonic instant `now`?"""
        return not self.lost and now < self.valid_until


class LeaseTable:
    """The leases one node holds, and the batched writes that acquire, renew and release them."""

    def __init__(
        self,
        js: JetStreamContext,
        pipeline: Pipeline,
        *,
        node: str,
        epoch: int,
        ttl_seconds: int,
        safety_margin_seconds: float,
        clock: Clock,
    ) -> None:
        self._js = js
        self._pipeline = pipeline
        self.node = node
        self.epoch = epoch
        self.ttl_seconds = ttl_seconds
        self.margin = safety_margin_seconds
        self._clock = clock
        self.held: dict[str, Lease] = {}
        # The leases of each renewal slice, by ship (an entry whose lease is no longer held
        # is dropped when its slice is next renewed).
        self._slices: list[dict[str, Lease]] = [{} for _ in range(RENEWAL_SLICES)]

    def _headers(self, last: int) -> dict[str, str]:
        return {EXPECTED_LAST: str(last), TTL_HEADER: f"{self.ttl_seconds}s"}

    def _valid_until(self, sent: float) -> float:
        return sent + self.ttl_seconds - self.margin

    def _payload(self, ship: str) -> bytes:
        now = to_timestamp(self._clock.now())
        return ShipLease(
            ship_symbol=ship,
            node=self.node,
            acquired_at=now,
            renewed_at=now,
            ttl_seconds=self.ttl_seconds,
        ).SerializeToString()

    async def acquire(self, ships: Iterable[str]) -> list[Lease]:
        """Try to take the lease of each ship; return those taken (a ship someone else holds,
        or whose write failed, is simply not among them)."""
        wanted = [ship for ship in ships if ship not in self.held]
        if not wanted:
            return []
        payloads = {ship: self._payload(ship) for ship in wanted}
        sent = self._clock.monotonic()
        acks = await self._pipeline.publish_all(
            [Write(lease_subject(s), payloads[s], self._headers(0)) for s in wanted]
        )
        taken: list[Lease] = []
        after_tombstone: dict[str, int] = {}
        for ship, ack in zip(wanted, acks, strict=True):
            if ack.ok:
                taken.append(self._hold(ship, ack.seq, sent, payloads[ship]))
                continue
            last = wrong_last_revision(ack)
            if last:
                after_tombstone[ship] = last
        if after_tombstone:
            taken.extend(await self._acquire_after_tombstones(after_tombstone, payloads))
        return taken

    async def _acquire_after_tombstones(
        self, lasts: dict[str, int], payloads: dict[str, bytes]
    ) -> list[Lease]:
        # The key has a last message: a live lease (someone holds it) or a tombstone left by a
        # release or an expiry (then the create is a compare-and-set on the tombstone).
        reads = await asyncio.gather(
            *(self._js.get_msg(STREAM, seq=last) for last in lasts.values()),
            return_exceptions=True,
        )
        retry: list[tuple[str, int]] = []
        for (ship, last), read in zip(lasts.items(), reads, strict=True):
            if isinstance(read, BaseException):
                continue
            if is_tombstone(read.headers):
                retry.append((ship, last))
        if not retry:
            return []
        sent = self._clock.monotonic()
        acks = await self._pipeline.publish_all(
            [Write(lease_subject(s), payloads[s], self._headers(last)) for s, last in retry]
        )
        return [
            self._hold(ship, ack.seq, sent, payloads[ship])
            for (ship, _), ack in zip(retry, acks, strict=True)
            if ack.ok
        ]

    def _hold(self, ship: str, revision: int, sent: float, payload: bytes) -> Lease:
        fence = ShipFence(key=ship, token=revision, epoch=self.epoch)
        value = ShipLease.FromString(payload)
        value.token = revision  # renewals carry the token the lease was acquired at
        lease = Lease(
            ship, revision, revision, self._valid_until(sent), fence, value.SerializeToString()
        )
        self.held[ship] = lease
        self._slices[revision % RENEWAL_SLICES][ship] = lease
        return lease

    def due(self, slice_: int | None = None) -> list[Lease]:
        """The held leases to renew: all of them, or those of slice `slice_`."""
        if slice_ is None:
            return [lease for lease in self.held.values() if not lease.lost]
        bucket = self._slices[slice_]
        leases: list[Lease] = []
        for ship, lease in list(bucket.items()):
            if not lease.lost and self.held.get(ship) is lease:
                leases.append(lease)
            else:
                del bucket[ship]
        return leases

    async def renew_all(self) -> list[Lease]:
        """Renew every held lease in one batch (see `renew`)."""
        return await self.renew(self.due())

    async def renew(self, leases: list[Lease]) -> list[Lease]:
        """Renew `leases` in one batch; return those found lost (someone else's write came
        between, or the lease lapsed) or past their local deadline. A write that merely got no
        answer leaves its lease as it was: usable until its local deadline (every call checks
        it), and retried by its slice's next batch."""
        if not leases:
            return []
        sent = self._clock.monotonic()
        acks = await self._pipeline.publish_all(
            [
                Write(lease_subject(lease.ship), lease.payload, self._headers(lease.revision))
                for lease in leases
            ]
        )
        lost: list[Lease] = []
        moved: list[tuple[Lease, int]] = []
        unanswered = 0
        for lease, ack in zip(leases, acks, strict=True):
            if ack.ok:
                lease.revision = ack.seq
                lease.valid_until = self._valid_until(sent)
            elif (last := wrong_last_revision(ack)) is not None:
                if last:
                    moved.append((lease, last))
                else:
                    lost.append(lease)
            else:
                unanswered += 1
        if unanswered:
            log.warning("%d lease renewal(s) got no answer", unanswered)
        if moved:
            lost += await self._renew_moved(moved)
        for lease in lost:
            lease.lost = True
            self.held.pop(lease.ship, None)
        return lost + self.overdue(leases)

    async def _renew_moved(self, moved: list[tuple[Lease, int]]) -> list[Lease]:
        """Renew leases whose revision moved on since this node last heard of it; return those
        that are lost. A renewal stored by the server whose acknowledgement never arrived (a
        busy node, a slow link) moves the revision too: when the key's last value is this
        tenure's own lease payload, nobody came between, and the renewal is retried on that
        revision. Any other value (another node's lease, a tombstone) means the lease is lost."""
        reads = await asyncio.gather(
            *(self._js.get_msg(STREAM, seq=last) for _, last in moved),
            return_exceptions=True,
        )
        ours: list[tuple[Lease, int]] = []
        lost: list[Lease] = []
        for (lease, last), read in zip(moved, reads, strict=True):
            if (
                isinstance(read, BaseException)
                or is_tombstone(read.headers)
                or read.data != lease.payload
            ):
                lost.append(lease)
            else:
                ours.append((lease, last))
        if not ours:
            return lost
        sent = self._clock.monotonic()
        acks = await self._pipeline.publish_all(
            [
                Write(lease_subject(lease.ship), lease.payload, self._headers(last))
                for lease, last in ours
            ]
        )
        for (lease, _), ack in zip(ours, acks, strict=True):
            if ack.ok:
                lease.revision = ack.seq
                lease.valid_until = self._valid_until(sent)
            elif wrong_last_revision(ack) is not None:
                lost.append(lease)
        return lost

    def overdue(self, leases: list[Lease] | None = None) -> list[Lease]:
        """Held leases (of `leases`, else all) whose local deadline has passed without a
        renewal: drop them (the ship must not be driven any more) and return them."""
        now = self._clock.monotonic()
        candidates = self.held.values() if leases is None else leases
        late = [
            lease
            for lease in candidates
            if not lease.usable(now) and self.held.get(lease.ship) is lease
        ]
        for lease in late:
            lease.lost = True
            self.held.pop(lease.ship, None)
        return late

    async def release(self, ships: Iterable[str]) -> int:
        """Delete the leases of `ships` (compare-and-set, so a lease already lost to another
        node is left alone); return how many were released."""
        leases = [self.held.pop(ship) for ship in list(ships) if ship in self.held]
        for lease in leases:
            lease.lost = True
        acks = await self._pipeline.publish_all(
            [
                Write(
                    lease_subject(lease.ship),
                    b"",
                    {KV_OPERATION: "DEL", EXPECTED_LAST: str(lease.revision)},
                )
                for lease in leases
            ]
        )
        released = sum(1 for ack in acks if ack.ok)
        # A renewal whose acknowledgement never arrived moved the revision on: delete the key
        # anyway if its value is still this tenure's lease.
        moved = {
            lease.ship: (lease, last)
            for lease, ack in zip(leases, acks, strict=True)
            if (last := wrong_last_revision(ack))
        }
        if moved:
            reads = await asyncio.gather(
                *(self._js.get_msg(STREAM, seq=last) for _, last in moved.values()),
                return_exceptions=True,
            )
            retry: list[Write] = []
            for (lease, last), read in zip(moved.values(), reads, strict=True):
                if isinstance(read, BaseException) or is_tombstone(read.headers):
                    continue
                value = ShipLease.FromString(read.data or b"")
                if value.node == self.node and value.token == lease.token:
                    retry.append(
                        Write(
                            lease_subject(lease.ship),
                            b"",
                            {KV_OPERATION: "DEL", EXPECTED_LAST: str(last)},
                        )
                    )
            released += sum(1 for ack in await self._pipeline.publish_all(retry) if ack.ok)
        return released

    async def holder(self, ship: str) -> str | None:
        """The node holding `ship`'s lease now (None: nobody), read from the bucket."""
        try:
            msg = await self._js.get_last_msg(STREAM, lease_subject(ship))
        except (nats.js.errors.NotFoundError, nats.errors.TimeoutError):
            return None
        if is_tombstone(msg.headers) or not msg.data:
            return None
        return ShipLease.FromString(msg.data).node
