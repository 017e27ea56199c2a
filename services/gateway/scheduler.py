"""The priority scheduler: which waiting call gets the next request the rate limit allows.

Classes are served highest first, first-in-first-out within a class, with aging by grants: a
class that has waiting calls and has been passed over `aging_after` times becomes a candidate,
and the candidate passed over most often is served next. That bounds every class's share from
below under permanent overload (see `PriorityScheduler`). Each class has a queue limit; a full
class refuses at once instead of growing without bound. Deadlines are tracked in a heap so that
calls whose deadline passes while queued can be answered at that moment without spending a
request.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from pydantic import Field

from flotilla.clock import Clock
from flotilla.semconv import BACKGROUND, COOLDOWN_START, FLEET, PRIORITY_CLASSES, SHIP_UNBLOCK
from flotilla.settings import Section

__all__ = ["Entry", "PriorityScheduler", "QueueConfig", "QueueFull"]

T = TypeVar("T")  # what the scheduler queues (the gateway: a ticket per call)


class QueueConfig(Section):
    """How many calls may wait per priority class, and when a passed-over class is served
    (the `queue` section of the gateway's settings)."""

    limit_cooldown_start: int = Field(
        default=1000, ge=1, description="calls that may wait to start a cooldown or a flight"
    )
    limit_ship_unblock: int = Field(
        default=1000, ge=1, description="calls that may wait to unblock a ship (dock, sell, ...)"
    )
    limit_fleet: int = Field(
        default=200, ge=1, description="fleet-management calls that may wait (buy ship, mounts)"
    )
    limit_background: int = Field(
        default=2000, ge=1, description="background reads that may wait; more are overloaded"
    )
    default_deadline_seconds: float = Field(
        default=300.0,
        gt=0,
        le=3600,
        description="the deadline of a call that brings none (every call has one, so none "
        "waits after its caller gave up)",
    )
    aging_after_grants: int = Field(
        default=8,
        ge=1,
        description="a class with waiting calls passed over this many times is served next",
    )

    def limits(self) -> dict[int, int]:
        """The queue limit of each priority class, as the scheduler takes them."""
        return {
            COOLDOWN_START: self.limit_cooldown_start,
            SHIP_UNBLOCK: self.limit_ship_unblock,
            FLEET: self.limit_fleet,
            BACKGROUND: self.limit_background,
        }


class QueueFull(Exception):
    """The call's priority class already holds its queue limit of waiting calls."""

    def __init__(self, priority: int, limit: int) -> None:
        super().__init__(f"queue of priority class {priority} is full ({limit} calls waiting)")
        self.priority = priority
        self.limit = limit


@dataclass(eq=False)
class Entry(Generic[T]):
    """A queued item with its class, deadline (monotonic seconds) and arrival time."""

    item: T
    priority: int
    deadline: float | None
    enqueued_at: float
    seq: int
    queued: bool = field(default=True)


class PriorityScheduler(Generic[T]):
    """Strict priority between classes with aging by grants; FIFO within a class.

    Bound: with C classes and aging threshold T, a class that stays non-empty is served at least
    once in every T + C consecutive pops. It is passed over at most T times before it becomes a
    candidate; from then on every pop serves it or a candidate passed over at least as often,
    and each of the other C - 1 classes can be such a candidate at most once (serving a class
    resets its count below this one's). So under permanent overload the lowest class still gets
    at least 1/(T + C) of the requests, and the highest class gives up at most (C - 1)/(T + 1).
    """

    def __init__(
        self,
        *,
        clock: Clock,
        queue_limits: Mapping[int, int],
        aging_after: int = 8,
        classes: Iterable[int] = PRIORITY_CLASSES,
    ) -> None:
        if aging_after < 1:
            raise ValueError("aging_after must be at least 1")
        self._clock = clock
        self._classes = tuple(classes)
        self._limits = {c: int(queue_limits[c]) for c in self._classes}
        self._aging_after = aging_after
        self._queues: dict[int, deque[Entry[T]]] = {c: deque() for c in self._classes}
        self._depth: dict[int, int] = dict.fromkeys(self._classes, 0)
        self._passed_over: dict[int, int] = dict.fromkeys(self._classes, 0)
        self._deadlines: list[tuple[float, int, Entry[T]]] = []
        self._seq = itertools.count()

    @property
    def aging_after(self) -> int:
        """How many times a waiting class may be passed over before it is a candidate."""
        return self._aging_after

    def share_bound(self) -> float:
        """The least share of pops any continuously waiting class gets: 1 / (T + C)."""
        return 1.0 / (self._aging_after + len(self._classes))

    def push(self, item: T, priority: int, deadline: float | None = None) -> Entry[T]:
        """Queue `item` in class `priority`; raise `QueueFull` when that class is at its limit."""
        if priority not in self._queues:
            raise ValueError(f"unknown priority class {priority}")
        if self._depth[priority] >= self._limits[priority]:
            raise QueueFull(priority, self._limits[priority])
        entry = Entry(item, priority, deadline, self._clock.monotonic(), next(self._seq))
        self._queues[priority].append(entry)
        self._depth[priority] += 1
        if deadline is not None:
            heapq.heappush(self._deadlines, (deadline, entry.seq, entry))
        return entry

    def depth(self, priority: int | None = None) -> int:
        """Calls waiting in class `priority`, or in all classes."""
        if priority is None:
            return sum(self._depth.values())
        return self._depth[priority]

    def __len__(self) -> int:
        """Calls waiting in all classes."""
        return self.depth()

    def passed_over(self, priority: int) -> int:
        """How many pops have passed over class `priority` since it was last served."""
        return self._passed_over[priority]

    def peek(self) -> Entry[T] | None:
        """The entry `pop()` would return now, without removing it."""
        chosen = self._choose()
        return None if chosen is None else self._head(chosen)

    def pop(self) -> Entry[T] | None:
        """Remove and return the next entry to serve, or None when nothing waits."""
        chosen = self._choose()
        if chosen is None:
            return None
        entry = self._queues[chosen].popleft()
        self._served(entry)
        return entry

    def peek_below(self, priority: int) -> Entry[T] | None:
        """The head of the highest class more urgent than `priority` (a lower number) that
        has waiting calls, whatever aging would choose; None when none waits."""
        for c in self._classes:
            if c < priority and self._depth[c] > 0:
                return self._head(c)
        return None

    def pop_entry(self, entry: Entry[T]) -> None:
        """Serve `entry` (the head of its class, from `peek_below`) instead of `pop()`'s
        choice: counted as a grant to its class, as `pop()` would."""
        head = self._head(entry.priority)
        if head is not entry:
            raise ValueError("only the head of a class can be served")
        self._queues[entry.priority].popleft()
        self._served(entry)

    def _served(self, entry: Entry[T]) -> None:
        self._mark_gone(entry)
        for c in self._classes:
            if c == entry.priority:
                self._passed_over[c] = 0
            elif self._depth[c] > 0:
                self._passed_over[c] += 1

    def remove(self, entry: Entry[T]) -> bool:
        """Take a still-queued entry out (its caller went away); False if it already left."""
        if not entry.queued:
            return False
        self._mark_gone(entry)
        return True

    def expire(self) -> list[Entry[T]]:
        """Remove and return every queued entry whose deadline is now or past."""
        now = self._clock.monotonic()
        expired: list[Entry[T]] = []
        while self._deadlines and self._deadlines[0][0] <= now:
            _, _, entry = heapq.heappop(self._deadlines)
            if entry.queued:
                self._mark_gone(entry)
                expired.append(entry)
        return expired

    def next_deadline(self) -> float | None:
        """The earliest deadline among queued entries, or None."""
        while self._deadlines and not self._deadlines[0][2].queued:
            heapq.heappop(self._deadlines)
        return self._deadlines[0][0] if self._deadlines else None

    def drain(self) -> list[Entry[T]]:
        """Remove and return every queued entry, highest class first."""
        drained: list[Entry[T]] = []
        for c in self._classes:
            while self._queues[c]:
                entry = self._queues[c].popleft()
                if entry.queued:
                    self._mark_gone(entry)
                    drained.append(entry)
        self._deadlines.clear()
        return drained

    def _mark_gone(self, entry: Entry[T]) -> None:
        entry.queued = False
        self._depth[entry.priority] -= 1
        if self._depth[entry.priority] == 0:
            # An empty class is not waiting, so it is not being passed over.
            self._passed_over[entry.priority] = 0

    def _head(self, priority: int) -> Entry[T] | None:
        queue = self._queues[priority]
        while queue and not queue[0].queued:
            queue.popleft()  # removed or expired earlier: dropped lazily
        return queue[0] if queue else None

    def _choose(self) -> int | None:
        best: int | None = None
        for c in self._classes:
            if self._depth[c] == 0 or self._passed_over[c] < self._aging_after:
                continue
            if best is None or self._passed_over[c] > self._passed_over[best]:
                best = c
        if best is not None:
            self._head(best)
            return best
        for c in self._classes:
            if self._depth[c] > 0:
                self._head(c)
                return c
        return None
