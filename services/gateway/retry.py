"""Bounded retries: which failures are worth another attempt, how long to wait before it, and
the loop that makes the attempts — iterative, so its stack depth and memory never grow with the
number of failures (the operator's recursive retry once exhausted memory).
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pydantic import Field

from flotilla.backoff import Backoff
from flotilla.settings import Section
from flotilla.v1.api_pb2 import CallOutcome
from gateway.outcomes import Verdict, handling, verdict_of_error, verdict_of_status

__all__ = [
    "Attempt",
    "RetryPolicy",
    "RetryResult",
    "Sleep",
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
        description="attempts per call through failures (a state-changing call only through "
        "failures before it was sent)",
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


@dataclass
class Attempt:
    """The result of one attempt: a response, or the transport error that replaced it."""

    status: int = 0
    error: Exception | None = None

    @property
    def verdict(self) -> Verdict:
        """What this attempt's result says about the request (`gateway.outcomes`)."""
        if self.error is not None:
            return verdict_of_error(self.error)
        return verdict_of_status(self.status)


@dataclass
class RetryResult:
    """How the retry loop ended: the call's outcome, the last attempt and how many were made."""

    outcome: CallOutcome
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

    What each attempt's result allows is `gateway.outcomes`' table: 429s are retried up to
    `policy.max_rate_limited` times without backoff (the caller's next permit waits for the
    limiter's pause); failures before the request left are retried with backoff for every call,
    failures after it only for calls that change nothing: a sell or a purchase that may have
    happened is not sent again, and the call ends `UNKNOWN`. `may_retry()` returning False (e.g.
    the deadline passed) ends retrying early.
    """
    attempts = 0
    failures = 0
    rate_limited = 0
    while True:
        attempts += 1
        result = await attempt(attempts)
        verdict = result.verdict
        rule = handling(verdict, changes_state)
        if verdict is Verdict.RATE_LIMITED:
            rate_limited += 1
            if rate_limited > policy.max_rate_limited or not may_retry():
                return RetryResult(rule.outcome, result, attempts, attempts - 1)
            if on_retry is not None:
                on_retry(verdict, 0.0)
            continue
        if not rule.retry:
            return RetryResult(rule.outcome, result, attempts, attempts - 1)
        failures += 1
        if failures >= policy.max_attempts or not may_retry():
            return RetryResult(rule.outcome, result, attempts, attempts - 1)
        wait = policy.backoff.delay(failures, rng)
        if on_retry is not None:
            on_retry(verdict, wait)
        await sleep(wait)
