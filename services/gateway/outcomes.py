"""The one table of what an attempt's result means: every HTTP status and transport failure is
mapped to a verdict (did the request reach the API, and did the API act on it?), and every
verdict to what the retry loop does next and the outcome a call ends with — for a read and
for a call that changes game state.

The rule behind it: a write that may have reached the API is never sent again, and its caller
is told `UNKNOWN` (the client raises `OutcomeUnknown`), because only a look at the game state
can tell whether it happened. Proxies in front of the API answer 502, 503, 504 and 520–524
after forwarding a request as well as before, and a dropped connection or a timed-out read
says nothing about what the server did, so all of these count as "may have acted". Only a
failure before any byte of the request left (no connection, no pooled connection), or an
answer that says the request was not processed (429), lets a write be sent again. Reads
change nothing, so they are retried through every failure, within the bounded attempts.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

import httpx

from flotilla.semconv import outcome_name
from flotilla.v1.api_pb2 import CallOutcome

__all__ = [
    "ERROR_RULES",
    "STATUS_RULES",
    "Handling",
    "Rule",
    "Verdict",
    "handling",
    "is_edge_failure",
    "markdown_table",
    "verdict_of_error",
    "verdict_of_status",
]


class Verdict(enum.Enum):
    """What one attempt's result says about the request (the value labels retry metrics)."""

    ANSWERED = "answered"  # the API's own answer (2xx, 3xx, 4xx but 429): return it
    RATE_LIMITED = "rate_limited"  # refused unprocessed (429): send again after the pause
    NOT_SENT = "not_sent"  # no byte of the request left: sending it again is safe
    AMBIGUOUS = "ambiguous"  # it may have reached the API and been acted on
    UNSENDABLE = "unsendable"  # this request cannot be sent at all: trying again cannot help


@dataclass(frozen=True)
class Handling:
    """What the retry loop does with a verdict: try again (within the bounds) or stop, and the
    call's outcome when it stops there."""

    retry: bool
    outcome: CallOutcome

    def describe(self) -> str:
        """How the README's table says it: `retry, then failed` or `stop: unknown`."""
        name = outcome_name(self.outcome)
        return f"retry, then {name}" if self.retry else f"stop: {name}"


_COMPLETED = CallOutcome.CALL_OUTCOME_COMPLETED
_FAILED = CallOutcome.CALL_OUTCOME_FAILED
_UNKNOWN = CallOutcome.CALL_OUTCOME_UNKNOWN

# (verdict, changes state) -> handling. 429s have a bound of their own (`max_rate_limited`);
# when it is reached the 429 is returned as the API's answer.
_HANDLING: Final[dict[tuple[Verdict, bool], Handling]] = {
    (Verdict.ANSWERED, False): Handling(retry=False, outcome=_COMPLETED),
    (Verdict.ANSWERED, True): Handling(retry=False, outcome=_COMPLETED),
    (Verdict.RATE_LIMITED, False): Handling(retry=True, outcome=_COMPLETED),
    (Verdict.RATE_LIMITED, True): Handling(retry=True, outcome=_COMPLETED),
    (Verdict.NOT_SENT, False): Handling(retry=True, outcome=_FAILED),
    (Verdict.NOT_SENT, True): Handling(retry=True, outcome=_FAILED),
    (Verdict.AMBIGUOUS, False): Handling(retry=True, outcome=_FAILED),
    (Verdict.AMBIGUOUS, True): Handling(retry=False, outcome=_UNKNOWN),
    (Verdict.UNSENDABLE, False): Handling(retry=False, outcome=_FAILED),
    (Verdict.UNSENDABLE, True): Handling(retry=False, outcome=_FAILED),
}


def handling(verdict: Verdict, changes_state: bool) -> Handling:
    """What to do after an attempt with `verdict`, for a read or a state-changing call."""
    return _HANDLING[(verdict, changes_state)]


@dataclass(frozen=True)
class Rule:
    """One row of the table: a result, its verdict, and why."""

    result: str
    verdict: Verdict
    why: str


# Statuses from proxies that may have forwarded the request first (502 is also what the API's
# DDoS protection answers; 520–524 are the codes of the API's CDN).
_EDGE_FAILURES: Final = frozenset({502, 503, 504, 520, 521, 522, 523, 524})

STATUS_RULES: Final[tuple[Rule, ...]] = (
    Rule("2xx, 3xx", Verdict.ANSWERED, "the API's answer"),
    Rule("4xx but 429", Verdict.ANSWERED, "the API's refusal: nothing was done"),
    Rule(
        "429 with rate-limit headers",
        Verdict.RATE_LIMITED,
        "refused by the rate limit before processing; all sending pauses for `retry-after` "
        "(after `RETRY_MAX_RATE_LIMITED` of them the 429 is the answer: `RateLimited`)",
    ),
    Rule(
        "429 without headers (bare HTML)",
        Verdict.RATE_LIMITED,
        "refused at the edge; all sending pauses for `RATE_LIMIT_DEFAULT_PAUSE_SECONDS`",
    ),
    Rule("500", Verdict.AMBIGUOUS, "the API failed while handling it: part of it may be done"),
    Rule("502", Verdict.AMBIGUOUS, "a proxy got no valid answer; the API may have acted"),
    Rule("503", Verdict.AMBIGUOUS, "proxies answer 503 after forwarding too"),
    Rule("504", Verdict.AMBIGUOUS, "a proxy stopped waiting for the API's answer"),
    Rule(
        "520, 521, 522, 523, 524",
        Verdict.AMBIGUOUS,
        "the CDN's errors; which proxy layer sent one cannot be told, so none proves the API "
        "was not reached",
    ),
    Rule("any other 5xx", Verdict.AMBIGUOUS, "a server error says nothing about what was done"),
)

# Transport failures, most specific first (httpx's classes form a hierarchy).
_ERROR_VERDICTS: Final[tuple[tuple[type[Exception], Verdict], ...]] = (
    (httpx.ConnectError, Verdict.NOT_SENT),
    (httpx.ConnectTimeout, Verdict.NOT_SENT),
    (httpx.PoolTimeout, Verdict.NOT_SENT),
    (httpx.WriteError, Verdict.AMBIGUOUS),
    (httpx.WriteTimeout, Verdict.AMBIGUOUS),
    (httpx.ReadTimeout, Verdict.AMBIGUOUS),
    (httpx.ReadError, Verdict.AMBIGUOUS),
    (httpx.RemoteProtocolError, Verdict.AMBIGUOUS),
    (httpx.DecodingError, Verdict.AMBIGUOUS),
    (httpx.LocalProtocolError, Verdict.UNSENDABLE),
    (httpx.UnsupportedProtocol, Verdict.UNSENDABLE),
    (httpx.ProxyError, Verdict.NOT_SENT),
)

ERROR_RULES: Final[tuple[Rule, ...]] = (
    Rule(
        "connect error (refused, reset or unreachable while connecting), connect timeout, "
        "proxy error",
        Verdict.NOT_SENT,
        "no connection, so no byte of the request left",
    ),
    Rule("pool timeout", Verdict.NOT_SENT, "no free connection: the request never left"),
    Rule(
        "write error or write timeout (connection reset while sending)",
        Verdict.AMBIGUOUS,
        "part or all of the request may have reached the API",
    ),
    Rule("read timeout", Verdict.AMBIGUOUS, "sent; the answer did not come in time"),
    Rule(
        "read error (connection reset after sending)",
        Verdict.AMBIGUOUS,
        "sent; the connection died before the answer",
    ),
    Rule(
        "remote protocol error (disconnected without an answer, malformed answer)",
        Verdict.AMBIGUOUS,
        "sent; no usable answer came back",
    ),
    Rule("decoding error", Verdict.AMBIGUOUS, "answered, but the answer cannot be read"),
    Rule(
        "local protocol error, unsupported protocol",
        Verdict.UNSENDABLE,
        "the request itself cannot be sent",
    ),
    Rule("any other transport failure", Verdict.AMBIGUOUS, "what reached the API cannot be told"),
)


def verdict_of_status(status: int) -> Verdict:
    """The verdict of an HTTP answer with `status` (a bare 429 and one with headers differ
    only in how long the limiter pauses)."""
    if status == 429:
        return Verdict.RATE_LIMITED
    if status >= 500:
        return Verdict.AMBIGUOUS
    return Verdict.ANSWERED


def verdict_of_error(error: Exception) -> Verdict:
    """The verdict of an attempt that ended in `error` instead of an answer."""
    for kind, verdict in _ERROR_VERDICTS:
        if isinstance(error, kind):
            return verdict
    return Verdict.AMBIGUOUS


def is_edge_failure(status: int) -> bool:
    """A status that proxies in front of the API answer when it is not answering itself."""
    return status in _EDGE_FAILURES


def markdown_table() -> str:
    """The table as the README shows it: one row per result, with what a read and a
    state-changing call do after it."""
    lines = [
        "| result of an attempt | verdict | read | write (changes state) | why |",
        "| --- | --- | --- | --- | --- |",
    ]
    for rule in (*STATUS_RULES, *ERROR_RULES):
        read = handling(rule.verdict, changes_state=False).describe()
        write = handling(rule.verdict, changes_state=True).describe()
        lines.append(f"| {rule.result} | {rule.verdict.value} | {read} | {write} | {rule.why} |")
    return "\n".join(lines)
