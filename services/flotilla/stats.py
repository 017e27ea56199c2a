"""`flotilla stats`: the operator's weekly table from the command line, for any window.

Fleet size, contracts completed, credits earned, requests, uptime, CPH, CPR, seconds per
request and saturation, then the top and bottom ships and behaviours by CPH — all read from the
shared analytics (`flotilla.db.analytics`), never from the API.

Which database: `--database-url`, else `FLOTILLA_DATABASE_URL`, else the local run's data
folder (`--data-dir`, default `.flotilla`): while `flotilla up` runs there, its PostgreSQL
(whose port PostgreSQL itself records in the cluster's `postmaster.pid`); when no run holds the
folder, the folder's PostgreSQL is started for the read and stopped again.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from flotilla.clock import Clock, SystemClock
from flotilla.db import analytics
from flotilla.kit.nats import redact_url
from flotilla.kit.runtime import EXIT_BAD_SETTINGS, EXIT_FAILED, EXIT_OK
from flotilla.settings import DatabaseSettings, env_name

__all__ = [
    "DEFAULT_WINDOW",
    "LocalDatabase",
    "StatsError",
    "TimeSpan",
    "format_duration",
    "local_database_url",
    "parse_duration",
    "parse_moment",
    "read_report",
    "register",
    "render",
    "resolve_span",
    "run_stats",
]

DEFAULT_WINDOW = timedelta(days=7)
DATABASE_VARIABLE = env_name(DatabaseSettings, "database", "url")
_DURATION = re.compile(r"(\d+)\s*([wdhms])")
_UNITS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}


class StatsError(Exception):
    """Something `flotilla stats` cannot do, with the message the operator sees."""


# --- the window -------------------------------------------------------------------------------


def parse_duration(text: str) -> timedelta:
    """`7d`, `36h`, `1d12h`, `90m`, `2w` … as a duration longer than zero."""
    compact = text.strip().lower().replace(" ", "")
    if not compact or _DURATION.sub("", compact):
        raise StatsError(f"not a duration: {text!r} (write e.g. 7d, 36h, 1d12h, 90m)")
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _DURATION.findall(compact))
    if seconds <= 0:
        raise StatsError(f"the window must be longer than zero: {text!r}")
    return timedelta(seconds=seconds)


def parse_moment(text: str) -> datetime:
    """An ISO 8601 date or date-time; without a zone it is UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise StatsError(
            f"not a date or time: {text!r} (write e.g. 2026-11-25 or 2026-11-25T18:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class TimeSpan:
    """The window a report covers: `[since, until)`."""

    since: datetime
    until: datetime

    @property
    def length(self) -> timedelta:
        """`until - since`."""
        return self.until - self.since


def resolve_span(
    now: datetime, *, since: str | None, until: str | None, window: str | None
) -> TimeSpan:
    """The window from the options: `--until` (default now) and either `--since` or
    `--window` (default 7 days before `--until`)."""
    if since and window:
        raise StatsError("give --since or --window, not both")
    end = parse_moment(until) if until else now
    start = parse_moment(since) if since else end - (parse_duration(window or "7d"))
    if start >= end:
        raise StatsError(
            f"--since ({start:%Y-%m-%d %H:%M}) must be before --until ({end:%Y-%m-%d %H:%M})"
        )
    return TimeSpan(start, end)


# --- which database ---------------------------------------------------------------------------


def _running_port(cluster_dir: Path) -> int | None:
    """The port of the PostgreSQL server running on `cluster_dir`, from its `postmaster.pid`
    (line 1 the pid, line 4 the port), if that process is alive."""
    try:
        lines = (cluster_dir / "postmaster.pid").read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
    except (OSError, IndexError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, owned by another user (the server runs as its own user under root)
    return port


def local_database_url(data_dir: Path) -> str | None:
    """The URL of the local run's database while its PostgreSQL runs, else None."""
    from flotilla.local_servers import DATABASE_NAME

    port = _running_port(data_dir / "postgres" / "pgdata")
    if port is None:
        return None
    return f"postgresql://postgres@127.0.0.1:{port}/{DATABASE_NAME}"


class LocalDatabase:
    """The database of a local run's data folder, for the length of one read: the running
    server's when `flotilla up` runs there, else the folder's server, started and then stopped
    (holding the folder, so no `flotilla up` starts meanwhile)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    @contextlib.contextmanager
    def open(self) -> Iterator[str]:
        """Yield the database URL; stop what was started for it afterwards."""
        from flotilla.local_servers import PostgresServer, ServerError
        from flotilla.up import DataDirInUse, data_dir_lock

        if not (self.data_dir / "postgres" / "pgdata" / "PG_VERSION").exists():
            raise StatsError(
                f"no local run in {self.data_dir} (start one with `make run`), and no "
                f"--database-url or {DATABASE_VARIABLE} given"
            )
        url = local_database_url(self.data_dir)
        if url is not None:
            yield url
            return
        try:
            with data_dir_lock(self.data_dir):
                server = PostgresServer(self.data_dir / "postgres")
                try:
                    server.start()
                except ServerError as exc:
                    raise StatsError(
                        f"could not start the local run's PostgreSQL in {self.data_dir}: "
                        f"{str(exc).splitlines()[0]}"
                    ) from None
                try:
                    yield server.url
                finally:
                    server.stop()
        except DataDirInUse:
            # A run is starting or stopping right now: use its server if it is up.
            url = local_database_url(self.data_dir)
            if url is None:
                raise StatsError(
                    f"the local run in {self.data_dir} is starting or stopping; try again"
                ) from None
            yield url


# --- reading and printing ---------------------------------------------------------------------


def _one_line(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    return lines[0] if lines else type(cause).__name__


async def read_report(url: str, span: TimeSpan, agent: str | None) -> analytics.OperatorReport:
    """The report for `span`, read on one short-lived connection to `url`."""
    import psycopg

    from flotilla.db.urls import libpq_url

    try:
        conn = await psycopg.AsyncConnection.connect(
            libpq_url(url), autocommit=True, connect_timeout=5
        )
    except (psycopg.Error, ValueError) as exc:
        raise StatsError(
            f"cannot reach the database at {redact_url(url)}: {_one_line(exc)}"
        ) from None
    async with conn:
        try:
            return await analytics.operator_report(
                conn, now=span.until, window=span.length, agent=agent
            )
        except psycopg.errors.UndefinedTable:
            raise StatsError(
                f"the database at {redact_url(url)} has no Flotilla schema; run `flotilla migrate`"
            ) from None
        except psycopg.Error as exc:
            raise StatsError(f"reading {redact_url(url)} failed: {_one_line(exc)}") from None


def format_duration(length: timedelta) -> str:
    """`6d 3h 52m` (whole minutes)."""
    minutes = int(length.total_seconds() // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h {mins}m"
    if hours:
        return f"{hours}h {mins}m"
    return f"{mins}m"


def _number(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _ranking(title: str, rows: Sequence[analytics.Earnings], top: int, label: str) -> list[str]:
    """The `top` best and the `top` worst rows by net CPH (each row once)."""
    if not rows:
        return [f"{title}: none recorded"]
    best = list(rows[:top])
    worst = [row for row in rows[-top:] if row not in best][::-1]
    width = max(len(label), *(len(row.key or "(none)") for row in rows))
    lines = [
        f"{title}",
        f"  {'':<6} {label:<{width}}  {'net CPH':>14}  {'gross':>14}  {'spent':>14}",
    ]
    for rank, row in [("top", r) for r in best] + [("bottom", r) for r in worst]:
        lines.append(
            f"  {rank:<6} {row.key or '(none)':<{width}}  {_number(row.cph_net):>14}"
            f"  {row.gross:>14,}  {row.spent:>14,}"
        )
    return lines


def render(report: analytics.OperatorReport, span: TimeSpan, agent: str | None, top: int) -> str:
    """The table `flotilla stats` prints."""
    stats = report.stats
    timing = stats.timing[analytics.ALL_CLASSES]
    rows = [
        ("fleet size", f"{report.fleet_size:,}"),
        ("contracts completed", f"{report.contracts_completed:,}"),
        ("credits earned", f"{report.credits_earned:,}"),
        ("credits spent", f"{stats.credits.spent:,}"),
        ("credits net", f"{stats.credits.net:,}"),
        ("requests", f"{stats.requests:,}"),
        ("uptime", format_duration(report.uptime)),
        ("CPH", _number(report.cph_uptime_gross)),
        ("CPH net", _number(report.cph_uptime_net)),
        ("CPR", _number(stats.cpr_gross)),
        ("seconds per request", _number(timing.seconds_per_request, 3)),
        ("saturation", _number(stats.saturation, 3)),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [
        f"Flotilla stats {span.since:%Y-%m-%d %H:%M} to {span.until:%Y-%m-%d %H:%M} UTC "
        f"({format_duration(span.length)}), agent {agent or 'all'}",
        "",
        *(f"{name:<{width}}  {value:>16}" for name, value in rows),
        "",
        "CPH is per hour of uptime (minutes with calls), a ship's or behaviour's per hour of "
        "the window;",
        "CPR is per non-429 request; saturation is requests per minute over the window "
        f"against the limit of {analytics.REQUESTS_PER_MINUTE_LIMIT}.",
        "",
        *_ranking("ships by CPH", report.ships, top, "ship"),
        "",
        *_ranking("behaviours by CPH", report.behaviours, top, "behaviour"),
    ]
    return "\n".join(lines) + "\n"


def run_stats(
    args: argparse.Namespace,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    clock: Clock | None = None,
) -> int:
    """`flotilla stats`."""
    out = out or sys.stdout
    err = err or sys.stderr
    now = (clock or SystemClock()).now()
    try:
        span = resolve_span(now, since=args.since, until=args.until, window=args.window)
    except StatsError as exc:
        print(f"stats: {exc}", file=err)
        return EXIT_BAD_SETTINGS
    if args.top < 1:
        print("stats: --top must be at least 1", file=err)
        return EXIT_BAD_SETTINGS
    agent = args.agent or None
    try:
        url = args.database_url or os.environ.get(DATABASE_VARIABLE, "")
        source: contextlib.AbstractContextManager[str] = (
            contextlib.nullcontext(url) if url else LocalDatabase(Path(args.data_dir)).open()
        )
        with source as resolved:
            report = asyncio.run(read_report(resolved, span, agent))
    except StatsError as exc:
        print(f"stats: {exc}", file=err)
        return EXIT_FAILED
    if report.empty:
        print(
            f"stats: nothing recorded between {span.since:%Y-%m-%d %H:%M} and "
            f"{span.until:%Y-%m-%d %H:%M} UTC for agent {agent or 'any'}: no ships, no calls, "
            "no credits (is the persister running, and is this the right window?)",
            file=out,
        )
        return EXIT_OK
    out.write(render(report, span, agent, args.top))
    return EXIT_OK


def register(subparsers: Any) -> None:
    """Add `flotilla stats`."""
    parser = subparsers.add_parser(
        "stats",
        help="print the fleet's figures for a window (default: the last 7 days)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--since", help="start of the window (ISO date or date-time, UTC)")
    parser.add_argument("--until", help="end of the window (default: now)")
    parser.add_argument(
        "--window", help="length of the window ending at --until, e.g. 7d, 36h (default 7d)"
    )
    parser.add_argument("--agent", default="", help="only this agent (default: every agent)")
    parser.add_argument(
        "--top", type=int, default=3, help="ships and behaviours shown at each end (default 3)"
    )
    parser.add_argument(
        "--database-url",
        default="",
        help=f"database to read (default: {DATABASE_VARIABLE}, else the local run's)",
    )
    parser.add_argument(
        "--data-dir",
        default=".flotilla",
        help="the local run's data folder, when no database URL is given (default: .flotilla)",
    )
    parser.set_defaults(func=run_stats)
