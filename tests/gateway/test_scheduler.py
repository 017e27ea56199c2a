"""The priority scheduler: class order, aging with a proven bound, deadlines and queue limits."""

from __future__ import annotations

import random

import pytest

from flotilla.clock import ManualClock
from flotilla.semconv import BACKGROUND, COOLDOWN_START, FLEET, PRIORITY_CLASSES, SHIP_UNBLOCK
from gateway.scheduler import PriorityScheduler, QueueFull


def scheduler(
    clock: ManualClock | None = None, *, limit: int = 10_000, aging_after: int = 8
) -> PriorityScheduler[str]:
    return PriorityScheduler(
        clock=clock or ManualClock(monotonic_start=1000.0),
        queue_limits=dict.fromkeys(PRIORITY_CLASSES, limit),
        aging_after=aging_after,
    )


def drain_names(s: PriorityScheduler[str]) -> list[str]:
    names = []
    while (entry := s.pop()) is not None:
        names.append(entry.item)
    return names


def test_higher_classes_are_served_first_and_each_class_in_arrival_order() -> None:
    s = scheduler()
    s.push("read-1", BACKGROUND)
    s.push("buy-1", FLEET)
    s.push("dock-1", SHIP_UNBLOCK)
    s.push("extract-1", COOLDOWN_START)
    s.push("read-2", BACKGROUND)
    s.push("extract-2", COOLDOWN_START)
    s.push("dock-2", SHIP_UNBLOCK)
    assert drain_names(s) == [
        "extract-1",
        "extract-2",
        "dock-1",
        "dock-2",
        "buy-1",
        "read-1",
        "read-2",
    ]


def test_a_call_arriving_later_in_a_higher_class_overtakes_waiting_lower_classes() -> None:
    s = scheduler()
    for i in range(5):
        s.push(f"read-{i}", BACKGROUND)
    assert s.pop().item == "read-0"  # type: ignore[union-attr]
    s.push("extract", COOLDOWN_START)
    assert s.peek().item == "extract"  # type: ignore[union-attr]
    assert s.pop().item == "extract"  # type: ignore[union-attr]


def test_aging_serves_a_passed_over_class_after_the_threshold() -> None:
    s = scheduler(aging_after=3)
    s.push("read", BACKGROUND)
    for i in range(10):
        s.push(f"extract-{i}", COOLDOWN_START)
    served = [s.pop().item for _ in range(5)]  # type: ignore[union-attr]
    # Passed over three times, the background read is served on the fourth pop.
    assert served == ["extract-0", "extract-1", "extract-2", "read", "extract-3"]
    assert s.passed_over(BACKGROUND) == 0


@pytest.mark.parametrize("aging_after", [1, 4, 8, 20])
def test_under_permanent_overload_every_class_gets_at_least_its_proven_share(
    aging_after: int,
) -> None:
    """Every class is refilled after each pop so it never empties: over 20 000 pops, no class
    waits more than T + C - 1 pops between services, so each gets at least 1/(T + C)."""
    s = scheduler(aging_after=aging_after)
    rng = random.Random(7)
    for c in PRIORITY_CLASSES:
        for _ in range(3):
            s.push(f"{c}", c)
    served = dict.fromkeys(PRIORITY_CLASSES, 0)
    last_served = dict.fromkeys(PRIORITY_CLASSES, 0)
    longest_gap = dict.fromkeys(PRIORITY_CLASSES, 0)
    pops = 20_000
    for n in range(1, pops + 1):
        entry = s.pop()
        assert entry is not None
        c = entry.priority
        served[c] += 1
        longest_gap[c] = max(longest_gap[c], n - last_served[c])
        last_served[c] = n
        s.push(f"{c}", c)
        # Extra arrivals in random classes keep the overload permanent and irregular.
        extra = rng.choice(PRIORITY_CLASSES)
        s.push(f"{extra}", extra)
    bound = aging_after + len(PRIORITY_CLASSES)
    assert s.share_bound() == pytest.approx(1 / bound)
    for c in PRIORITY_CLASSES:
        assert longest_gap[c] <= bound, (c, longest_gap[c])
        assert served[c] / pops >= 1 / bound - 1e-3
    # The top class still takes the lion's share: each lower class at most once per T + 1 pops.
    lower = len(PRIORITY_CLASSES) - 1
    assert served[COOLDOWN_START] / pops >= 1 - lower / (aging_after + 1) - 1e-3


def test_a_lone_lowest_class_is_not_aged_ahead_of_anything() -> None:
    s = scheduler(aging_after=2)
    for i in range(4):
        s.push(f"read-{i}", BACKGROUND)
    assert drain_names(s) == ["read-0", "read-1", "read-2", "read-3"]
    assert all(s.passed_over(c) == 0 for c in PRIORITY_CLASSES)


def test_a_full_class_refuses_at_once_and_other_classes_still_accept() -> None:
    s = PriorityScheduler[str](
        clock=ManualClock(monotonic_start=1000.0),
        queue_limits={COOLDOWN_START: 5, SHIP_UNBLOCK: 5, FLEET: 5, BACKGROUND: 2},
    )
    s.push("read-1", BACKGROUND)
    s.push("read-2", BACKGROUND)
    with pytest.raises(QueueFull) as refused:
        s.push("read-3", BACKGROUND)
    assert refused.value.priority == BACKGROUND and refused.value.limit == 2
    s.push("extract", COOLDOWN_START)
    assert s.depth(BACKGROUND) == 2 and s.depth() == 3
    s.pop()
    s.pop()  # a background read left: there is room again
    s.push("read-3", BACKGROUND)
    assert s.depth(BACKGROUND) == 2


def test_calls_whose_deadline_passes_while_queued_are_expired_at_that_moment() -> None:
    clock = ManualClock(monotonic_start=1000.0)
    s = scheduler(clock)
    now = clock.monotonic()
    s.push("read-soon", BACKGROUND, deadline=now + 2.0)
    s.push("read-later", BACKGROUND, deadline=now + 10.0)
    s.push("read-never", BACKGROUND)
    assert s.next_deadline() == now + 2.0
    clock.advance(1.999)
    assert s.expire() == []
    clock.advance(0.001)
    assert [e.item for e in s.expire()] == ["read-soon"]
    assert s.next_deadline() == now + 10.0
    assert s.depth(BACKGROUND) == 2
    assert drain_names(s) == ["read-later", "read-never"]
    assert s.next_deadline() is None


def test_an_expired_entry_is_never_popped_and_a_popped_one_never_expires() -> None:
    clock = ManualClock(monotonic_start=1000.0)
    s = scheduler(clock)
    first = s.push("a", BACKGROUND, deadline=clock.monotonic() + 1)
    s.push("b", BACKGROUND, deadline=clock.monotonic() + 1)
    assert s.pop() is first
    clock.advance(5)
    assert [e.item for e in s.expire()] == ["b"]
    assert s.pop() is None and len(s) == 0


def test_a_removed_entry_leaves_its_queue_and_frees_its_place() -> None:
    s = PriorityScheduler[str](
        clock=ManualClock(monotonic_start=1000.0), queue_limits=dict.fromkeys(PRIORITY_CLASSES, 1)
    )
    entry = s.push("gone", FLEET, deadline=5.0)
    assert s.remove(entry) is True
    assert s.remove(entry) is False
    assert s.depth(FLEET) == 0 and s.next_deadline() is None
    s.push("next", FLEET)
    assert drain_names(s) == ["next"]


def test_drain_empties_every_class_highest_first() -> None:
    s = scheduler()
    s.push("read", BACKGROUND)
    s.push("extract", COOLDOWN_START)
    assert [e.item for e in s.drain()] == ["extract", "read"]
    assert len(s) == 0 and s.pop() is None
