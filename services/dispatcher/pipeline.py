"""Pipelined JetStream publishes: many messages out, one wait for all their acknowledgements.

Lease renewals, lease acquisitions and events go out in batches of hundreds or thousands; each
is published with a reply subject under one inbox subscription, and its acknowledgement (or
refusal, e.g. a compare-and-set that found another revision) fills its place in the batch's
results; one future per batch wakes the publisher when the last one has come. A refusal is
a result, not an exception, so a batch in which some writes are refused costs no more than one
in which none is. (nats-py's own `publish_async` leaves the future of a refused publish
unresolved, which is why this exists.)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

__all__ = ["Ack", "Pipeline", "Write"]

_NO_RESPONDERS = "503"
# A batch yields to the event loop between slices this large: often enough that ships are not
# held up for long, seldom enough that a batch of ten thousand lease renewals is not stretched
# out behind everything else the loop has to do (each yield waits for every ready callback).
_YIELD_EVERY = 1024
# nats-py hands a subscription's messages to its callback one after another without returning
# to the loop while more are queued: the acknowledgements of a batch of thousands would be read
# in one go. The reply callback yields this often.
_REPLY_YIELD_EVERY = 128
# A stored write's acknowledgement, `{"stream":"KV_x","seq":123}` (perhaps with a domain or a
# duplicate flag): read its sequence without a JSON parse, the most frequent answer by far.
_SEQ = re.compile(rb'"seq":(\d+)')


@dataclass(frozen=True, slots=True)
class Write:
    """One message to publish to a stream."""

    subject: str
    payload: bytes
    headers: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Ack:
    """The stream's answer to one write: `seq` when stored; else `err_code` (0: no answer in
    time, or no stream listens) and the server's description."""

    seq: int = 0
    err_code: int = 0
    description: str = ""

    @property
    def ok(self) -> bool:
        """Was the write stored?"""
        return self.seq > 0


@dataclass(slots=True)
class _Batch:
    """The acknowledgements of one `publish_all`: filled in by index, `done` once all are."""

    results: list[Ack | None]
    left: int
    done: asyncio.Future[None]


class Pipeline:
    """Publishes to JetStream over one connection, many acknowledgements awaited at once (one
    future per batch, not per write)."""

    def __init__(self, nc: NatsClient, *, timeout_seconds: float = 5.0) -> None:
        self._nc = nc
        self._timeout = timeout_seconds
        self._prefix = ""
        self._waiting: dict[str, tuple[_Batch, int]] = {}
        self._tokens = itertools.count()
        self._subscription: Subscription | None = None
        self._replies = 0

    async def start(self) -> None:
        """Subscribe to the replies (once)."""
        if self._subscription is None:
            self._prefix = self._nc.new_inbox()
            self._subscription = await self._nc.subscribe(f"{self._prefix}.*", cb=self._on_reply)

    async def close(self) -> None:
        """Stop listening; writes still waiting are answered as not acknowledged."""
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()
            self._subscription = None
        for token in list(self._waiting):
            self._resolve(token, Ack(description="closed"))

    def _resolve(self, token: str, ack: Ack) -> None:
        entry = self._waiting.pop(token, None)
        if entry is None:
            return
        batch, index = entry
        batch.results[index] = ack
        batch.left -= 1
        if batch.left == 0 and not batch.done.done():
            batch.done.set_result(None)

    async def _on_reply(self, msg: Msg) -> None:
        self._replies += 1
        if self._replies % _REPLY_YIELD_EVERY == 0:
            await asyncio.sleep(0)
        token = msg.subject[len(self._prefix) + 1 :]
        if token not in self._waiting:
            return
        self._resolve(token, self._ack(msg))

    @staticmethod
    def _ack(msg: Msg) -> Ack:
        if msg.headers and msg.headers.get("Status") == _NO_RESPONDERS:
            return Ack(description="no stream")
        data = msg.data
        if b'"error"' not in data:
            match = _SEQ.search(data)
            if match is not None:
                return Ack(seq=int(match.group(1)))
        try:
            answer = json.loads(data)
        except ValueError:
            return Ack(description="unreadable acknowledgement")
        error = answer.get("error")
        if error:
            return Ack(
                err_code=int(error.get("err_code", 0)),
                description=str(error.get("description", "")),
            )
        return Ack(seq=int(answer.get("seq", 0)))

    async def publish_all(self, writes: Sequence[Write]) -> list[Ack]:
        """Publish every write and wait (at most the timeout) for all acknowledgements; a write
        not acknowledged in time gets an `Ack` that is not ok."""
        await self.start()
        if not writes:
            return []
        batch = _Batch(
            [None] * len(writes), len(writes), asyncio.get_running_loop().create_future()
        )
        tokens: list[str] = []
        try:
            for index, write in enumerate(writes):
                if index and index % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)  # a batch of thousands must not hold ships up
                token = str(next(self._tokens))
                self._waiting[token] = (batch, index)
                tokens.append(token)
                try:
                    await self._nc.publish(
                        write.subject,
                        write.payload,
                        reply=f"{self._prefix}.{token}",
                        headers=write.headers,
                    )
                except Exception as exc:
                    self._resolve(token, Ack(description=f"not sent: {exc}"))
            if batch.left:
                await asyncio.wait({batch.done}, timeout=self._timeout)
        finally:
            for token in tokens:  # not acknowledged in time (or the wait was cancelled)
                self._resolve(token, Ack(description="no acknowledgement in time"))
        return [ack if ack is not None else Ack() for ack in batch.results]

    async def publish(self, write: Write) -> Ack:
        """Publish one write and wait for its acknowledgement."""
        return (await self.publish_all([write]))[0]
