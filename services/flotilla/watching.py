"""One watcher over a whole KV bucket, feeding a function with every update (no watcher per
key: a node with ten thousand ships still has one watcher per bucket)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from nats.js import JetStreamContext

__all__ = ["watch_bucket"]


async def watch_bucket(
    js: JetStreamContext,
    bucket: str,
    apply: Callable[[str, bytes | None, int], None],
    stopping: asyncio.Event,
    synced: asyncio.Event | None = None,
) -> None:
    """Call `apply(key, value or None when deleted/expired, revision)` for the bucket's current
    keys and then every change, until `stopping` is set; set `synced` once the current keys
    have all been applied."""
    kv = await js.key_value(bucket)
    watcher = await kv.watchall()
    stop = asyncio.ensure_future(stopping.wait())
    try:
        while True:
            update = asyncio.ensure_future(watcher.updates(timeout=3600))  # type: ignore[no-untyped-call]
            done, _ = await asyncio.wait({update, stop}, return_when=asyncio.FIRST_COMPLETED)
            if update not in done:
                update.cancel()
                return
            try:
                entry = update.result()
            except Exception:
                continue
            if entry is None:
                if synced is not None:
                    synced.set()
                continue
            deleted = entry.operation in ("DEL", "PURGE") or entry.value is None
            apply(entry.key, None if deleted else entry.value, entry.revision or 0)
    finally:
        stop.cancel()
        with contextlib.suppress(Exception):
            await watcher.stop()  # type: ignore[no-untyped-call]
