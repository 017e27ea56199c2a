"""Leader election by a lease in NATS KV: only the conductor holding the `leader` key of the
conductor bucket reconciles and buys.

The key is created with a per-message TTL (the server expires it `ttl_seconds` after its last
write) and renewed by compare-and-set on its revision, so two conductors can never both renew
it. A holder counts itself leader only until `ttl - renew interval` after its last successful
renewal (by the injected clock), so it stops acting before another can take the key. Before
each purchase the leader confirms the key still carries its revision (`confirm`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

import nats.errors
import nats.js.errors
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from flotilla import names
from flotilla.clock import Clock

__all__ = ["LeaderLease"]

log = logging.getLogger("conductor.leader")


class LeaderLease:
    """This conductor's view of the leader lease (see the module docstring)."""

    def __init__(
        self,
        js: JetStreamContext,
        clock: Clock,
        *,
        ttl_seconds: int,
        renew_seconds: float,
        holder: str | None = None,
    ) -> None:
        self._js = js
        self._clock = clock
        self.ttl_seconds = ttl_seconds
        self.renew_seconds = renew_seconds
        self.holder = holder or uuid.uuid4().hex[:12]
        self.revision = 0
        self._valid_until = 0.0
        self._kv: KeyValue | None = None
        self.changed = asyncio.Event()

    async def _bucket(self) -> KeyValue:
        if self._kv is None:
            self._kv = await self._js.key_value(names.CONDUCTOR_BUCKET)
        return self._kv

    @property
    def is_leader(self) -> bool:
        """True while this conductor holds the lease with time to spare."""
        return self.revision > 0 and self._clock.monotonic() < self._valid_until

    def _held(self, revision: int, started: float) -> None:
        was = self.is_leader
        self.revision = revision
        self._valid_until = started + self.ttl_seconds - self.renew_seconds
        if not was:
            log.info("conductor %s is the leader (lease revision %d)", self.holder, revision)
            self.changed.set()

    def _lost(self, why: str) -> None:
        if self.revision:
            log.warning("conductor %s lost the leader lease: %s", self.holder, why)
            self.changed.set()
        self.revision = 0
        self._valid_until = 0.0

    async def step(self) -> bool:
        """Take or renew the lease once; True while leader."""
        kv = await self._bucket()
        started = self._clock.monotonic()
        value = self.holder.encode()
        try:
            if self.revision:
                # `update` takes no TTL: the compare-and-set is published directly.
                ack = await self._js.publish(
                    f"$KV.{names.CONDUCTOR_BUCKET}.{names.CONDUCTOR_LEADER_KEY}",
                    value,
                    headers={"Nats-Expected-Last-Subject-Sequence": str(self.revision)},
                    msg_ttl=self.ttl_seconds,
                )
                revision = ack.seq
            else:
                revision = await kv.create(
                    names.CONDUCTOR_LEADER_KEY, value, msg_ttl=self.ttl_seconds
                )
        except (nats.js.errors.KeyWrongLastSequenceError, nats.js.errors.APIError) as exc:
            self._lost(f"the key is held by another ({exc.__class__.__name__})")
            return False
        except (nats.errors.Error, nats.js.errors.Error) as exc:
            # The write may or may not have happened: keep leading only until the last
            # renewal's time runs out.
            log.warning("leader lease write failed: %r", exc)
            return self.is_leader
        self._held(int(revision), started)
        return True

    async def confirm(self) -> bool:
        """Read the key: True if it still carries this conductor's revision (and time is left)."""
        if not self.is_leader:
            return False
        kv = await self._bucket()
        try:
            entry = await kv.get(names.CONDUCTOR_LEADER_KEY)
        except (nats.errors.Error, nats.js.errors.Error):
            return False
        return int(entry.revision or 0) == self.revision and self.is_leader

    async def run(self, stopping: asyncio.Event) -> None:
        """Take and renew the lease until `stopping` is set, then give it up."""
        while not stopping.is_set():
            try:
                await self.step()
            except Exception:
                log.exception("leader lease step failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.renew_seconds)
        await self.release()

    async def release(self) -> None:
        """Delete the key if it is still ours, so a standby takes over at once."""
        if not self.revision:
            return
        kv = await self._bucket()
        with contextlib.suppress(nats.errors.Error, nats.js.errors.Error):
            await kv.delete(names.CONDUCTOR_LEADER_KEY, last=self.revision)
        self._lost("released")
