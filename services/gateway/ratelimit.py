"""A model of the SpaceTraders rate limit, so the gateway can spend it fully without a 429, also
when the API is hundreds of milliseconds away, its clock is off and ours jumps.

The server keeps two pools per IP address and per account: a static pool of 2 points that
refills 1 s after its first use, and a burst pool of 30 points that refills 60 s after its first
use and is drawn on only when the static pool is empty. What counts is when a request *arrives*
at the server, on the server's clock. `TwoPoolRateLimiter` therefore plans every request by its
arrival: it learns, from the `x-ratelimit-reset` instants of the answers and our monotonic send
and receive times, where a request sent now lands on the server's clock (`ArrivalEstimate`),
places the server's static windows from those answers, and sends the first requests of the next
window so that they arrive just after the current one ends. A few burst points are kept as the
buffer that absorbs a request arriving a little early. Our wall clock is never used: server
instants are compared with our monotonic clock through the estimate, so wall-clock steps and a
server clock offset change nothing.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from functools import cached_property
from typing import Literal

from pydantic import Field

from flotilla.clock import Clock
from flotilla.settings import Section

__all__ = [
    "ArrivalEstimate",
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
    # 0 by default: the end a window is planned after is already the latest the answers'
    # millisecond-truncated reset allows, and the arrival estimate errs late, not early.
    margin_seconds: float = Field(
        default=0.0,
        ge=0,
        description="a request meant for the server's next window is planned to arrive this "
        "long after the current one ends",
    )
    default_pause_seconds: float = Field(
        default=2.0,
        gt=0,
        description="pause after a 429 that says nothing about when to come back (bare HTML)",
    )
    burst_buffer: int = Field(
        default=4,
        ge=0,
        description="burst points kept to absorb a request that reaches the server a little "
        "early; spent in the last static period before the burst pool refills",
    )
    # Burst points paced calls leave to ship actions, until the last seconds of the burst
    # window, when they may take what is left (so that nothing is wasted).
    burst_reserve: int = Field(
        default=26,
        ge=0,
        description="burst points fleet and background calls leave to ship actions",
    )
    reserve_release_seconds: float = Field(
        default=6.0,
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
    # The server's next refill as an instant of the *server's* clock (epoch seconds), exactly
    # as reported (milliseconds, truncated), and as seconds from the response on our wall clock.
    reset_at: float | None = None
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
                self.reset_at,
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


def _instant(value: str | None, wall_now: float) -> tuple[float | None, bool]:
    """The epoch instant `value` names (an ISO time or an HTTP date; a bare number is seconds
    from `wall_now`), and whether it was absolute."""
    if not value:
        return None, False
    text = value.strip()
    try:
        return wall_now + float(text), False  # a number of seconds
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            when = parsedate_to_datetime(text)  # an HTTP date
        except (TypeError, ValueError):
            return None, False
    if when.tzinfo is None:
        return None, False
    return when.timestamp(), True


def parse_rate_limit_headers(headers: Mapping[str, str], wall_now: float) -> RateLimitHeaders:
    """Read `x-ratelimit-*` and `retry-after` from response headers (case-insensitive);
    `wall_now` (our wall clock) only turns relative values into instants and back."""
    lower = {k.lower(): v for k, v in headers.items()}
    retry_at, _ = _instant(lower.get("retry-after"), wall_now)
    retry_after = None if retry_at is None else max(0.0, retry_at - wall_now)
    reset_at, _ = _instant(lower.get("x-ratelimit-reset"), wall_now)
    return RateLimitHeaders(
        limit_type=lower.get("x-ratelimit-type"),
        limit_per_second=_int(lower.get("x-ratelimit-limit-per-second")),
        limit_burst=_int(lower.get("x-ratelimit-limit-burst")),
        remaining=_int(lower.get("x-ratelimit-remaining")),
        reset_at=reset_at,
        reset_after=None if reset_at is None else reset_at - wall_now,
        retry_after=retry_after,
    )


class ArrivalEstimate:
    """Where a request granted at monotonic instant t reaches the server: at server-clock
    instant t + A, where A (the server clock's offset from our monotonic clock plus the way to
    the server) varies from request to request. The way starts at the grant, the instant the
    model plans with, not when the request goes on the wire: what the gateway does in between
    (a few milliseconds of building, tracing and handing over) is part of it, so that the plan
    does not arrive that much late. Learned from answers alone: each carries the end R of the
    server's static window that counted it, so its arrival lies in [R - period, R).

    * `sure`: a lower bound of every A, never too high: arrival >= R - period, and the arrival
      happened before we received the answer, so A >= R - period - (receive - send) + the
      outward latency; the largest R - period - receive seen (the server clock's offset from
      ours less the shortest way back) bounds A from below.
    * `low`: the estimate of the smallest A. The request that opened a window arrived at
      R - period exactly, so R - period - send is its own A; the largest such value of each
      window is its opener's (or an even later one's), and the smallest of those over recent
      windows converges to the smallest A from above. Requests that arrived just before their
      window's end bound it too (A < R - send). Estimates too high by a millisecond or two send
      a request early now and then, which costs a burst point, not a 429.
    * `spread`: how much later than `low` a request may arrive, from the spread of round trips.
    """

    SAMPLES = 256
    WINDOWS = 120

    def __init__(self, period: float) -> None:
        self.period = period
        self._sure: deque[float] = deque(maxlen=self.SAMPLES)
        self._upper: deque[float] = deque(maxlen=self.SAMPLES)
        self._rtts: deque[float] = deque(maxlen=self.SAMPLES)
        self._windows: OrderedDict[int, float] = OrderedDict()

    def _forget(self) -> None:
        """The samples changed: drop what was computed from them. (The model reads each such
        property several times per decision, and each scans or sorts hundreds of samples, so
        they are `cached_property`s, computed once between answers.)"""
        for name, attribute in vars(type(self)).items():
            if isinstance(attribute, cached_property):
                self.__dict__.pop(name, None)

    @property
    def known(self) -> bool:
        """At least one answer has been learned from."""
        return bool(self._sure)

    def learn(self, sent: float, received: float, reset_at: float, *, static: bool) -> None:
        """An answer to a request granted at `sent` and answered at `received` (monotonic) was
        counted while the server's next refill was at `reset_at` (server clock, truncated to
        the millisecond): the end of the static window that counted it (`static`), or an
        earlier refill of the burst pool."""
        self._forget()
        self._sure.append(reset_at - self.period - received)
        self._upper.append(reset_at + 0.001 - sent)
        self._rtts.append(max(0.0, received - sent))
        if not static:
            return
        key = round(reset_at * 1000)
        opener = reset_at - self.period - sent
        if key in self._windows:
            self._windows[key] = max(self._windows[key], opener)
        else:
            self._windows[key] = opener
            while len(self._windows) > self.WINDOWS:
                self._windows.popitem(last=False)

    def learn_lower(self, received: float, arrived_by: float) -> None:
        """An answer received at `received` shows the request reached the server no earlier
        than `arrived_by` (server clock): a bound for `sure` alone (e.g. from a 429)."""
        self._forget()
        self._sure.append(arrived_by - received)

    @cached_property
    def sure(self) -> float:
        """No arrival offset A is below this (see the class doc)."""
        return max(self._sure)

    @cached_property
    def low(self) -> float:
        """The estimate of the smallest A, never below `sure`."""
        candidates = [min(self._upper)]
        if self._windows:
            # The smallest plausible one: a reset taken for a window's end that was the burst
            # pool's refill (about once a minute) gives a value far below the others, which
            # must not pull the estimate down for minutes.
            openers = sorted(self._windows.values())
            floor = openers[len(openers) // 2] - self.spread
            candidates.append(next(v for v in openers if v >= floor))
        return max(self.sure, min(candidates))

    @cached_property
    def aim(self) -> float:
        """`low`, less its likely excess over the smallest A: what the next window's first
        requests are planned with. The smallest of k openers spread over `spread` lies about
        spread / (k + 1) above the smallest possible, so the first windows, seen from a few
        openers only, are aimed well early: an early arrival costs a burst point, while a
        window opened late costs its lateness, and once the burst pool is empty every window
        is planned cautiously, which costs far more."""
        excess = self.spread / (len(self._windows) + 1)
        return max(self.sure, self.low - excess)

    @cached_property
    def cautious(self) -> float:
        """What to plan with when an early arrival would be refused: `sure` until many
        windows have been seen, then below `low` by an eighth of how far apart the openers of
        recent windows arrived: the smallest of a few hundred arrivals is that close to the
        smallest possible. (The round trips' spread is twice the way in with the way back as
        jittery: a quarter of it planned the windows before a burst refill 90 ms late at
        300±90 ms one way.)"""
        if len(self._windows) < self.CAUTIOUS_AFTER:
            return self.sure
        return max(self.sure, self.low - self.opener_spread / 8)

    CAUTIOUS_AFTER = 30

    @cached_property
    def spread(self) -> float:
        """How much later than `low` a request may reach the server."""
        if not self._rtts:
            return 0.0
        observed = max(self._rtts) - min(self._rtts)
        return max(observed, 0.3 * statistics.median(self._rtts)) + 0.002

    @cached_property
    def opener_spread(self) -> float:
        """How far apart, from their grants, the first requests of recent windows arrived:
        the part of `spread` that is on the way to the server (`spread` until two are seen)."""
        if len(self._windows) < 2:
            return self.spread
        openers = self._windows.values()
        return max(openers) - min(openers)

    @property
    def round_trip(self) -> float | None:
        """The median round trip of recent answers (seconds)."""
        return statistics.median(self._rtts) if self._rtts else None


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
    probe: bool = field(default=False)
    address_only: bool = field(default=False)
    # A static point: planned to arrive in a static window, it may still arrive before it
    # (the estimate, even the cautious one, is no sure bound) and take a burst point.
    may_arrive_early: bool = field(default=False)


class TwoPoolRateLimiter:
    """The server's static and burst pools, planned by arrival, with an injected clock.

    `delay()` says how long until the next request may go and `acquire()` takes a permit when
    none is needed. The model:

    * *Probe.* Until an answer has placed the model (at start, after a 429, after an answer
      without headers), one request goes out and nothing else until it is answered: a gateway
      that starts while another client spent the pools loses at most that one request. A
      proxy's answer in the API's place (a 502 or 504 without rate-limit headers, maybe after
      the API counted the request) is no answer: the caller settles the permit, and a probe
      goes again. A server that answers without the headers gets the configured limits, on
      our own clock.
    * *Static windows.* The server's current window (the *frontier*) ends at an instant the
      answers report. The next window's first requests are sent so that, with the smallest
      arrival offset A (see `ArrivalEstimate`), they arrive just after that end; up to the
      static limit of them open and fill it. Its end is then bounded by the latest they can
      arrive, until their answers say exactly.
    * *Burst pool.* Any other request takes a burst point. `burst_buffer` points are kept for
      requests that arrive early (they find the static pool empty) until the last static
      period in which a burst point can still reach the server before its pool refills; then
      they are spent but for one per static request still on the wire, and the windows until
      the refill are planned cautiously. With no point left, the next window's requests are
      planned cautiously too, so that none arrives early. The last burst point must arrive
      before the earliest the server's burst window can end: the previous window's exact end
      (the reset of a request counted just before its refill) plus the burst period, or, not
      knowing it, well before the latest end the answers allow. The burst window refills on
      the model when a request arrives after that latest end by the cautious estimate; the
      answers' `remaining` correct the count both ways, counting only what surely happened
      after the answered request (answers overtake each other).
    * *Pacing.* Fleet and background calls (`paced=True`) leave `burst_reserve` burst points
      to ship actions until the last `reserve_release_seconds` of the burst window.
    * *429.* Everything pauses until `retry-after` from the answer (that bounds the server's
      reset from above whatever the clocks), then a probe.
    """

    def __init__(self, config: RateLimitConfig, clock: Clock) -> None:
        self.config = config
        self._clock = clock
        self._static_limit = config.static
        self._burst_limit = config.burst
        self._estimate = ArrivalEstimate(config.static_period_seconds)
        self._seq = itertools.count(1)
        self._paused_until = -math.inf
        self._probe: int | None = None  # the probe in flight
        self._placed = False  # an answer has placed the model since the last probe began
        self._on_our_clock = False  # placed from an answer without headers, on our clock
        # The frontier: the latest static window our requests open or fill (server clock).
        self._frontier_end: float | None = None  # exact, from an answer
        self._frontier_end_hi = -math.inf  # the latest it can end until an answer says
        self._frontier_seq = 0  # first permit planned into it
        self._frontier_opened = -math.inf  # monotonic grant time of its first permit
        self._frontier_used = 0
        self._previous_end = -math.inf  # end of the window before the frontier
        self._static_generation = 0
        # The burst pool.
        self._burst_left = config.burst
        self._burst_generation = 0
        self._burst_end_hi: float | None = None  # refills no later than this (server clock)
        self._burst_end_guess: float | None = None  # our estimate of its end (server clock)
        # Its end exactly, once an answer reported it (the reset of a request counted in its
        # last static window); and the earliest it can end: the previous window's exact end
        # plus the burst period (a window opens only after the one before it has ended).
        self._burst_end_exact: float | None = None
        self._burst_end_floor: float | None = None
        # Before this no reset can be the current burst window's end, even without an exact
        # end of the one before (then from the latest that one could end, less two static
        # periods): a reset earlier than it is some static window's end.
        self._burst_end_min = -math.inf
        self._burst_hold_until = -math.inf  # no burst point arriving before this (server)
        # The static generation of a frontier a request counted on the address alone filled:
        # the window after it is planned so that none of its requests arrives early.
        self._realign_generation: int | None = None
        # After the model refills its burst pool, few burst points go until an answer shows
        # what the server's pool holds (ours may have been opened by requests booked before).
        self._burst_confirmed = True
        self._outstanding: dict[int, Permit] = {}
        self._sent: deque[float] = deque()  # send times in the last minute, for utilisation
        # When recent permits stopped being outstanding (answered, or settled unanswered): a
        # request answered after another was sent may have reached the server after it.
        self._done: deque[float] = deque(maxlen=512)
        self.rate_limited = 0  # 429s seen
        self.corrections = 0  # times `remaining` made the model spend points it had not

    # --- reading the model ----------------------------------------------------------------------

    @property
    def paused_until(self) -> float:
        """The monotonic instant until which a 429 holds every send back."""
        return self._paused_until

    @property
    def estimate(self) -> ArrivalEstimate:
        """What the model learned about where requests reach the server."""
        return self._estimate

    @property
    def probing(self) -> bool:
        """One request is out to place the model; nothing else goes until it is answered."""
        return self._probe is not None

    @property
    def static_remaining(self) -> int:
        """Points the model has left in the frontier static window."""
        return max(0, self._static_limit - self._frontier_used)

    @property
    def burst_remaining(self) -> int:
        """Points the model has left in the burst pool now."""
        self._refresh(self._clock.monotonic())
        return self._burst_left

    @property
    def static_window_ends(self) -> float | None:
        """When the frontier static window ends, on the server's clock (None: unknown)."""
        if self._frontier_end is not None:
            return self._frontier_end
        return None if self._frontier_end_hi == -math.inf else self._frontier_end_hi

    @property
    def burst_window_ends(self) -> float | None:
        """The latest the server's burst window can end, on its clock (None: not open)."""
        return self._burst_end_hi

    @property
    def outstanding(self) -> int:
        """Permits granted and not yet answered or settled."""
        return len(self._outstanding)

    # --- deciding -------------------------------------------------------------------------------

    def delay(self, *, paced: bool = False) -> float:
        """Seconds until a request may be sent (0: now)."""
        now = self._clock.monotonic()
        return self._plan(now, paced)[0]

    def acquire(self, *, paced: bool = False) -> Permit | None:
        """Take a permit now, or return None when `delay()` is not 0."""
        now = self._clock.monotonic()
        wait, kind = self._plan(now, paced)
        if wait > 0 or kind is None:
            return None
        seq = next(self._seq)
        opens = False
        pool: Pool = "static"
        if kind == "probe":
            self._probe = seq
        elif kind == "open":
            self._open_frontier(now, seq)
            opens = True
        elif kind == "static":
            self._frontier_used += 1
        else:
            pool = "burst"
            if self._burst_left == self._burst_limit and self._burst_end_guess is None:
                est = self._estimate
                self._burst_end_guess = (
                    now + est.low + est.spread + self.config.burst_period_seconds
                )
            self._burst_left -= 1
        permit = Permit(
            seq=seq,
            pool=pool,
            granted_at=now,
            opens_window=opens,
            static_generation=self._static_generation,
            burst_generation=self._burst_generation,
            probe=kind == "probe",
            may_arrive_early=kind in ("open", "static") and not self._cautious(),
        )
        self._outstanding[seq] = permit
        return permit

    def _open_frontier(self, now: float, seq: int) -> None:
        est = self._estimate
        self._previous_end = self._frontier_edge()
        self._frontier_end = None
        self._frontier_seq = seq
        self._frontier_opened = now
        self._frontier_used = 1
        self._static_generation += 1
        period = self.config.static_period_seconds
        latest = max(est.low, est.sure + est.spread) + est.spread
        self._frontier_end_hi = max(self._previous_end, now + latest) + period

    def _frontier_edge(self) -> float:
        """The end of the frontier on the server's clock: exact, or the latest it can be."""
        if self._frontier_end is not None:
            return self._frontier_end + 0.001  # reported truncated to the millisecond
        return self._frontier_end_hi

    def _refresh(self, now: float) -> None:
        """Refill the model's burst pool once a request sent now arrives after the server's
        burst window has ended, by the cautious estimate (by `sure`, a bound of the clock
        offset less the way back, the first burst point of every window would arrive more
        than a round trip late)."""
        if not self._estimate.known or self._burst_end_hi is None:
            return
        if now + self._estimate.cautious >= self._burst_end_hi:
            self._burst_left = self._burst_limit
            self._burst_generation += 1
            exact = self._burst_end_exact
            period = self.config.burst_period_seconds
            self._burst_end_floor = None if exact is None else exact + period
            earliest = self._burst_end_hi - 2 * self.config.static_period_seconds
            self._burst_end_min = (exact if exact is not None else earliest) + period - 0.002
            self._burst_end_exact = None
            self._burst_end_hi = None
            self._burst_end_guess = None
            self._burst_confirmed = False

    def _plan(self, now: float, paced: bool) -> tuple[float, str | None]:
        """(seconds to wait, what the next permit would be: probe, open, static or burst)."""
        if now < self._paused_until:
            return self._paused_until - now, None
        if self._probe is not None:
            return self.config.default_pause_seconds, None  # an answer wakes the caller
        if not self._placed or not self._estimate.known:
            return 0.0, "probe"
        self._refresh(now)
        est = self._estimate
        margin = self.config.margin_seconds
        low = est.aim
        if self._cautious():
            # Nothing would absorb an early arrival: plan the next window's requests to
            # arrive well after it ends.
            low = est.cautious
        if self._static_generation == self._realign_generation:
            # The frontier was filled by a request the account's pools did not count: a request
            # arriving before it ends would open the account's window alone, and the two keys'
            # windows would stay apart (a burst point spent on one key only, then a 429 when
            # the burst pools refill at different times). Not one may arrive early.
            low = est.sure
        high = low + est.spread
        period = self.config.static_period_seconds
        waits: list[float] = []
        # Another point of the frontier, if it surely arrives within it.
        if self._frontier_used < self._static_limit:
            end_low = (
                self._frontier_end
                if self._frontier_end is not None
                else max(self._previous_end, self._frontier_opened + low) + period
            )
            if now + high + margin < end_low and now + low >= self._previous_end:
                return 0.0, "static"
        # The next window, arriving just after the frontier ends.
        opens_at = self._frontier_edge() + margin - low
        if now >= opens_at:
            return 0.0, "open"
        waits.append(opens_at - now)
        # A burst point.
        spare = self._burst_left - self._burst_kept(now, low, paced)
        # A burst point must not open the next static window: that is for the requests
        # planned to arrive just after the frontier ends (and the frontier's answers place it).
        before_next = now + high + margin < self._frontier_edge() - 0.001
        unconfirmed = not self._burst_confirmed and (
            sum(
                1
                for p in self._outstanding.values()
                if p.pool == "burst" and p.burst_generation == self._burst_generation
            )
            >= self.UNCONFIRMED_BURST
        )
        if (
            spare > 0
            and not unconfirmed
            and before_next
            and now + low >= self._burst_hold_until
            and self._burst_in_window(now, high)
        ):
            return 0.0, "burst"
        if self._burst_end_hi is not None:
            waits.append(max(0.0, self._burst_end_hi - est.cautious - now))
        if paced and spare <= 0 < self._burst_left and self._burst_end_guess is not None:
            release = self._burst_end_guess - low - self.config.reserve_release_seconds
            if release > now:
                waits.append(release - now)
        return max(min(waits), 0.0005), None

    UNCONFIRMED_BURST = 2  # burst points on the wire before an answer confirms the refill
    # Burst points the server surely has beyond the model's count that show its pool refilled
    # (fewer are the count's caution: a point booked that the server counted as static).
    REFILL_EVIDENCE = 4

    def _burst_in_window(self, now: float, high: float) -> bool:
        """A burst point sent now surely reaches the server before its burst window can have
        refilled. The answers bound the window's end from above only: the request that showed
        the window open arrived up to a static period before the end of its static window, and
        the window may have opened a little before that; the model sends no burst point that
        could arrive that close to the bound, so none is booked in the wrong window."""
        last = self._burst_last_arrival()
        return last is None or now + high < last

    def _burst_last_arrival(self) -> float | None:
        """The latest a burst point may arrive (server clock) to be surely counted in the
        model's burst window: well before the latest end the answers allow, or just before the
        earliest end the previous window's exact end allows (None: no window open)."""
        if self._burst_end_hi is None:
            return None
        slack = self.config.static_period_seconds + 2 * self._estimate.spread + 0.005
        last = self._burst_end_hi - slack
        if self._burst_end_floor is not None:
            last = max(last, min(self._burst_end_floor, self._burst_end_hi) - 0.005)
        return last

    def _cautious(self) -> bool:
        """Plan static windows so that no request can arrive early: no burst point is left
        to absorb one."""
        return self._burst_left <= 0

    def _burst_tail(self, now: float) -> bool:
        """The last static period in which a burst point may still go in this burst window."""
        last = self._burst_last_arrival()
        est = self._estimate
        return last is not None and (
            now + est.aim + est.spread + self.config.static_period_seconds >= last
        )

    def _burst_kept(self, now: float, low: float, paced: bool) -> int:
        """Burst points not to grant now: the buffer (until the last static period in which a
        burst point can still go, then one per static request on the wire that may arrive
        early) and, for paced calls, the reserve for ship actions (until its release)."""
        kept = self.config.burst_buffer
        guess = self._burst_end_guess
        if guess is not None and self._frontier_edge() + self.config.margin_seconds >= guess:
            kept = 0  # the next window's requests arrive after the burst pool has refilled
        elif self._burst_tail(now):
            # The buffer is spent now or never; the windows left until the refill are planned
            # cautiously, so it is kept only for requests on the wire that may arrive early.
            kept = sum(
                1
                for p in self._outstanding.values()
                if p.may_arrive_early and p.burst_generation == self._burst_generation
            )
        if paced:
            released = guess is not None and (
                now + low >= guess - self.config.reserve_release_seconds
            )
            if not released:
                kept = max(kept, self.config.burst_reserve)
        return kept

    # --- feedback from the wire -----------------------------------------------------------------

    def mark_sent(self, permit: Permit, *, address_only: bool = False) -> None:
        """The request of `permit` goes out now (answers that overtake each other are told
        apart by this instant; the arrival estimate measures from the grant).

        `address_only`: the request carries no agent token, so the server counts it on the
        address's pools but not the account's. The model then fills the frontier and sends no
        burst point before it ends, so that the next request opens fresh windows on both keys
        together (windows opened apart would stay apart, and the headers report only the
        tighter key).
        """
        now = self._clock.monotonic()
        permit.sent_at = now
        permit.address_only = address_only
        self._sent.append(now)
        self._trim_sent(now)
        if address_only and self._placed:
            self._fill_for_address_only()

    def _fill_for_address_only(self) -> None:
        """A request the account's pools do not count went into the frontier: take no more
        points of it and no burst point before it ends, so that the next requests open fresh
        windows on both keys together."""
        self._frontier_used = self._static_limit
        self._burst_hold_until = self._frontier_edge() + self.config.margin_seconds
        self._realign_generation = self._static_generation

    def settle(self, permit: Permit) -> None:
        """The request of `permit` got no answer from the API (network error, cancelled, a
        proxy answered in its place): stop waiting for one. It may have been counted, so a
        burst point stays spent; a probe may go again."""
        if self._outstanding.pop(permit.seq, None) is not None:
            self._done.append(self._clock.monotonic())
        if self._probe == permit.seq:
            self._probe = None

    def observe(self, permit: Permit | None, headers: RateLimitHeaders) -> None:
        """Correct the model from an answered (not 429) request's headers; see the class doc."""
        now = self._clock.monotonic()
        self._adopt_limits(headers)
        if permit is None:
            return
        if self._outstanding.pop(permit.seq, None) is not None:
            self._done.append(now)
        reset = headers.reset_at
        if reset is None or headers.remaining is None or permit.sent_at is None:
            if self._probe == permit.seq and not self._estimate.known:
                # A server that sends no rate-limit headers: the model keeps the configured
                # limits on our own clock, as if each request arrived when it was sent (until
                # an answer with headers places it on the server's). A proxy's answer in the
                # API's place is no answer: see `settle`.
                self._on_our_clock = True
                self._estimate.learn(now, now, now + self.config.static_period_seconds, static=True)
                self._place(
                    now + self.config.static_period_seconds,
                    self._static_limit - 1 + self._burst_limit,
                    now,
                )
            elif self._probe == permit.seq:
                self._probe = None
                self._placed = True
            return
        replacing = self._on_our_clock
        if replacing:
            # The first answer with headers after planning on our clock (the probe's answer
            # had none): what was learned from our clock says nothing of the server's, so the
            # model starts again from this answer, as from a probe's.
            self._on_our_clock = False
            self._estimate = ArrivalEstimate(self.config.static_period_seconds)
            self._probe = permit.seq
        if self._probe == permit.seq:
            # Learned as the request that opened its static window, unless it may well not
            # have been: a probe that left 30 points found 0 + 30 after a request of ours
            # whose answer was lost opened the window (or 1 + 29); one of several on the wire
            # is an opener by chance. As an opener, a request that arrived some time after
            # its window opened would pull the estimate of the earliest arrival down by that
            # much for as long as the window is remembered.
            opened = headers.remaining != self._burst_limit and not replacing
            self._estimate.learn(permit.granted_at, now, reset, static=opened)
            self._place(reset, headers.remaining, now)
            if self._outstanding:
                # Placed while others are on the wire (after planning on our clock): they may
                # take the frontier's points and the burst pool's before any answer says so.
                self._frontier_used = self._static_limit
                self._burst_left = max(0, self._burst_left - len(self._outstanding))
            if permit.address_only:
                self._fill_for_address_only()
            return
        static = self._learn_frontier(permit, reset)
        # Only static points place window openers: a burst point goes in a window's last
        # part, where near the burst pool's refill its reset may be the refill, not the end.
        self._estimate.learn(
            permit.granted_at, now, reset, static=static and permit.pool == "static"
        )
        # Not a static window's end: the server's burst pool refills before the static window
        # that counted this request ends, and the reset is the burst window's end, exactly.
        if not static and headers.remaining < self._burst_limit:
            # (With `remaining` at the burst limit or above, the burst pool was full: the
            # reset was a static window's end the model had not planned, not a refill.)
            self._learn_burst_end(permit, reset + 0.001)
        self._learn_burst(permit, reset, headers.remaining)

    def _learn_burst_end(self, permit: Permit, end: float) -> None:
        """An answer's reset was the burst pool's refill: the end of the burst window the
        request was counted in, exactly."""
        if permit.burst_generation == self._burst_generation:
            if end < self._burst_end_min:
                return  # too early for this window's end: a static window the model missed
            if self._burst_end_hi is None or end < self._burst_end_hi:
                self._burst_end_hi = end
                self._burst_end_guess = end
            self._burst_end_exact = end
            return
        # Answered after the model refilled: it bounds the current window's end from below.
        previous = permit.burst_generation == self._burst_generation - 1
        if previous and self._burst_end_floor is None:
            self._burst_end_floor = end + self.config.burst_period_seconds

    def _place(self, reset: float, remaining: int, now: float) -> None:
        """The probe's answer: the server had `remaining` points after counting it, in a static
        window ending at `reset`."""
        self._probe = None
        self._placed = True
        self._previous_end = -math.inf
        self._frontier_end = reset
        self._frontier_end_hi = reset + 0.001
        self._frontier_seq = next(self._seq)  # no permit is in it but the probe
        self._frontier_opened = -math.inf
        self._static_generation += 1
        static_left = max(0, remaining - self._burst_limit)  # the fewest it can be
        self._frontier_used = self._static_limit - min(static_left, self._static_limit)
        self._burst_left = max(0, remaining - (self._static_limit - 1))
        self._new_burst_window(reset, remaining)

    def _new_burst_window(self, reset: float, remaining: int) -> None:
        """Start the model's burst window afresh from an answer that left `remaining` points
        in a static window ending at `reset` (a probe's, or one that shows the server's pool
        refilled since the model's window was bounded)."""
        self._burst_generation += 1
        self._burst_end_guess = None
        self._burst_end_hi = None
        self._burst_end_exact = None
        self._burst_end_floor = None
        # The request arrived after reset - period: a burst window open then ends after that,
        # and one that opens later ends a burst period after it at the earliest.
        self._burst_end_min = reset - self.config.static_period_seconds - 0.002
        if remaining >= self._burst_limit + self._static_limit - 1:  # the burst pool is full
            self._burst_end_min += self.config.burst_period_seconds
        if remaining < self._burst_limit:
            # The burst pool is surely in use: its window opened before the request arrived,
            # and ends a burst period after it at the latest. (With `remaining` at the limit
            # it may be full, 0 + 30, as well as 1 + 29: the end is left to the answers of
            # burst points, since a window that opens with them ends later than that.)
            self._burst_end_hi = reset + 0.001 + self.config.burst_period_seconds
            self._burst_end_guess = self._burst_end_hi

    def _learn_frontier(self, permit: Permit, reset: float) -> bool:
        """Place the frontier's end from an answer's reset; False when the reset is no static
        window's end but the burst pool's refill (earlier than the frontier can end)."""
        tolerance = 0.002
        if abs(reset + 0.001 - self._previous_end) <= tolerance:
            return True  # arrived early: counted in the window before the frontier
        if self._frontier_end is not None:
            if abs(reset - self._frontier_end) <= tolerance:
                return True
            return not (self._previous_end < reset < self._frontier_end)
        period = self.config.static_period_seconds
        end_low = max(self._previous_end, self._frontier_opened + self._estimate.sure) + period
        if reset < end_low - tolerance:
            return reset <= self._previous_end  # before the frontier: a window before it
        if permit.seq >= self._frontier_seq and reset <= self._frontier_end_hi + period / 2:
            # Counted in the frontier, not so late that it opened the one after.
            self._frontier_end = reset
        return True

    def _learn_burst(self, permit: Permit, reset: float, remaining: int) -> None:
        if permit.burst_generation != self._burst_generation:
            return  # planned in an earlier burst window: says nothing about this one
        self._burst_confirmed = True
        if remaining < self._burst_limit:
            # The server's burst window is open; it opened no later than this request arrived.
            end = reset + 0.001 + self.config.burst_period_seconds
            self._burst_end_hi = end if self._burst_end_hi is None else min(self._burst_end_hi, end)
            if self._burst_end_guess is None or self._burst_end_guess > end:
                self._burst_end_guess = end
        # Burst permits sent so long after this one that they reached the server after it
        # take points `remaining` still counted: the server has at most `remaining` less
        # those, now. (One sent a little later may have overtaken it and be counted in
        # `remaining` already: subtracting it too would lose a point for good.)
        sent = permit.sent_at if permit.sent_at is not None else -math.inf
        after = sent + self._estimate.spread
        later = sum(
            1
            for p in self._outstanding.values()
            if p.pool == "burst"
            and p.burst_generation == permit.burst_generation
            and p.sent_at is not None
            and p.sent_at > after
        )
        ceiling = remaining - later
        if ceiling < self._burst_left:
            self.corrections += 1
            self._burst_left = max(0, ceiling)
        # After a request the server's static pool holds at most limit - 1 points, and every
        # request that may have reached it after this one may have taken one since: those
        # still on the wire and those answered since this one was sent (answers overtake each
        # other). What is left is a floor of what the server has.
        since = sum(1 for t in self._done if t > sent) - 1  # not this one
        floor = remaining - (self._static_limit - 1) - len(self._outstanding) - max(0, since)
        if floor > self._burst_left:
            arrived_after = reset - self.config.static_period_seconds
            refilled = floor - self._burst_left > self.REFILL_EVIDENCE
            if refilled and self._burst_end_hi is not None and arrived_after >= self._burst_end_min:
                # The server has more burst points than the model counts, for a request that
                # arrived after the model's window can have ended: the server's pool refilled
                # since (e.g. the window of a client that spent the pools before we started
                # ended), so the bound belongs to a window gone.
                self._new_burst_window(reset, remaining)
            self._burst_left = min(self._burst_limit, floor)

    def on_rate_limited(self, headers: RateLimitHeaders, permit: Permit | None = None) -> float:
        """A 429 came back: pause all sending until `retry-after` (from now: the server's
        reset is at most that long after the request's arrival, which was before now, whatever
        the clocks say), then probe again; return the pause.

        A bare (HTML) 429 without rate-limit headers comes from the edge, not from the pools
        the model tracks: it pauses everything for `default_pause_seconds`.
        """
        self.rate_limited += 1
        now = self._clock.monotonic()
        if permit is not None:
            self._outstanding.pop(permit.seq, None)  # refused: not counted
            if self._probe == permit.seq:
                self._probe = None
        self._adopt_limits(headers)
        wait = headers.retry_after
        if wait is None and headers.reset_at is not None and self._estimate.known:
            # Our monotonic instant of the server's reset, erring late.
            wait = headers.reset_at + 0.001 - self._estimate.sure - now
        if wait is None:
            wait = self.config.default_pause_seconds
        wait = max(wait, 0.0) + self.config.margin_seconds
        self.pause(wait)
        if not headers.empty:
            self._placed = False  # the next request probes
        return wait

    def pause(self, seconds: float) -> None:
        """Send nothing for `seconds` from now (extends, never shortens, a running pause)."""
        self._paused_until = max(self._paused_until, self._clock.monotonic() + seconds)

    def _adopt_limits(self, headers: RateLimitHeaders) -> None:
        if headers.limit_per_second and headers.limit_per_second != self._static_limit:
            self._static_limit = headers.limit_per_second
        if headers.limit_burst is not None and headers.limit_burst != self._burst_limit:
            self._burst_limit = headers.limit_burst
            self._burst_left = min(self._burst_left, self._burst_limit)

    def _trim_sent(self, now: float) -> None:
        # Trimmed on every send too, not only when metrics are scraped: bounded without a scraper.
        while self._sent and self._sent[0] <= now - 60.0:
            self._sent.popleft()

    def utilisation(self) -> float:
        """Requests sent in the last minute as a fraction of the sustained maximum."""
        now = self._clock.monotonic()
        self._trim_sent(now)
        per_minute = 60.0 * (
            self._static_limit / self.config.static_period_seconds
            + self._burst_limit / self.config.burst_period_seconds
        )
        return len(self._sent) / per_minute if per_minute else 0.0
