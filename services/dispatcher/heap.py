"""Keeping the garbage collector's full collections short on a node that holds thousands of
ships.

CPython's full (generation 2) collection walks every tracked object; with ten thousand ship
tasks, models and controls alive that is a pause of half a second or more on the event loop,
and every ship that becomes ready meanwhile waits it out (the ready → request delay's tail).
Once a node first drives a large fleet whose ships have all loaded, `settle_heap` collects what
is garbage and moves every object still alive into the permanent generation, which later
collections skip: they walk only what was allocated since. Reference counting still frees
frozen objects that are no longer used; only a frozen reference cycle that becomes garbage
later stays until the next `settle_heap` (which unfreezes and collects first).
"""

from __future__ import annotations

import gc
import logging
import time

__all__ = ["SETTLE_AFTER_STARTS", "settle_heap"]

log = logging.getLogger("dispatcher.heap")

# Ships a node must drive (all loaded) before a settle is worth its one pause.
SETTLE_AFTER_STARTS = 500


def settle_heap() -> int:
    """Collect garbage (frozen objects included), then freeze what is alive; return how many
    objects are frozen."""
    began = time.perf_counter()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info(
        "heap settled: %d objects frozen in %.0f ms", frozen, 1000 * (time.perf_counter() - began)
    )
    return frozen
