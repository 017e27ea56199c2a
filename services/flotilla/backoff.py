"""The one backoff rule every retry loop in Flotilla uses: exponential steps, capped, with
"equal jitter" (half of each step fixed, half random), so that replicas that failed together
do not retry together, yet no wait is shorter than half its step."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["Backoff", "BackoffSchedule"]


@dataclass(frozen=True)
class Backoff:
    """Waits of `base_seconds`, doubling per failure up to `max_seconds`, jittered."""

    base_seconds: float
    max_seconds: float

    def step(self, failures: int) -> float:
        """The capped exponential step after `failures` consecutive failures (1, 2, ...)."""
        exponent = max(0, failures - 1)
        # Capping the exponent keeps 2.0**n finite however long an outage lasts.
        return float(min(self.max_seconds, self.base_seconds * 2.0 ** min(exponent, 60)))

    def delay(self, failures: int, rng: random.Random | None = None) -> float:
        """The wait before the next attempt after `failures` consecutive failures."""
        step = self.step(failures)
        draw = (rng or random).uniform(0.0, step / 2.0)
        return step / 2.0 + draw

    def schedule(self, rng: random.Random | None = None) -> BackoffSchedule:
        """A counter of failures that yields the next wait each time it is asked."""
        return BackoffSchedule(self, rng)


@dataclass
class BackoffSchedule:
    """The waits of one retry loop: `next_delay()` counts a failure and returns the wait;
    `reset()` after a success starts again from the base."""

    backoff: Backoff
    rng: random.Random | None = None
    failures: int = field(default=0)

    def next_delay(self) -> float:
        """Count one more failure and return the wait before the next attempt."""
        self.failures += 1
        return self.backoff.delay(self.failures, self.rng)

    def reset(self) -> None:
        """The last attempt worked: the next failure waits the base step again."""
        self.failures = 0
