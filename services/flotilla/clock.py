"""Time as an injected object, so that schedulers, limiters, cooldowns and flights can be tested
over minutes of simulated time without sleeping.

Three readings: `monotonic()` for intervals (never jumps with the wall clock; asyncio's loop uses
the same clock), `time()` for wall-clock seconds since the epoch, and `now()` for the UTC
timestamps the API reports (arrivals, cooldown expirations).
"""

from __future__ import annotations

import time as _time
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["DEFAULT_MANUAL_START", "Clock", "ManualClock", "SystemClock"]


class Clock(Protocol):
    """A source of time."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (only differences matter)."""
        ...

    def time(self) -> float:
        """Wall-clock seconds since the Unix epoch."""
        ...

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    """The machine's real clocks."""

    def monotonic(self) -> float:
        """The machine's monotonic clock (the one asyncio's loop uses)."""
        return _time.monotonic()

    def time(self) -> float:
        """The machine's wall clock, seconds since the epoch."""
        return _time.time()

    def now(self) -> datetime:
        """The machine's wall clock as an aware UTC datetime."""
        return datetime.now(UTC)


DEFAULT_MANUAL_START = datetime(2025, 1, 1, tzinfo=UTC)


class ManualClock:
    """A clock that moves only when told to; all three readings advance together."""

    def __init__(
        self, start: datetime = DEFAULT_MANUAL_START, *, monotonic_start: float = 0.0
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")
        self._start = start.astimezone(UTC)
        self._monotonic_start = monotonic_start
        # Kept as the monotonic reading itself (not start + elapsed) so that advancing to an
        # instant computed from earlier readings lands on it exactly, with no rounding.
        self._monotonic = monotonic_start

    def _elapsed(self) -> float:
        return self._monotonic - self._monotonic_start

    def monotonic(self) -> float:
        """The manual monotonic reading."""
        return self._monotonic

    def time(self) -> float:
        """The wall-clock reading: the start plus the time advanced."""
        return self._start.timestamp() + self._elapsed()

    def now(self) -> datetime:
        """The wall-clock reading as an aware UTC datetime."""
        return self._start + timedelta(seconds=self._elapsed())

    def advance(self, seconds: float) -> None:
        """Move time forward by `seconds` (never backwards)."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self._monotonic += seconds

    def advance_to(self, monotonic: float) -> None:
        """Move time forward to the monotonic instant `monotonic` (no-op if already past it)."""
        self._monotonic = max(self._monotonic, monotonic)
