"""A model of the SpaceTraders rate limit, so the gateway can spend it fully without a 429.

The server keeps two pools per IP address and per account: a static pool of 2 points that
refills 1 s after its first use, and a burst pool of 30 points that refills 60 s after its first
use and is drawn on only when the static pool is empty. `TwoPoolRateLimiter` mirrors both,
anchors each window on the moment the request that opened it was actually sent, corrects itself
from the `x-ratelimit-*` headers of every response, and on a 429 pauses all sending until the
`retry-after` (or a safe default when a bare HTML 429 carries no headers).
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Literal

from pydantic import Field

from flotilla.clock import Clock
from flotilla.settings import Section

__all__ = [
    "Permit",
    "Pool",
    "RateLimitConfig",
    "RateLimitHeaders",
    "TwoPoolRateLimiter",
    "parse_rate_limit_headers",
]

Pool = Literal["static", "burst"]


class RateLimitConfig(Section):
    """The limits to model and how cautiously to model them (the `rate_limit` section of the
    gateway's settings; the limiter takes it as it is)."""

    static: int = Field(
        default=2, ge=1, description="points of the static pool (corrected by the API's headers)"
    )
    static_period_seconds: float = Field(
        default=1.0, gt=0, description="the static pool refills this long after its first use"
    )
    burst: int = Field(default=30, ge=0, description="points of the burst pool")
    burst_period_seconds: float = Field(
        default=60.0, gt=0, description="the burst pool refills this long after its first use"
    )
    # Added to every window until the response to its first request places it exactly: covers
    # the server stamping a request a little after we sent it.
    margin_seconds: float = Field(
        default=0.005,
        ge=0,
        description="added to a window until the API's answer places it exactly",
    )
    default_pause_seconds: float = Field(
        default=2.0,
        gt=0,
        description="pause after a 429 that says nothing about when to come back (bare HTML)",
    )
    # Paced (low-priority) calls leave the static pool's later points to ship actions until
    # this fraction of its window has passed (the last point of 2: 0.8 s into a 1 s window).
    pace_fraction: float = Field(
        default=0.8,
        ge=0,
        le=0.95,
        description="fleet and background calls leave the static pool's later points to ship "
        "actions until this fraction of its window",
    )
    # Burst points paced calls leave to ship actions, until the last seconds of the burst
    # window, when they may take what is left (so that nothing is wasted).
    burst_reserve: int = Field(
        default=29,
        ge=0,
        description="burst points fleet and background calls leave to ship actions",
    )
    reserve_release_seconds: float = Field(
        default=3.0,
        ge=0,
        description="in the last seconds of the burst window the reserve is released to all",
    )

    @property
    def sustained_per_minute(self) -> float:
        """Requests per minute the limits allow when both pools are used fully."""
        return 60.0 * (
            self.static / self.static_period_seconds + self.burst / self.burst_period_seconds
        )


@dataclass(frozen=True)
class RateLimitHeaders:
    """The rate-limit facts one response carried (any of them may be missing)."""

    limit_type: str | None = None
    limit_per_second: int | None = None
    limit_burst: int | None = None
    remaining: int | None = None
    # Seconds from the response (on our wall clock) to the server's next refill; it carries the
    # server clock's offset from ours, which the limiter accounts for.
    reset_after: float | None = None
    retry_after: float | None = None  # seconds

    @property
    def empty(self) -> bool:
        """No rate-limit fact at all: a bare 429 from the edge rather than from the API."""
        return all(
            value is None
            for value in (
                self.limit_type,
                self.limit_per_second,
                self.limit_burst,
                self.remaining,
                self.reset_after,
                self.retry_after,
            )
        )


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value.strip()))
    except ValueError:
        return None


def _seconds_until(value: str | None, wall_now: float) -> float | None:
    """Seconds from `wall_now` to the instant `value` names (a number of seconds, an ISO time
    or an HTTP date); negative when that instant is past on our clock."""
    if not value:
        return None
    text = value.strip()
    try:
        return float(text)  # a number of seconds
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            when = parsedate_to_datetime(text)  # an HTTP date
        except (TypeError, ValueError):
            return None
    if when.tzinfo is None:
        return None
    return when.timestamp() - wall_now


def parse_rate_limit_headers(headers: Mapping[str, str], wall_now: float) -> RateLimitHeaders:
    """Read `x-ratelimit-*` and `retry-after` from response headers (case-insensitive)."""
    lower = {k.lower(): v for k, v in headers.items()}
    retry_after = _seconds_until(lower.get("retry-after"), wall_now)
    if retry_after is not None:
        retry_after = max(0.0, retry_after)
    return RateLimitHeaders(
        limit_type=lower.get("x-ratelimit-type"),
        limit_per_second=_int(lower.get("x-ratelimit-limit-per-second")),
        limit_burst=_int(lower.get("x-ratelimit-limit-burst")),
        remaining=_int(lower.get("x-ratelimit-remaining")),
        reset_after=_seconds_until(lower.get("x-ratelimit-reset"), wall_now),
        retry_after=retry_after,
    )


@dataclass
class _Window:
    """One pool: `used` points since its window opened at `anchor`; it refills at `ends`."""

    limit: int
    period: float
    used: int = 0
    anchor: float | None = None
    ends: float | None = None
    generation: int = 0  # bumped on every refill, so late feedback can tell windows apart
    opener_seq: int = 0  # the permit that opened the current window
    confirmed: bool = False  # the server has shown its own window (burst pool) is open

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def started(self) -> bool:
        return self.ends is not None

    def refresh(self, now: float) -> None:
        if self.ends is not None and now >= self.ends:
            self.used = 0
            self.anchor = None
            self.ends = None
            self.confirmed = False
            self.generation += 1

    def take(self, now: float, margin: float) -> bool:
        """Use one point; True when it opened a new window."""
        self.used += 1
        if self.ends is None:
            self.anchor = now
            self.ends = now + self.period + margin
            return True
        return False

    def extend_to(self, until: float) -> None:
        """The window refills no earlier than `until` (only ever moves the refill later)."""
        if self.ends is not None:
            self.ends = max(self.ends, until)

    def exhaust_until(self, until: float) -> None:
        """Mark the pool empty until at least `until`."""
        self.used = max(self.used, self.limit)
        if self.ends is None:
            self.anchor = until - self.period
            self.ends = until
        else:
            self.ends = max(self.ends, until)


@dataclass(eq=False)
class Permit:
    """Leave to send one request, from one pool; the limiter learns from it afterwards."""

    seq: int
    pool: Pool
    granted_at: float
    opens_window: bool
    static_generation: int
    burst_generation: int
    sent_at: float | None = field(default=None)


class TwoPoolRateLimiter:
    """The server's static and burst pools, modelled with an injected clock.

    `delay()` says how long until the next request may go and `acquire()` takes a permit when
    none is needed. Low classes ask with `paced=True`, which keeps points for ship actions
    arriving later without wasting any: the static pool's later points are held back until
    late in the window (`pace_fraction`; the second of 2 points 0.8 s after the first), and
    the last `burst_reserve` points of the burst pool until the last seconds of its window.

    Every window is anchored on the moment its first request was *sent* and lasts a period plus
    `margin_seconds`. The answers then correct the model:

    * `x-ratelimit-remaining` is what the server had left right after counting the request
      (both pools, of the tighter of its keys: address and account). Less the requests still
      on the wire, the lowest recent one bounds what the server has until its next refill,
      and the model never grants beyond it. A remaining below the model's own count means
      someone else spent points (or the server counted a request in another window than we
      did): the model spends the difference. One above it can show burst points the model
      booked that the server never spent: the model gets them back.
    * `x-ratelimit-reset` is the server's next refill. The server's static window always holds
      the request just answered, so that window cannot refill before it; the model's window
      is moved out to it, and when nothing is left every empty pool waits for it. The reset
      is a server wall-clock instant, so the model keeps a lower bound of the server clock's
      offset from ours (reset - period is never later than the request's arrival), which
      makes the conversion err late, never early.
    * The burst window is bracketed by the answers (see `_place_burst_window`): its points are
      granted only until the earliest the server's window can end, and it refills at the
      latest; a round trip per minute is all that costs.
    """

    # Header instants have millisecond resolution.
    HEADER_RESOLUTION = 0.001
    OFFSET_SAMPLES = 256

    def __init__(self, config: RateLimitConfig, clock: Clock) -> None:
        self.config = config
        self._clock = clock
        self._static = _Window(config.static, config.static_period_seconds)
        self._burst = _Window(config.burst, config.burst_period_seconds)
        self._paused_until = -math.inf
        self._seq = itertools.count(1)
        self._sent: deque[float] = deque()  # send times in the last minute, for utilisation
        self._offsets: deque[float] = deque(maxlen=self.OFFSET_SAMPLES)
        # Permits granted and not yet answered (seq -> grant time), and what the latest-counted
        # answer said: (remaining, valid until the server's next refill). Requests still on
        # the wire may reach the server after that answer, so they are taken off it.
        self._outstanding: dict[int, float] = {}
        self._lost = 0  # failed sends since the bound was set: they may have been counted
        self._bound: tuple[int, float] | None = None
        # Nothing goes out until this static window (by generation) has refilled.
        self._hold_for_static: int | None = None
        self.rate_limited = 0  # 429s seen
        self.corrections = 0  # times `remaining` made the model spend points it had not

    # --- reading the model ----------------------------------------------------------------------

    @property
    def paused_until(self) -> float:
        """The monotonic instant until which a 429 holds every send back."""
        return self._paused_until

    @property
    def static_remaining(self) -> int:
        """Points the model has left in the static pool now."""
        self._refresh()
        return self._static.remaining

    @property
    def burst_remaining(self) -> int:
        """Points the model has left in the burst pool now."""
        self._refresh()
        return self._burst.remaining

    @property
    def static_window_ends(self) -> float | None:
        """When the open static window refills (monotonic), or None when none is open."""
        self._refresh()
        return self._static.ends

    @property
    def burst_window_ends(self) -> float | None:
        """When the open burst window refills (monotonic), or None when none is open."""
        self._refresh()
        return self._burst.ends

    @property
    def server_clock_offset(self) -> float | None:
        """Lower bound of (server wall clock - ours), in seconds, once responses have told."""
        return max(self._offsets) if self._offsets else None

    def _refresh(self) -> None:
        now = self._clock.monotonic()
        self._static.refresh(now)
        self._burst.refresh(now)

    def delay(self, *, paced: bool = False) -> float:
        """Seconds until a request may be sent (0: now)."""
        now = self._clock.monotonic()
        if now < self._paused_until:
            return self._paused_until - now
        self._static.refresh(now)
        self._burst.refresh(now)
        static = self._static
        if self._hold_for_static == static.generation and static.ends is not None:
            return max(0.0, static.ends - now)
        if static.remaining > 0:
            if paced and static.anchor is not None and static.limit > 1:
                share = static.used / (static.limit - 1)
                earliest = static.anchor + static.period * self.config.pace_fraction * share
                if now < earliest:
                    return earliest - now
            return self._bound_delay(now)
        burst = self._burst
        if self._burst_usable(now):
            last_call = self._burst_last_call()
            if paced and burst.remaining <= self.config.burst_reserve and last_call is not None:
                release = last_call - self.config.reserve_release_seconds
                if now < release:
                    # Kept for ship actions: wait for the static pool or the release.
                    return min(release, static.ends or release) - now
            return self._bound_delay(now)
        ends = [w.ends for w in (static, burst) if w.ends is not None]
        if not ends:  # limits of 0 from the headers: wait a default pause and look again
            return self.config.default_pause_seconds
        return max(0.0, min(ends) - now)

    OUTSTANDING_EXPIRY = 120.0  # a permit unanswered this long is not on the wire any more

    def _burst_last_call(self) -> float | None:
        """The earliest the server's burst window can end (None: not open)."""
        burst = self._burst
        return None if burst.anchor is None else burst.anchor + burst.period

    def _burst_usable(self, now: float) -> bool:
        """Points left in the burst window, and no risk they count in the server's next one."""
        last_call = self._burst_last_call()
        return self._burst.remaining > 0 and (last_call is None or now < last_call)

    def server_bound(self) -> int | None:
        """The most the server can have left now, from the answers so far (None: no bound)."""
        now = self._clock.monotonic()
        if self._bound is None or self._bound[1] <= now:
            return None
        stale = [s for s, t in self._outstanding.items() if t < now - self.OUTSTANDING_EXPIRY]
        for seq in stale:
            del self._outstanding[seq]
        return self._bound[0] - len(self._outstanding) - self._lost

    def _bound_delay(self, now: float) -> float:
        """0 if the bound allows a request now, else the wait until the server's refill."""
        bound = self.server_bound()
        if bound is None or bound > 0 or self._bound is None:
            return 0.0
        return max(0.0, self._bound[1] - now)

    def _note_answer(
        self, permit: Permit, remaining: int | None, valid_until: float | None
    ) -> None:
        self._outstanding.pop(permit.seq, None)
        if remaining is None or valid_until is None:
            return
        now = self._clock.monotonic()
        if self._bound is None or self._bound[1] <= now:
            self._bound = (remaining, valid_until)  # a new refill period
            self._lost = 0
        elif remaining <= self._bound[0]:
            # Within one refill period the server's count only falls: the lowest answer is the
            # latest counted; a higher one was counted earlier and is already in the bound.
            self._bound = (remaining, max(valid_until, self._bound[1]))

    def settle(self, permit: Permit) -> None:
        """The request of `permit` got no answer (network error): stop waiting for one."""
        if self._outstanding.pop(permit.seq, None) is not None and self._bound is not None:
            self._lost += 1

    def acquire(self, *, paced: bool = False) -> Permit | None:
        """Take a permit now, or return None when `delay()` is not 0."""
        if self.delay(paced=paced) > 0:
            return None
        now = self._clock.monotonic()
        pool: Pool = "static" if self._static.remaining > 0 else "burst"
        assert pool == "static" or self._burst_usable(now)
        window = self._window(pool)
        opens = window.take(now, self.config.margin_seconds)
        seq = next(self._seq)
        self._outstanding[seq] = now
        if opens:
            window.opener_seq = seq
        return Permit(
            seq=seq,
            pool=pool,
            granted_at=now,
            opens_window=opens,
            static_generation=self._static.generation,
            burst_generation=self._burst.generation,
        )

    def _window(self, pool: Pool) -> _Window:
        return self._static if pool == "static" else self._burst

    def _same_window(self, permit: Permit, pool: Pool) -> bool:
        if pool == "static":
            return self._static.generation == permit.static_generation
        return self._burst.generation == permit.burst_generation

    # --- feedback from the wire -----------------------------------------------------------------

    def mark_sent(self, permit: Permit, *, address_only: bool = False) -> None:
        """The request of `permit` goes out now: anchor the window it opened here, since the
        server starts its window when the request arrives, not when we decided to send it.

        `address_only`: the request carries no agent token, so the server counts it on the
        address's pools but not the account's. The model then sends nothing more until this
        static window has refilled, so that the next request opens fresh windows on both keys
        together (windows opened apart would stay apart, and the headers report only the
        tighter key).
        """
        now = self._clock.monotonic()
        permit.sent_at = now
        self._sent.append(now)
        self._trim_sent(now)
        window = self._window(permit.pool)
        if permit.opens_window and self._same_window(permit, permit.pool):
            window.anchor = now
            window.ends = max(window.ends or now, now + window.period + self.config.margin_seconds)
        if address_only and permit.pool == "static" and self._same_window(permit, "static"):
            self._static.used = self._static.limit
            self._hold_for_static = self._static.generation

    def observe(self, permit: Permit | None, headers: RateLimitHeaders) -> None:
        """Correct the model from an answered (not 429) request's headers; see the class doc."""
        self._adopt_limits(headers)
        if permit is None:
            return
        self._refresh()
        now = self._clock.monotonic()
        if headers.remaining is not None:
            self._place_burst_window(permit, headers.remaining, now)
        reset_at = self._server_instant(headers.reset_after, now)
        if reset_at is not None and self._same_window(permit, "static"):
            self._static.extend_to(reset_at)
        self._note_answer(permit, headers.remaining, reset_at)
        if headers.remaining is None:
            return
        unchanged = self._same_window(permit, "static") and self._same_window(permit, "burst")
        if not unchanged:
            return  # a window refilled since: the numbers no longer compare
        self._refund_burst(headers.remaining)
        drift = self._static.remaining + self._burst.remaining - headers.remaining
        if drift > 0:
            self.corrections += 1
            for window in (self._static, self._burst):
                while drift > 0 and window.remaining > 0:
                    window.take(now, self.config.margin_seconds)
                    drift -= 1
        if headers.remaining == 0 and reset_at is not None:
            # Nothing left until the server's next refill (of one of its keys' pools).
            for window in (self._static, self._burst):
                if window.remaining == 0:
                    window.extend_to(reset_at)

    def _refund_burst(self, remaining: int) -> None:
        """Give back burst points the server shows it still has.

        A request the model booked on the burst pool may have been counted on a fresh static
        pool by the server (our static window ends a little after the server's). After a
        request the server's static pool holds at most limit - 1 points, so it has at least
        remaining - (static limit - 1) burst points, less one for each request still on the
        wire; the model takes that as its own floor. Only the latest-counted answer (the
        lowest remaining of the refill period) is used, as requests answered earlier may have
        been counted after another.
        """
        burst = self._burst
        if not burst.started or self._bound is None or remaining > self._bound[0]:
            return  # another answer was counted later: this one is out of date
        floor = remaining - (self._static.limit - 1) - len(self._outstanding) - self._lost
        if floor > burst.remaining:
            burst.used = max(0, burst.limit - floor)

    def _place_burst_window(self, permit: Permit, remaining: int, now: float) -> None:
        """Anchor the model's burst window on the server's evidence, not on our guess.

        The server's burst window opens somewhere between our opener's send (the model's
        static window never ends before the server's, so nothing earlier was a burst request
        there) and the arrival of the first request that the server shows spent a burst point.
        So the model keeps two instants: `anchor + period`, the earliest the server's window
        can end, after which the model grants no more points from this window (they could
        land in the server's next one); and `ends`, the latest, when the model refills.

        After a request the server's static pool holds at most limit - 1 points, so
        `remaining` tells: below the burst limit, the server's burst window is open (since this
        request's arrival at the latest: `ends` moves to a period after now); at or above
        burst + static - 1, it has not opened yet (our opener was counted on a fresh static
        pool): both instants move later.
        """
        burst = self._burst
        if not burst.started or not self._same_window(permit, "burst"):
            return
        if permit.seq < burst.opener_seq:
            return  # sent before our window opened: says nothing about it
        if remaining <= burst.limit - 1:
            if not burst.confirmed:
                burst.extend_to(now + burst.period)
                burst.confirmed = True
        elif remaining >= burst.limit + self._static.limit - 1:
            burst.confirmed = False
            burst.extend_to(now + burst.period + self.config.margin_seconds)
            if permit.sent_at is not None and burst.anchor is not None:
                burst.anchor = max(burst.anchor, permit.sent_at)

    def _server_instant(self, seconds_from_now: float | None, now: float) -> float | None:
        """Our monotonic time of a server instant reported `seconds_from_now` on our wall clock,
        erring late."""
        if seconds_from_now is None:
            return None
        # reset - period can never be later than this request's arrival at the server, so
        # (reset_after - period) is a lower bound of the server clock's offset from ours.
        self._offsets.append(seconds_from_now - self._static.period)
        offset = max(self._offsets)
        return now + seconds_from_now - offset + self.HEADER_RESOLUTION

    def on_rate_limited(self, headers: RateLimitHeaders, permit: Permit | None = None) -> float:
        """A 429 came back: pause all sending until `retry-after`, and mark both pools empty
        until then (and until the reset it names); return the pause.

        A bare (HTML) 429 without rate-limit headers comes from the edge, not from the pools
        the model tracks: it pauses everything for `default_pause_seconds` and leaves the
        pools alone.
        """
        self.rate_limited += 1
        if permit is not None:
            self._outstanding.pop(permit.seq, None)  # refused: not counted
        self._adopt_limits(headers)
        self._refresh()
        now = self._clock.monotonic()
        wait = headers.retry_after
        if wait is None and headers.reset_after is not None:
            wait = headers.reset_after
        if wait is None:
            wait = self.config.default_pause_seconds
        wait = max(wait, 0.0) + self.config.margin_seconds
        self.pause(wait)
        if not headers.empty:
            self._static.exhaust_until(now + wait)
            until = now + wait
            if headers.reset_after is not None:
                until = max(until, now + headers.reset_after + self.config.margin_seconds)
            self._burst.exhaust_until(until)
        return wait

    def pause(self, seconds: float) -> None:
        """Send nothing for `seconds` from now (extends, never shortens, a running pause)."""
        self._paused_until = max(self._paused_until, self._clock.monotonic() + seconds)

    def _adopt_limits(self, headers: RateLimitHeaders) -> None:
        if headers.limit_per_second and headers.limit_per_second != self._static.limit:
            self._static.limit = headers.limit_per_second
        if headers.limit_burst is not None and headers.limit_burst != self._burst.limit:
            self._burst.limit = headers.limit_burst

    def _trim_sent(self, now: float) -> None:
        # Trimmed on every send too, not only when metrics are scraped: bounded without a scraper.
        while self._sent and self._sent[0] <= now - 60.0:
            self._sent.popleft()

    def utilisation(self) -> float:
        """Requests sent in the last minute as a fraction of the sustained maximum."""
        now = self._clock.monotonic()
        self._trim_sent(now)
        per_minute = 60.0 * (
            self._static.limit / self._static.period + self._burst.limit / self._burst.period
        )
        return len(self._sent) / per_minute if per_minute else 0.0
