"""Pipelined JetStream publishes: many messages out, one wait for all their acknowledgements.

Lease renewals, lease acquisitions and events go out in batches of hundreds or thousands; each
is published with a reply subject under one inbox subscription, and its acknowledgement (or
refusal, e.g. a compare-and-set that found another revision) resolves its future. A refusal is
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


class Pipeline:
    """Publishes to JetStream over one connection, many acknowledgements awaited at once."""

    def __init__(self, nc: NatsClient, *, timeout_seconds: float = 5.0) -> None:
        self._nc = nc
        self._timeout = timeout_seconds
        self._prefix = ""
        self._futures: dict[str, asyncio.Future[Ack]] = {}
        self._tokens = itertools.count()
        self._subscription: Subscription | None = None

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
        for future in self._futures.values():
            if not future.done():
                future.set_result(Ack(description="closed"))
        self._futures.clear()

    async def _on_reply(self, msg: Msg) -> None:
        token = msg.subject[len(self._prefix) + 1 :]
        future = self._futures.pop(token, None)
        if future is None or future.done():
            return
        if msg.headers and msg.headers.get("Status") == _NO_RESPONDERS:
            future.set_result(Ack(description="no stream"))
            return
        data = msg.data
        if b'"error"' not in data:
            match = _SEQ.search(data)
            if match is not None:
                future.set_result(Ack(seq=int(match.group(1))))
                return
        try:
            answer = json.loads(msg.data)
        except ValueError:
            future.set_result(Ack(description="unreadable acknowledgement"))
            return
        error = answer.get("error")
        if error:
            future.set_result(
                Ack(
                    err_code=int(error.get("err_code", 0)),
                    description=str(error.get("description", "")),
                )
            )
        else:
            future.set_result(Ack(seq=int(answer.get("seq", 0))))

    async def publish_all(self, writes: Sequence[Write]) -> list[Ack]:
        """Publish every write and wait (at most the timeout) for all acknowledgements; a write
        not acknowledged in time gets an `Ack` that is not ok."""
        await self.start()
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Ack]] = []
        tokens: list[str] = []
        for index, write in enumerate(writes):
            if index and index % _YIELD_EVERY == 0:
                await asyncio.sleep(0)  # a batch of thousands must not hold ships up
            token = str(next(self._tokens))
            future: asyncio.Future[Ack] = loop.create_future()
            self._futures[token] = future
            futures.append(future)
            tokens.append(token)
            try:
                await self._nc.publish(
                    write.subject,
                    write.payload,
                    reply=f"{self._prefix}.{token}",
                    headers=write.headers,
                )
            except Exception as exc:
                self._futures.pop(token, None)
                future.set_result(Ack(description=f"not sent: {exc}"))
        if futures:
            await asyncio.wait(futures, timeout=self._timeout)
        results: list[Ack] = []
        for token, future in zip(tokens, futures, strict=True):
            if future.done():
                results.append(future.result())
            else:
                self._futures.pop(token, None)
                future.cancel()
                results.append(Ack(description="no acknowledgement in time"))
        return results

    async def publish(self, write: Write) -> Ack:
        """Publish one write and wait for its acknowledgement."""
        return (await self.publish_all([write]))[0]
