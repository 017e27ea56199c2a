"""Bounded retries: which failures are retried, how the waits grow, and that the loop is
iterative (its stack does not deepen and it is never re-entered)."""

from __future__ import annotations

import inspect
import random
import sys
from types import FrameType
from typing import Any

import httpx

from flotilla.v1.api_pb2 import CallOutcome
from gateway.retry import Attempt, RetryPolicy, run_attempts

COMPLETED = CallOutcome.CALL_OUTCOME_COMPLETED
FAILED = CallOutcome.CALL_OUTCOME_FAILED
UNKNOWN = CallOutcome.CALL_OUTCOME_UNKNOWN

POLICY = RetryPolicy(max_attempts=4, base_delay_seconds=0.25, max_delay_seconds=2.0)


class Recorder:
    """Plays a scripted series of attempt results and records the waits between them."""

    def __init__(self, results: list[Attempt]) -> None:
        self.results = list(results)
        self.calls = 0
        self.sleeps: list[float] = []
        self.stack_depths: list[int] = []

    async def attempt(self, number: int) -> Attempt:
        self.calls += 1
        assert number == self.calls
        self.stack_depths.append(len(inspect.stack(0)))
        return self.results.pop(0) if self.results else Attempt(status=200)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


async def run(
    results: list[Attempt], *, changes_state: bool = False, policy: RetryPolicy = POLICY
) -> tuple[Any, Recorder]:
    recorder = Recorder(results)
    ended = await run_attempts(
        recorder.attempt,
        policy=policy,
        changes_state=changes_state,
        sleep=recorder.sleep,
        rng=random.Random(1),
    )
    return ended, recorder


def connect_error() -> Attempt:
    return Attempt(error=httpx.ConnectError("connection refused"))


def dropped() -> Attempt:
    return Attempt(error=httpx.RemoteProtocolError("Server disconnected without a response"))


async def test_an_answer_ends_the_loop_at_once() -> None:
    ended, recorder = await run([Attempt(status=201)])
    assert ended.outcome == COMPLETED and ended.attempts == 1
    assert recorder.sleeps == []


async def test_a_read_is_retried_through_5xx_and_network_errors_until_answered() -> None:
    ended, recorder = await run([Attempt(status=500), dropped(), Attempt(status=502)])
    assert ended.outcome == COMPLETED
    assert ended.attempts == 4 and ended.retries == 3
    assert len(recorder.sleeps) == 3


async def test_retries_stop_at_the_bound_and_report_the_last_failure() -> None:
    ended, recorder = await run([Attempt(status=503)] * 10)
    assert ended.outcome == FAILED
    assert ended.attempts == POLICY.max_attempts == recorder.calls
    assert ended.attempt.status == 503
    assert len(recorder.sleeps) == POLICY.max_attempts - 1


def may_have_acted() -> list[Attempt]:
    """Results after which the API may have done what was asked."""
    statuses = (500, 501, 502, 503, 504, 520, 521, 522, 523, 524)
    errors = (
        httpx.ReadTimeout("slow"),
        httpx.ReadError("Connection reset by peer"),
        httpx.WriteError("Broken pipe"),
        httpx.WriteTimeout("slow"),
        httpx.DecodingError("bad gzip"),
    )
    return [Attempt(status=s) for s in statuses] + [dropped()] + [Attempt(error=e) for e in errors]


async def test_a_state_changing_call_is_not_repeated_after_an_ambiguous_failure() -> None:
    for ambiguous in may_have_acted():
        ended, recorder = await run([ambiguous], changes_state=True)
        assert ended.outcome == UNKNOWN, ambiguous
        assert recorder.calls == 1 and recorder.sleeps == []


async def test_a_read_is_retried_through_every_ambiguous_failure() -> None:
    for ambiguous in may_have_acted():
        ended, recorder = await run([ambiguous, ambiguous])
        assert ended.outcome == COMPLETED and recorder.calls == 3, ambiguous


async def test_a_state_changing_call_is_retried_when_it_never_reached_the_server() -> None:
    ended, recorder = await run(
        [
            connect_error(),
            Attempt(error=httpx.ConnectTimeout("slow")),
            Attempt(status=429),
            Attempt(error=httpx.PoolTimeout("no connection")),
            Attempt(status=201),
        ],
        changes_state=True,
    )
    assert ended.outcome == COMPLETED and recorder.calls == 5


async def test_a_write_that_was_never_sent_fails_rather_than_being_unknown() -> None:
    ended, recorder = await run([connect_error()] * 10, changes_state=True)
    assert ended.outcome == FAILED and recorder.calls == POLICY.max_attempts


async def test_a_write_sent_after_a_connect_error_is_unknown_when_its_answer_is_lost() -> None:
    ended, recorder = await run([connect_error(), Attempt(status=504)], changes_state=True)
    assert ended.outcome == UNKNOWN and recorder.calls == 2
    assert ended.attempt.status == 504


async def test_a_request_that_cannot_be_sent_at_all_fails_at_once() -> None:
    for changes_state in (False, True):
        unsendable = Attempt(error=httpx.UnsupportedProtocol("no scheme"))
        ended, recorder = await run([unsendable], changes_state=changes_state)
        assert ended.outcome == FAILED and recorder.calls == 1 and recorder.sleeps == []


async def test_429s_are_retried_without_backoff_up_to_their_own_bound() -> None:
    policy = RetryPolicy(max_attempts=2, max_rate_limited=3)
    ended, recorder = await run([Attempt(status=429)] * 10, changes_state=True, policy=policy)
    # The limiter's pause is the wait; the 429 answer is returned once the bound is reached.
    assert recorder.sleeps == []
    assert ended.attempts == 1 + policy.max_rate_limited
    assert ended.outcome == COMPLETED and ended.attempt.status == 429


async def test_a_deadline_that_passed_stops_the_retries() -> None:
    recorder = Recorder([Attempt(status=503)] * 5)
    ended = await run_attempts(
        recorder.attempt,
        policy=POLICY,
        changes_state=False,
        sleep=recorder.sleep,
        rng=random.Random(1),
        may_retry=lambda: recorder.calls < 2,
    )
    assert ended.outcome == FAILED and recorder.calls == 2


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(base_delay_seconds=0.25, max_delay_seconds=2.0)
    rng = random.Random(42)
    for failures in range(1, 12):
        step = min(2.0, 0.25 * 2 ** (failures - 1))
        waits = [policy.backoff.delay(failures, rng) for _ in range(200)]
        assert all(step / 2 <= w <= step for w in waits), failures
        assert max(waits) - min(waits) > step / 4  # jittered, not fixed
    assert max(policy.backoff.delay(50, rng) for _ in range(100)) <= 2.0


async def test_many_failures_neither_deepen_the_stack_nor_reenter_the_loop() -> None:
    """The operator's recursive retry ran out of memory; this one keeps a constant stack."""
    # Far past the settings' bound of 10 on purpose: the loop must stay flat for any bound.
    policy = RetryPolicy.model_construct(
        max_attempts=200, base_delay_seconds=0.0, max_delay_seconds=0.0, max_rate_limited=5
    )
    frames: set[int] = set()

    def profile(frame: FrameType, event: str, arg: object) -> None:
        # A coroutine resumed after an await reports a "call" again, on the same frame; a new
        # entry into the loop (recursion) would bring a new frame.
        if event == "call" and frame.f_code is run_attempts.__code__:
            frames.add(id(frame))

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        ended, recorder = await run([Attempt(status=503)] * 150, policy=policy)
    finally:
        sys.setprofile(previous)
    assert ended.outcome == COMPLETED and recorder.calls == 151
    assert len(set(recorder.stack_depths)) == 1, "the stack grew between attempts"
    assert len(frames) == 1, "the retry loop was entered more than once"
