"""Bounded retries: which failures are worth another attempt, how long to wait before it, and
the loop that makes the attempts — iterative, so its stack depth and memory never grow with the
number of failures (the operator's recursive retry once exhausted memory).
"""

from __future__ import annotations

import enum
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
from pydantic import Field

from flotilla.backoff import Backoff
from flotilla.settings import Section

__all__ = [
    "Attempt",
    "Ending",
    "RetryPolicy",
    "RetryResult",
    "Sleep",
    "Verdict",
    "run_attempts",
]

Sleep = Callable[[float], Awaitable[None]]


class RetryPolicy(Section):
    """How many attempts a call may make and how the waits between them grow (the `retry`
    section of the gateway's settings)."""

    max_attempts: int = Field(
        default=4,
        ge=1,
        le=10,
        description="attempts per call through network errors, 500, 502 and 503",
    )
    base_delay_seconds: float = Field(
        default=0.25, ge=0, description="first wait between attempts (doubles, with jitter)"
    )
    max_delay_seconds: float = Field(default=8.0, ge=0, description="longest wait between attempts")
    max_rate_limited: int = Field(
        default=5,
        ge=0,
        le=20,
        description="extra attempts after 429s (they wait out the limiter's pause)",
    )

    @property
    def backoff(self) -> Backoff:
        """The waits between attempts: Flotilla's one backoff rule, with these bounds."""
        return Backoff(base_seconds=self.base_delay_seconds, max_seconds=self.max_delay_seconds)


class Verdict(enum.Enum):
    """What one attempt's result means for the call."""

    ANSWERED = "answered"  # the API answered (2xx, 4xx): return it
    RATE_LIMITED = "rate_limited"  # 429: not processed; try again after the pause
    NOT_SENT = "not_sent"  # failed before the server could act (connect error, 503): retry
    AMBIGUOUS = "ambiguous"  # may have been processed (500, 502, timeout, dropped connection)


# Errors raised before any byte of the request reached the server.
_NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass
class Attempt:
    """The result of one attempt: a response, or the transport error that replaced it."""

    status: int = 0
    error: Exception | None = None

    @property
    def verdict(self) -> Verdict:
        """What this attempt's result means for the call."""
        if self.error is not None:
            if isinstance(self.error, _NOT_SENT_ERRORS):
                return Verdict.NOT_SENT
            return Verdict.AMBIGUOUS
        if self.status == 429:
            return Verdict.RATE_LIMITED
        if self.status == 503:
            return Verdict.NOT_SENT  # unavailable: the server did not take the request on
        if self.status in (500, 502):
            return Verdict.AMBIGUOUS
        return Verdict.ANSWERED


class Ending(enum.Enum):
    """How the retry loop ended."""

    ANSWERED = "answered"  # the last attempt is the API's answer
    GAVE_UP = "gave_up"  # the failures ran out of attempts (or of deadline)
    AMBIGUOUS = "ambiguous"  # a state-changing call failed ambiguously: not repeated


@dataclass
class RetryResult:
    """How the retry loop ended, with the last attempt and how many were made."""

    ending: Ending
    attempt: Attempt
    attempts: int
    retries: int


async def run_attempts(
    attempt: Callable[[int], Awaitable[Attempt]],
    *,
    policy: RetryPolicy,
    changes_state: bool,
    sleep: Sleep,
    rng: random.Random,
    may_retry: Callable[[], bool] = lambda: True,
    on_retry: Callable[[Verdict, float], None] | None = None,
) -> RetryResult:
    """Call `attempt(n)` for n = 1, 2, ... until it is answered or the bounds are reached.

    429s are retried up to `policy.max_rate_limited` times without backoff (the caller's next
    permit waits for the limiter's pause). Failures that happened before the server could act
    are retried with backoff, as are ambiguous ones unless the call changes state: repeating a
    sell or a purchase that may have happened is not the gateway's decision, so the loop stops
    and says so. `may_retry()` returning False (e.g. the deadline passed) ends retrying early.
    """
    attempts = 0
    failures = 0
    rate_limited = 0
    while True:
        attempts += 1
        result = await attempt(attempts)
        verdict = result.verdict
        if verdict is Verdict.ANSWERED:
            return RetryResult(Ending.ANSWERED, result, attempts, attempts - 1)
        if verdict is Verdict.RATE_LIMITED:
            rate_limited += 1
            if rate_limited > policy.max_rate_limited or not may_retry():
                return RetryResult(Ending.ANSWERED, result, attempts, attempts - 1)
            if on_retry is not None:
                on_retry(verdict, 0.0)
            continue
        if verdict is Verdict.AMBIGUOUS and changes_state:
            return RetryResult(Ending.AMBIGUOUS, result, attempts, attempts - 1)
        failures += 1
        if failures >= policy.max_attempts or not may_retry():
            return RetryResult(Ending.GAVE_UP, result, attempts, attempts - 1)
        wait = policy.backoff.delay(failures, rng)
        if on_retry is not None:
            on_retry(verdict, wait)
        await sleep(wait)
