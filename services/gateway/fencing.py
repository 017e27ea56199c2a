"""Fencing: the gateway refuses a ship action whose fencing token is older than one it knows of,
answering `CALL_OUTCOME_FENCED` without sending a request.

A dispatcher node sends every ship action with the ship's `ShipFence`: the revision at which it
acquired the ship's lease in the leases bucket (its token) and the bucket's creation time (its
epoch). `FenceBook` keeps, per ship, the highest `(epoch, token)` pair — the *floor* — and
refuses a pair below it. A call is checked at admission and again right before each of its
attempts goes on the wire, after its wait in the queue (a call admitted while its lease was live
may wait long enough for the lease to lapse and another node to take the ship; a killed or
frozen node's queued calls are exactly these) and after any wait between attempts.

Where the floors come from, and why they survive a restart without being stored anywhere:

1. **The calls.** Every fenced call raises its ship's floor to its own pair, so once the new
   owner has called, the old owner's calls are refused.
2. **The leases bucket.** The calls alone are not enough: several gateway replicas share the call
   subject and each sees only part of the calls, the new owner may not have called yet when the
   old one's late call arrives, and a restarted gateway has seen no call at all. So the gateway
   follows the bucket (`follow_leases`): a tombstone (a release, or the server's expiry marker)
   at revision `d` ends every tenure of that ship, whose tokens are all below `d` (a tenure
   starts by a write after the key's last tombstone and every later write of it has a higher
   revision); a live lease raises the floor to its own token (`ShipLease.token`, or the
   revision of the acquiring write, which carries none).
3. **A restart** needs no saved state, because revisions are the sequence numbers of the
   bucket's stream: they only grow and are never reused (a recreated bucket starts again at 1
   with a later epoch, so its pairs still compare higher). Before serving its first call, the
   gateway reads the stream's last sequence `L`, then replays the last message of every key.
   Every tenure live at that moment is the last message of its key, so it gets its own token as
   its floor. Every other key gets the floor `L + 1`: any tenure acquired before the restart
   that is not live now has a token of at most `L` and is over (its tombstone may even be gone
   already — the server keeps expiry markers only a few seconds), while every tenure acquired
   later has a higher token. So one number stands for everything the lost memory held.

What it does not cover: between a tombstone and its delivery here (the watch's latency, well
under a second) a late call of the old owner passes if the new owner has not called yet; the old
owner's own clock check (it stops driving a ship before its lease can lapse) is the first line,
this the second. A call refused after a wait has already been granted a permit: it is settled as
unanswered, so the limiter counts it as possibly spent rather than lose track of it.

Following the bucket costs one message per lease write, renewals included: ten thousand ships
renewed every 2.5 s are about 4,000 messages a second (roughly 50 µs of CPU each in nats-py,
measured on a busy machine: a fifth of a core). The replay at start is one message per key.

Floors are kept per ship symbol alone, as the leases bucket keys them: the game's ship symbols
begin with their agent's symbol, so two agents' ships never share one.
"""

from __future__ import annotations

import asyncio
from typing import Final

from google.protobuf.message import DecodeError
from nats.js import JetStreamContext

from flotilla import names
from flotilla.topology import stream_epoch
from flotilla.v1.api_pb2 import ShipFence
from flotilla.v1.cluster_pb2 import ShipLease
from flotilla.watching import watch_bucket

__all__ = ["LEASES_STREAM", "FenceBook", "Pair", "follow_leases", "lease_pair", "leases_position"]

LEASES_STREAM: Final = f"KV_{names.LEASES_BUCKET}"

# (epoch, token): compared as a tuple, so a later bucket's tokens supersede an earlier one's.
Pair = tuple[int, int]


async def leases_position(js: JetStreamContext) -> tuple[int, int]:
    """The leases bucket's epoch (as the dispatcher reads it) and its stream's last sequence."""
    info = await js.stream_info(LEASES_STREAM)
    return stream_epoch(info), int(info.state.last_seq)


class FenceBook:
    """The floor of every ship known: the highest `(epoch, token)` seen, below which a call is
    refused. Ships without a floor of their own share `default` (see the module docstring)."""

    def __init__(self) -> None:
        self._floors: dict[str, Pair] = {}
        self.default: Pair = (0, 0)

    def __len__(self) -> int:
        return len(self._floors)

    def floor(self, key: str) -> Pair:
        """The lowest pair a call for ship `key` may carry."""
        return self._floors.get(key, self.default)

    def check(self, fence: ShipFence) -> str | None:
        """Why a call carrying `fence` must not be sent (None: it may), learning its pair."""
        pair = (fence.epoch, fence.token)
        floor = self.floor(fence.key)
        if pair < floor:
            return (
                f"fenced: the call's token {fence.token} (epoch {fence.epoch}) for {fence.key}"
                f" is below {floor[1]} (epoch {floor[0]}): the lease it was sent under has ended"
            )
        if pair > floor:
            self._floors[fence.key] = pair
        return None

    def learn(self, key: str, pair: Pair) -> None:
        """Raise `key`'s floor to `pair` if it is higher (a lease change seen in the bucket)."""
        if pair > self.floor(key):
            self._floors[key] = pair

    def replay(self, key: str, pair: Pair) -> None:
        """Set `key`'s own floor from the last message of its key while rebuilding the book
        (it may be below `default`: a tenure live at the restart keeps its token)."""
        current = self._floors.get(key)
        if current is None or pair > current:
            self._floors[key] = pair


def lease_pair(epoch: int, value: bytes | None, revision: int) -> Pair:
    """The floor one message of the leases bucket sets for its key: a tombstone's (no value)
    own revision, or a live lease's token."""
    if not value:
        return (epoch, revision)
    try:
        token = ShipLease.FromString(value).token
    except DecodeError:
        token = 0
    return (epoch, token or revision)


async def follow_leases(
    js: JetStreamContext, book: FenceBook, stopping: asyncio.Event, synced: asyncio.Event
) -> None:
    """Rebuild `book` from the leases bucket (`synced` is set once every key's last message is
    in), then raise floors from every change until `stopping`."""
    epoch, last = await leases_position(js)
    # Keys the replay does not name: every tenure of theirs acquired so far is over.
    book.default = (epoch, last + 1)

    def apply(key: str, value: bytes | None, revision: int) -> None:
        pair = lease_pair(epoch, value, revision)
        if synced.is_set():
            book.learn(key, pair)
        else:
            book.replay(key, pair)

    await watch_bucket(js, names.LEASES_BUCKET, apply, stopping, synced)
