"""Fleet analytics, read from the per-minute rollups the writer maintains: the figures the
operator steers by and the conductor shows.

Usage (any `psycopg.AsyncConnection` to the Flotilla database, e.g. from a pool)::

    from datetime import UTC, datetime, timedelta
    from flotilla.db import analytics

    async with pool.connection() as conn:
        stats = await analytics.fleet_stats(conn, now=datetime.now(UTC), window=timedelta(hours=1))
        stats.cph_net, stats.cpr_gross, stats.saturation, stats.timing["all"].seconds_per_request

Definitions (every query takes the time window as `now` and `window`; pass `now` in, never read
the clock here, so that tests and replays are exact):

- **Window.** Rollups have one-minute resolution: a window covers the minute buckets that start
  in `[now - window, now)`. Rates divide by the window's length.
- **Credits.** Gross (income) is `sell` and `contract` transactions; spent is `purchase`, `fuel`,
  `ship` and `mount`; net is gross minus spent. `other` has no direction and counts in neither.
  (Kinds, like priority classes, are spelled as in `flotilla.semconv`.)
- **CPH** (credits per hour): credits in the window divided by its length in hours, gross and
  net.
- **Requests.** A *call* is one API call the gateway logged; it is *sent* when at least one
  HTTP request went out (expired and overloaded calls are not sent); *attempts* are the HTTP
  requests sent, retries included (what the rate limit counts). A sent call is *throttled*
  when its last answer was 429.
- **CPR** (credits per request): credits divided by the sent calls that were not throttled.
- **Saturation**: HTTP requests (attempts) per minute divided by the limit, 150 per minute
  (2 per second plus a burst of 30 per minute); 1.0 means the limit is fully used.
- **Seconds per request**, per priority class (`cooldown_start`, …) and overall (`"all"`):
  the mean time a call waited in the gateway's queue (over all calls) plus the mean time on
  the wire (over sent calls).
- **Active ships** at `now`: ships whose cooldown has not expired or that are in transit and
  have not arrived.
- **Per-ship and per-behaviour CPH**: the same credit sums grouped by the ship and by the
  behaviour that the transaction events name (`""` when an event named none).
- **Contracts completed**: calls to the fulfil endpoint that the API answered with success.
- **Uptime**: the minute buckets of the window in which the fleet made at least one call (the
  operator's "uptime" of a week). The operator's report (`operator_report`) also gives CPH per
  hour of uptime, which is what the operator's weekly table calls CPH.
- **Fleet size**: the ships known now (the `ships` table keeps only the newest state).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from psycopg import AsyncConnection

from flotilla.semconv import outcome_name, transaction_kind_name
from flotilla.v1 import api_pb2, events_pb2

__all__ = [
    "ALL_CLASSES",
    "CONTRACT_FULFIL_ENDPOINT",
    "EXPENSE_KINDS",
    "INCOME_KINDS",
    "REQUESTS_PER_MINUTE_LIMIT",
    "ActiveShips",
    "Connection",
    "Credits",
    "Earnings",
    "FleetStats",
    "MinuteStats",
    "OperatorReport",
    "RequestTiming",
    "Window",
    "active_ships",
    "contracts_completed",
    "credits",
    "earnings_by_behaviour",
    "earnings_by_ship",
    "fleet_stats",
    "minute_series",
    "operator_report",
    "request_timing",
    "ship_earnings",
    "uptime",
]

INCOME_KINDS: Final = tuple(
    transaction_kind_name(kind)
    for kind in (events_pb2.TRANSACTION_KIND_SELL, events_pb2.TRANSACTION_KIND_CONTRACT)
)
EXPENSE_KINDS: Final = tuple(
    transaction_kind_name(kind)
    for kind in (
        events_pb2.TRANSACTION_KIND_PURCHASE,
        events_pb2.TRANSACTION_KIND_FUEL,
        events_pb2.TRANSACTION_KIND_SHIP,
        events_pb2.TRANSACTION_KIND_MOUNT,
    )
)
REQUESTS_PER_MINUTE_LIMIT: Final = 150
# The key of the totals over every priority class in `FleetStats.timing`.
ALL_CLASSES: Final = "all"
# The path template of the call that completes a contract, as the request log records it.
CONTRACT_FULFIL_ENDPOINT: Final = "/my/contracts/{contractId}/fulfill"
_COMPLETED: Final = outcome_name(api_pb2.CALL_OUTCOME_COMPLETED)

Connection = AsyncConnection[Any]


@dataclass(frozen=True)
class Window:
    """The minute buckets starting in `[start, end)`."""

    start: datetime
    end: datetime

    @classmethod
    def ending(cls, now: datetime, length: timedelta) -> Window:
        """The window of `length` that ends at `now` (which must be timezone-aware)."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        if length <= timedelta(0):
            raise ValueError("the window must be longer than zero")
        return cls(now - length, now)

    @property
    def hours(self) -> float:
        """The window's length in hours."""
        return (self.end - self.start).total_seconds() / 3600

    @property
    def minutes(self) -> float:
        """The window's length in minutes."""
        return (self.end - self.start).total_seconds() / 60


@dataclass(frozen=True)
class Credits:
    """Credits earned and spent in a window, and the rates per hour."""

    gross: int
    spent: int
    hours: float

    @property
    def net(self) -> int:
        """Gross minus spent."""
        return self.gross - self.spent

    @property
    def cph_gross(self) -> float:
        """Gross credits per hour."""
        return self.gross / self.hours

    @property
    def cph_net(self) -> float:
        """Net credits per hour."""
        return self.net / self.hours


@dataclass(frozen=True)
class RequestTiming:
    """Calls of one priority class (or `"all"`) in a window and their mean times in seconds."""

    priority: str
    calls: int
    sent: int
    attempts: int
    throttled: int
    non_throttled: int
    queue_wait_seconds: float | None
    wire_seconds: float | None

    @property
    def seconds_per_request(self) -> float | None:
        """Mean queue wait plus mean wire time; None when no call was logged."""
        if self.queue_wait_seconds is None:
            return None
        return self.queue_wait_seconds + (self.wire_seconds or 0.0)


@dataclass(frozen=True)
class ActiveShips:
    """Ships busy at one moment: cooling down, in transit, either (active), and all ships."""

    in_cooldown: int
    in_transit: int
    active: int
    total: int


@dataclass(frozen=True)
class Earnings(Credits):
    """Credits of one ship or one behaviour (`key`) in a window."""

    key: str


@dataclass(frozen=True)
class FleetStats:
    """Everything the conductor's stats page shows, for one window."""

    window: Window
    credits: Credits
    timing: dict[str, RequestTiming]  # by priority class, plus "all"
    active_ships: ActiveShips

    @property
    def cph_gross(self) -> float:
        """Gross credits per hour over the window."""
        return self.credits.cph_gross

    @property
    def cph_net(self) -> float:
        """Net credits per hour over the window."""
        return self.credits.cph_net

    @property
    def requests(self) -> int:
        """HTTP requests sent in the window (what the rate limit counts)."""
        return self.timing[ALL_CLASSES].attempts

    @property
    def requests_per_minute(self) -> float:
        """HTTP requests per minute over the window."""
        return self.requests / self.window.minutes

    @property
    def saturation(self) -> float:
        """Requests per minute against the limit of 150; 1.0 is the limit."""
        return self.requests_per_minute / REQUESTS_PER_MINUTE_LIMIT

    @property
    def cpr_gross(self) -> float | None:
        """Gross credits per non-429 request; None when no request was sent."""
        requests = self.timing[ALL_CLASSES].non_throttled
        return self.credits.gross / requests if requests else None

    @property
    def cpr_net(self) -> float | None:
        """Net credits per non-429 request; None when no request was sent."""
        requests = self.timing[ALL_CLASSES].non_throttled
        return self.credits.net / requests if requests else None


@dataclass(frozen=True)
class MinuteStats:
    """One minute of the fleet, for charts."""

    minute: datetime
    gross: int
    spent: int
    requests: int
    non_throttled: int

    @property
    def net(self) -> int:
        """Gross minus spent in this minute."""
        return self.gross - self.spent

    @property
    def cph_gross(self) -> float:
        """This minute's gross credits as a rate per hour."""
        return self.gross * 60.0

    @property
    def cph_net(self) -> float:
        """This minute's net credits as a rate per hour."""
        return self.net * 60.0

    @property
    def saturation(self) -> float:
        """This minute's requests against the limit of 150; 1.0 is the limit."""
        return self.requests / REQUESTS_PER_MINUTE_LIMIT

    @property
    def cpr_gross(self) -> float | None:
        """Gross credits per non-429 request; None when none was sent."""
        return self.gross / self.non_throttled if self.non_throttled else None


# --- queries ------------------------------------------------------------------------------

_IN_WINDOW = (
    "minute >= %(start)s AND minute < %(end)s AND (%(agent)s::text IS NULL OR agent = %(agent)s)"
)
_CREDIT_SUMS = (
    "coalesce(sum(credits) FILTER (WHERE kind = ANY(%(income)s)), 0)::bigint, "
    "coalesce(sum(credits) FILTER (WHERE kind = ANY(%(expense)s)), 0)::bigint"
)


def _params(window: Window, agent: str | None) -> dict[str, Any]:
    return {
        "start": window.start,
        "end": window.end,
        "agent": agent,
        "income": list(INCOME_KINDS),
        "expense": list(EXPENSE_KINDS),
    }


async def credits(
    conn: Connection, *, now: datetime, window: timedelta, agent: str | None = None
) -> Credits:
    """Gross, spent and net credits in the window, with CPH."""
    span = Window.ending(now, window)
    cur = await conn.execute(
        f"SELECT {_CREDIT_SUMS} FROM credit_minutes WHERE {_IN_WINDOW}", _params(span, agent)
    )
    row = await cur.fetchone()
    assert row is not None
    return Credits(int(row[0]), int(row[1]), span.hours)


async def request_timing(
    conn: Connection, *, now: datetime, window: timedelta, agent: str | None = None
) -> dict[str, RequestTiming]:
    """Calls and seconds per request by priority class, plus `"all"`, in the window."""
    span = Window.ending(now, window)
    cur = await conn.execute(
        "SELECT priority, sum(calls), sum(sent), sum(attempts), sum(throttled),"
        " sum(non_throttled), sum(queued_us_sum), sum(wire_us_sum)"
        f" FROM request_minutes WHERE {_IN_WINDOW} GROUP BY priority ORDER BY priority",
        _params(span, agent),
    )
    sums: dict[str, tuple[int, int, int, int, int, float, float]] = {}
    for priority, calls, sent, attempts, throttled, ok, queued, wire in await cur.fetchall():
        sums[priority] = (
            int(calls),
            int(sent),
            int(attempts),
            int(throttled),
            int(ok),
            float(queued),
            float(wire),
        )
    total = [sum(values) for values in zip(*sums.values(), strict=True)] if sums else [0] * 7
    sums[ALL_CLASSES] = (
        int(total[0]),
        int(total[1]),
        int(total[2]),
        int(total[3]),
        int(total[4]),
        float(total[5]),
        float(total[6]),
    )
    return {
        priority: RequestTiming(
            priority=priority,
            calls=calls,
            sent=sent,
            attempts=attempts,
            throttled=throttled,
            non_throttled=ok,
            queue_wait_seconds=queued / calls / 1e6 if calls else None,
            wire_seconds=wire / sent / 1e6 if sent else None,
        )
        for priority, (calls, sent, attempts, throttled, ok, queued, wire) in sums.items()
    }


async def active_ships(conn: Connection, *, now: datetime, agent: str | None = None) -> ActiveShips:
    """Ships cooling down or in transit at `now`."""
    cur = await conn.execute(
        """
        SELECT count(*) FILTER (WHERE cooldown_expiration > %(now)s),
               count(*) FILTER (WHERE nav_status = 'IN_TRANSIT' AND nav_arrival > %(now)s),
               count(*) FILTER (WHERE cooldown_expiration > %(now)s
                                   OR (nav_status = 'IN_TRANSIT' AND nav_arrival > %(now)s)),
               count(*)
        FROM ships WHERE %(agent)s::text IS NULL OR agent = %(agent)s
        """,
        {"now": now, "agent": agent},
    )
    row = await cur.fetchone()
    assert row is not None
    return ActiveShips(int(row[0]), int(row[1]), int(row[2]), int(row[3]))


async def fleet_stats(
    conn: Connection,
    *,
    now: datetime,
    window: timedelta = timedelta(hours=1),
    agent: str | None = None,
) -> FleetStats:
    """CPH, CPR, saturation, seconds per request and active ships for one window."""
    return FleetStats(
        window=Window.ending(now, window),
        credits=await credits(conn, now=now, window=window, agent=agent),
        timing=await request_timing(conn, now=now, window=window, agent=agent),
        active_ships=await active_ships(conn, now=now, agent=agent),
    )


async def _earnings_by(
    conn: Connection, column: str, now: datetime, window: timedelta, agent: str | None
) -> list[Earnings]:
    span = Window.ending(now, window)
    cur = await conn.execute(
        f"SELECT {column}, {_CREDIT_SUMS} FROM credit_minutes WHERE {_IN_WINDOW} GROUP BY {column}",
        _params(span, agent),
    )
    earnings = [
        Earnings(gross=int(gross), spent=int(spent), hours=span.hours, key=str(key))
        for key, gross, spent in await cur.fetchall()
    ]
    return sorted(earnings, key=lambda e: (-e.net, e.key))


async def earnings_by_ship(
    conn: Connection, *, now: datetime, window: timedelta, agent: str | None = None
) -> list[Earnings]:
    """Credits and CPH per ship in the window, highest net first."""
    return await _earnings_by(conn, "ship_symbol", now, window, agent)


async def ship_earnings(
    conn: Connection, symbol: str, *, now: datetime, window: timedelta
) -> Earnings:
    """Credits and CPH of one ship in the window (zeros when it moved none)."""
    span = Window.ending(now, window)
    cur = await conn.execute(
        f"SELECT {_CREDIT_SUMS} FROM credit_minutes WHERE {_IN_WINDOW} AND ship_symbol = %(ship)s",
        {**_params(span, None), "ship": symbol},
    )
    row = await cur.fetchone()
    assert row is not None
    return Earnings(gross=int(row[0]), spent=int(row[1]), hours=span.hours, key=symbol)


async def earnings_by_behaviour(
    conn: Connection, *, now: datetime, window: timedelta, agent: str | None = None
) -> list[Earnings]:
    """Credits and CPH per behaviour in the window, highest net first."""
    return await _earnings_by(conn, "behaviour", now, window, agent)


async def minute_series(
    conn: Connection, *, now: datetime, window: timedelta, agent: str | None = None
) -> list[MinuteStats]:
    """One entry per minute bucket of the window (zeros where nothing happened), for charts."""
    span = Window.ending(now, window)
    params = _params(span, agent)
    cur = await conn.execute(
        f"SELECT minute, {_CREDIT_SUMS} FROM credit_minutes WHERE {_IN_WINDOW} GROUP BY minute",
        params,
    )
    money = {minute: (int(gross), int(spent)) for minute, gross, spent in await cur.fetchall()}
    cur = await conn.execute(
        "SELECT minute, sum(attempts), sum(non_throttled) FROM request_minutes"
        f" WHERE {_IN_WINDOW} GROUP BY minute",
        params,
    )
    calls = {minute: (int(sent), int(ok)) for minute, sent, ok in await cur.fetchall()}
    first = span.start.replace(second=0, microsecond=0)
    if first < span.start:
        first += timedelta(minutes=1)
    series = []
    minute = first
    while minute < span.end:
        gross, spent = money.get(minute, (0, 0))
        requests, ok = calls.get(minute, (0, 0))
        series.append(MinuteStats(minute, gross, spent, requests, ok))
        minute += timedelta(minutes=1)
    return series


async def contracts_completed(
    conn: Connection, *, now: datetime, window: timedelta, agent: str | None = None
) -> int:
    """Contracts fulfilled in the window: fulfil calls the API answered with success."""
    span = Window.ending(now, window)
    cur = await conn.execute(
        "SELECT count(*) FROM request_log"
        " WHERE timestamp >= %(start)s AND timestamp < %(end)s"
        " AND (%(agent)s::text IS NULL OR agent = %(agent)s)"
        " AND endpoint = %(endpoint)s AND outcome = %(outcome)s"
        " AND status >= 200 AND status < 300",
        {
            "start": span.start,
            "end": span.end,
            "agent": agent,
            "endpoint": CONTRACT_FULFIL_ENDPOINT,
            "outcome": _COMPLETED,
        },
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def uptime(
    conn: Connection, *, now: datetime, window: timedelta, agent: str | None = None
) -> timedelta:
    """The minutes of the window in which the fleet made at least one call."""
    span = Window.ending(now, window)
    cur = await conn.execute(
        f"SELECT count(DISTINCT minute) FROM request_minutes WHERE {_IN_WINDOW} AND calls > 0",
        _params(span, agent),
    )
    row = await cur.fetchone()
    assert row is not None
    return timedelta(minutes=int(row[0]))


@dataclass(frozen=True)
class OperatorReport:
    """The operator's weekly table for one window: the fleet's figures, contracts, uptime, and
    every ship and behaviour with its credits (highest net CPH first)."""

    stats: FleetStats
    contracts_completed: int
    uptime: timedelta
    ships: list[Earnings]
    behaviours: list[Earnings]

    @property
    def fleet_size(self) -> int:
        """Ships known now."""
        return self.stats.active_ships.total

    @property
    def credits_earned(self) -> int:
        """Gross credits in the window."""
        return self.stats.credits.gross

    @property
    def uptime_hours(self) -> float:
        """Uptime in hours."""
        return self.uptime.total_seconds() / 3600

    @property
    def cph_uptime_gross(self) -> float | None:
        """Gross credits per hour of uptime (the weekly table's CPH); None without uptime."""
        return self.stats.credits.gross / self.uptime_hours if self.uptime else None

    @property
    def cph_uptime_net(self) -> float | None:
        """Net credits per hour of uptime; None without uptime."""
        return self.stats.credits.net / self.uptime_hours if self.uptime else None

    @property
    def empty(self) -> bool:
        """Nothing recorded: no ship, no call and no credits in the window."""
        return (
            self.fleet_size == 0
            and self.stats.timing[ALL_CLASSES].calls == 0
            and self.stats.credits.gross == 0
            and self.stats.credits.spent == 0
        )


async def operator_report(
    conn: Connection, *, now: datetime, window: timedelta, agent: str | None = None
) -> OperatorReport:
    """Everything `flotilla stats` prints, for the window ending at `now`."""
    return OperatorReport(
        stats=await fleet_stats(conn, now=now, window=window, agent=agent),
        contracts_completed=await contracts_completed(conn, now=now, window=window, agent=agent),
        uptime=await uptime(conn, now=now, window=window, agent=agent),
        ships=[
            e for e in await earnings_by_ship(conn, now=now, window=window, agent=agent) if e.key
        ],
        behaviours=await earnings_by_behaviour(conn, now=now, window=window, agent=agent),
    )
