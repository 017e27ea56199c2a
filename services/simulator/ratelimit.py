"""The server's rate limit: two pools of points per client address and per agent token.

A request spends a point from the static pool (2, refilled in full 1 s after its first use
since the last refill) or, when that is empty, from the burst pool (30, refilled 60 s after its
first use). A client that sends as fast as it may gets static_limit per static period plus
burst_limit per burst period: 2 × 60 + 30 = 150 requests a minute with the defaults. Every
key a request carries (its address, its token) must have a point, and spends one.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from flotilla.clock import Clock
from simulator.config import SimulatorConfig
from simulator.views import iso

__all__ = [
    "ACCOUNT",
    "IP_ADDRESS",
    "BurstWindow",
    "Decision",
    "Pools",
    "RateLimiter",
]

IP_ADDRESS = "IP Address"
ACCOUNT = "Account"


@dataclass
class _Pool:
    limit: int
    period: float
    remaining: int
    refill_at: float | None = None  # monotonic seconds; None until first use after a refill

    def refresh(self, now: float) -> None:
        if self.refill_at is not None and now >= self.refill_at:
            self.remaining = self.limit
            self.refill_at = None

    def spend(self, now: float) -> None:
        if self.refill_at is None:
            self.refill_at = now + self.period
        self.remaining -= 1


@dataclass
class BurstWindow:
    """One of a key's burst windows: when it opened (its first burst point was spent, on the
    monotonic clock) and how many requests the key was allowed from then until the next one
    opened (both pools: the requests of one whole cycle of the limit)."""

    opened_at: float
    requests: int = 0


# Burst windows remembered per key: a day of them, sent as fast as the limit allows.
WINDOWS_KEPT = 1440


@dataclass
class _Buckets:
    static: _Pool
    burst: _Pool
    windows: deque[BurstWindow] = field(default_factory=lambda: deque(maxlen=WINDOWS_KEPT))

    def refresh(self, now: float) -> None:
        self.static.refresh(now)
        self.burst.refresh(now)

    @property
    def available(self) -> int:
        return self.static.remaining + self.burst.remaining

    def spend(self, now: float) -> None:
        if self.static.remaining > 0:
            self.static.spend(now)
        else:
            if self.burst.refill_at is None:
                self.windows.append(BurstWindow(now))
            self.burst.spend(now)
        if self.windows:
            self.windows[-1].requests += 1

    def next_point_at(self, now: float) -> float:
        """When a point is next available (now if one is)."""
        if self.available > 0:
            return now
        moments = [p.refill_at for p in (self.static, self.burst) if p.refill_at is not None]
        return min(moments) if moments else now


class Pools(NamedTuple):
    """One key's points left, and when (on the monotonic clock) each pool refills (None: not
    in use since its last refill)."""

    static: int
    burst: int
    static_refills_at: float | None
    burst_refills_at: float | None


@dataclass(frozen=True)
class Decision:
    """The outcome for one request, with everything the `x-ratelimit-*` headers report."""

    allowed: bool
    limit_type: str
    limit_per_second: int
    limit_burst: int
    remaining: int
    reset: datetime
    retry_after: float  # seconds; 0 when allowed

    def headers(self) -> dict[str, str]:
        """The `x-ratelimit-*` headers (and `retry-after` when refused) the response carries."""
        headers = {
            "x-ratelimit-type": self.limit_type,
            "x-ratelimit-limit-burst": str(self.limit_burst),
            "x-ratelimit-limit-per-second": str(self.limit_per_second),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": iso(self.reset),
        }
        if not self.allowed:
            headers["retry-after"] = str(max(1, math.ceil(self.retry_after)))
        return headers

    def error_data(self) -> dict[str, object]:
        """The `error.data` of a 429, as the API sends it."""
        return {
            "type": self.limit_type,
            "retryAfter": round(self.retry_after, 3),
            "limitBurst": self.limit_burst,
            "limitPerSecond": self.limit_per_second,
            "remaining": self.remaining,
            "reset": iso(self.reset),
        }


class RateLimiter:
    """Two-pool limits for every client address and agent token seen."""

    def __init__(self, config: SimulatorConfig, clock: Clock) -> None:
        self.limits = config.rate_limit
        self.clock = clock
        self._buckets: dict[tuple[str, str], _Buckets] = {}
        self._last_counted = -math.inf

    def _bucket(self, key: tuple[str, str]) -> _Buckets:
        bucket = self._buckets.get(key)
        if bucket is None:
            limits = self.limits
            bucket = _Buckets(
                static=_Pool(limits.static, limits.static_period_seconds, limits.static),
                burst=_Pool(limits.burst, limits.burst_period_seconds, limits.burst),
            )
            self._buckets[key] = bucket
        return bucket

    def pools(self, address: str) -> Pools:
        """`address`'s pools as of its last request."""
        bucket = self._bucket((IP_ADDRESS, address))
        return Pools(
            bucket.static.remaining,
            bucket.burst.remaining,
            bucket.static.refill_at,
            bucket.burst.refill_at,
        )

    def burst_windows(self, address: str) -> list[BurstWindow]:
        """`address`'s recent burst windows, oldest first (see `BurstWindow`)."""
        bucket = self._buckets.get((IP_ADDRESS, address))
        return [] if bucket is None else list(bucket.windows)

    def addresses(self) -> list[str]:
        """Every client address a request came from."""
        return [key for kind, key in self._buckets if kind == IP_ADDRESS]

    def check(self, address: str, token: str | None, arrived: float | None = None) -> Decision:
        """Spend a point for a request from `address` (and `token`), or refuse it.

        `arrived`: the monotonic instant the request reached the server, when that was earlier
        than now (a simulated way in ends at an exact instant; the event loop gets round to
        the request a little later, by however late its timer fired). Requests are counted in
        the order they are checked, never at an instant before one already counted."""
        actual = self.clock.monotonic()
        now = actual if arrived is None else min(actual, max(arrived, self._last_counted))
        self._last_counted = now
        lag = actual - now
        keys = [(IP_ADDRESS, address)]
        if token:
            keys.append((ACCOUNT, token))
        buckets = [(key[0], self._bucket(key)) for key in keys]
        for _, bucket in buckets:
            bucket.refresh(now)
        blocked = [(kind, b) for kind, b in buckets if b.available <= 0]
        if blocked:
            # Report the key that stays blocked longest: it decides when a retry can succeed.
            kind, bucket = max(blocked, key=lambda item: item[1].next_point_at(now))
            wait = max(0.0, bucket.next_point_at(now) - actual)
            return self._decision(False, kind, 0, wait)
        for _, bucket in buckets:
            bucket.spend(now)
        kind, bucket = min(buckets, key=lambda item: item[1].available)
        reset_in = self._reset_in(bucket, now) - lag  # the answer's headers speak of now
        return self._decision(True, kind, bucket.available, reset_in, retry_after=0.0)

    @staticmethod
    def _reset_in(bucket: _Buckets, now: float) -> float:
        pools = [p for p in (bucket.static, bucket.burst) if p.refill_at is not None]
        return min((p.refill_at or now) - now for p in pools) if pools else 0.0

    def _decision(
        self,
        allowed: bool,
        kind: str,
        remaining: int,
        reset_in: float,
        retry_after: float | None = None,
    ) -> Decision:
        return Decision(
            allowed=allowed,
            limit_type=kind,
            limit_per_second=self.limits.static,
            limit_burst=self.limits.burst,
            remaining=remaining,
            reset=self.clock.now() + timedelta(seconds=reset_in),
            retry_after=reset_in if retry_after is None else retry_after,
        )
