"""Keeping the garbage collector's full collections short on a node that holds thousands of
ships.

CPython's full (generation 2) collection walks every tracked object that is not frozen. A node
with ten thousand ships replaces their state all the time, and what replaces it lives long and
ends in generation 2: measured at 10,000 ships, a full collection every ~7 s walked 100,000 to
200,000 such objects and held the event loop 100–170 ms (ships that became ready meanwhile
waited it out: the ready → request delay's tail), growing with the node's age. Freezing the
heap once after the fleet loaded did not last, since the frozen state was soon replaced.

`HeapKeeper` freezes the heap right after every full collection (a gc callback): at that
moment every tracked object has just survived a full collection, so nothing frozen is garbage,
and the next full collection walks only what survived since. Reference counting still frees
frozen objects that are no longer used; only a frozen reference cycle that becomes garbage
later is not collected, until the next `settle` (unfreeze, collect everything, freeze), which
runs every `resettle_seconds` — one longer pause per interval instead of one per few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from typing import Any

__all__ = ["HeapKeeper", "settle_heap"]

log = logging.getLogger("dispatcher.heap")


def settle_heap() -> tuple[int, int]:
    """Collect garbage (frozen objects included), then freeze what is alive; return how many
    objects were collected and how many are frozen."""
    began = time.perf_counter()
    gc.unfreeze()
    collected = gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info(
        "heap settled: %d objects collected, %d frozen in %.0f ms",
        collected,
        frozen,
        1000 * (time.perf_counter() - began),
    )
    return collected, frozen


class HeapKeeper:
    """Freezes the heap after every full collection while started; settles it periodically."""

    def __init__(self, resettle_seconds: float) -> None:
        self.resettle_seconds = resettle_seconds
        self.freezes = 0  # full collections followed by a freeze

    def start(self) -> None:
        """Freeze after every full collection from now on."""
        if self._after_collection not in gc.callbacks:
            gc.callbacks.append(self._after_collection)

    def stop(self) -> None:
        """Stop freezing, and hand what is frozen back to the collector (the next full
        collection walks it all once: the node is stopping)."""
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._after_collection)
        gc.unfreeze()

    def _after_collection(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and info.get("generation") == 2:
            gc.freeze()
            self.freezes += 1

    async def run(self, stopping: asyncio.Event) -> None:
        """Settle the heap every `resettle_seconds` until `stopping` is set."""
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.resettle_seconds)
            if not stopping.is_set():
                settle_heap()
