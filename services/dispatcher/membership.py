"""Which dispatcher nodes are alive: each heartbeats into the nodes bucket (a key per node with
a per-message TTL, so the server removes a silent node's key), and every node watches the
bucket (one watcher for all nodes).

A node counts another live while its key exists and its last heartbeat arrived here within the
membership TTL — the second condition is measured on this node's own monotonic clock, so it
needs no agreement between clocks and still holds if an expiry marker is missed. A draining
node (stopping) announces it, and stops counting for the choice of owners at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import nats.errors
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from flotilla import names
from flotilla.clock import Clock
from flotilla.timestamps import to_timestamp
from flotilla.v1.cluster_pb2 import NodeHeartbeat

__all__ = ["Membership"]

log = logging.getLogger("dispatcher.membership")


class Membership:
    """This node's heartbeat and its view of the live nodes."""

    def __init__(
        self,
        js: JetStreamContext,
        *,
        node: str,
        interval_seconds: float,
        ttl_seconds: int,
        clock: Clock,
        owned: Callable[[], int] = lambda: 0,
        version: str = "",
    ) -> None:
        self._js = js
        self.node = node
        self._interval = interval_seconds
        self._ttl = ttl_seconds
        self._clock = clock
        self._owned = owned
        self._version = version
        self._started = clock.now()
        self.draining = False
        # node -> (heartbeat, monotonic instant it was received here)
        self._seen: dict[str, tuple[NodeHeartbeat, float]] = {}
        self._live: frozenset[str] = frozenset()
        self._listeners: list[Callable[[], None]] = []
        self.last_heartbeat: float | None = None
        self.synced = asyncio.Event()
        self._kv: KeyValue | None = None

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call `listener` whenever the set of live nodes changes."""
        self._listeners.append(listener)

    def live_nodes(self) -> frozenset[str]:
        """The nodes that share the ships now: live, not draining; this node is among them
        unless it is draining."""
        return self._live

    def heartbeat_ok(self) -> tuple[bool, str]:
        """Readiness: this node's heartbeat was written within the membership TTL."""
        if self.last_heartbeat is None:
            return False, "no heartbeat written yet"
        age = self._clock.monotonic() - self.last_heartbeat
        if age > self._ttl:
            return False, f"last heartbeat {age:.1f}s ago"
        return True, f"{len(self._live)} live node(s)"

    def _evaluate(self) -> None:
        now = self._clock.monotonic()
        live = {
            node
            for node, (beat, seen) in self._seen.items()
            if now - seen <= self._ttl and not beat.draining
        }
        if self.draining:
            live.discard(self.node)
        else:
            live.add(self.node)
        frozen = frozenset(live)
        if frozen != self._live:
            log.info("live nodes: %s", ", ".join(sorted(frozen)) or "none")
            self._live = frozen
            for listener in self._listeners:
                listener()

    def _heartbeat(self) -> NodeHeartbeat:
        return NodeHeartbeat(
            node=self.node,
            started_at=to_timestamp(self._started),
            sent_at=to_timestamp(self._clock.now()),
            owned_ships=self._owned(),
            version=self._version,
            draining=self.draining,
        )

    async def beat(self) -> bool:
        """Write this node's heartbeat once; False when it could not be written."""
        subject = f"$KV.{names.NODES_BUCKET}.{self.node}"
        sent = self._clock.monotonic()
        try:
            await self._js.publish(
                subject,
                self._heartbeat().SerializeToString(),
                headers={"Nats-TTL": f"{self._ttl}s"},
                timeout=self._interval * 2,
            )
        except Exception as exc:
            log.warning("heartbeat not written: %s", exc)
            return False
        self.last_heartbeat = sent
        return True

    async def run(self, stopping: asyncio.Event) -> None:
        """Heartbeat and watch until `stopping` is set (then the caller announces draining and
        leaves with `leave`)."""
        self._kv = await self._js.key_value(names.NODES_BUCKET)
        watcher = await self._kv.watchall()
        watch = asyncio.create_task(self._watch(watcher), name="membership-watch")
        try:
            while not stopping.is_set():
                await self.beat()
                self._evaluate()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), self._interval)
        finally:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watch
            with contextlib.suppress(Exception):
                await watcher.stop()  # type: ignore[no-untyped-call]

    async def _watch(self, watcher: KeyValue.KeyWatcher) -> None:
        while True:
            try:
                entry = await watcher.updates(timeout=self._ttl)  # type: ignore[no-untyped-call]
            except nats.errors.TimeoutError:
                self._evaluate()
                continue
            if entry is None:
                self.synced.set()
                self._evaluate()
                continue
            if entry.operation in ("DEL", "PURGE") or not entry.value:
                self._seen.pop(entry.key, None)
            else:
                try:
                    beat = NodeHeartbeat.FromString(entry.value)
                except Exception:
                    log.warning("ignoring an undecodable heartbeat under %r", entry.key)
                    continue
                self._seen[entry.key] = (beat, self._clock.monotonic())
            self._evaluate()

    async def announce_draining(self) -> None:
        """Tell the other nodes this one is leaving, so they start taking its ships."""
        self.draining = True
        self._evaluate()
        await self.beat()

    async def leave(self) -> None:
        """Remove this node's key (after its leases are released)."""
        kv = self._kv or await self._js.key_value(names.NODES_BUCKET)
        with contextlib.suppress(Exception):
            await kv.delete(self.node)
