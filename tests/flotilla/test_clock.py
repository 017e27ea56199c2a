"""The manual clock moves all three readings together, only forward, and exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flotilla.clock import ManualClock, SystemClock


def test_all_readings_advance_together() -> None:
    start = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    clock = ManualClock(start, monotonic_start=500.0)
    clock.advance(90.5)
    assert clock.monotonic() == 590.5
    assert clock.now() == start + timedelta(seconds=90.5)
    assert clock.time() == start.timestamp() + 90.5


def test_advance_to_lands_exactly_on_an_instant_and_never_goes_back() -> None:
    clock = ManualClock(monotonic_start=1000.0)
    target = clock.monotonic() + 1.0 + 0.005
    clock.advance_to(target)
    assert clock.monotonic() == target
    clock.advance_to(target - 10)
    assert clock.monotonic() == target
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(datetime(2025, 1, 1))


def test_the_system_clock_reports_utc() -> None:
    assert SystemClock().now().tzinfo is UTC
