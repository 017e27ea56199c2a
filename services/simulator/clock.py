"""Where the simulator's time comes from: the system clock, or a manual one that tests advance.

Two readings are needed: `now()` for the UTC timestamps the API reports (arrivals, cooldown
expirations) and `monotonic()` for the rate limiter, which must not jump with the wall clock.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """A source of time for the simulator."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (only differences matter)."""
        ...


class SystemClock:
    """The real clocks of this machine."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


DEFAULT_MANUAL_START = datetime(2025, 1, 1, tzinfo=UTC)


class ManualClock:
    """A clock that only moves when told to, so a test can play minutes of game in no time."""

    def __init__(self, start: datetime = DEFAULT_MANUAL_START) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")
        self._start = start.astimezone(UTC)
        self._elapsed = 0.0

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        return self._elapsed

    def advance(self, seconds: float) -> None:
        """Move both readings forward by `seconds` (never backwards)."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self._elapsed += seconds
