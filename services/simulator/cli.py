"""`flotilla simulator`: run a local SpaceTraders universe; and its part in `flotilla up`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from flotilla.local_servers import free_port
from flotilla.runner import run_service
from flotilla.up import ChildSpec, LocalStack
from simulator import service
from simulator.settings import DEFAULT_PORT, settings_with

URL_FILE_NAME = "simulator.url"

# (option, settings field, type, metavar, help); each option overrides FLOTILLA_<FIELD>.
_OPTIONS: list[tuple[str, str, type, str, str]] = [
    ("--host", "simulator_host", str, "ADDRESS", "address to listen on (default 127.0.0.1)"),
    (
        "--port",
        "simulator_port",
        int,
        "PORT",
        f"port to listen on; 0 picks a free one (default {DEFAULT_PORT})",
    ),
    (
        "--url-file",
        "simulator_url_file",
        str,
        "PATH",
        "write the base URL (ending in /v2) to this file once listening",
    ),
    (
        "--seed",
        "simulator_seed",
        int,
        "N",
        "seed of the universe: the same seed gives the same galaxy (default 1)",
    ),
    (
        "--time-scale",
        "simulator_time_scale",
        float,
        "FACTOR",
        "divide every cooldown and flight by FACTOR in real time; 60 plays an hour of game "
        "in a minute (default 1)",
    ),
    ("--systems", "simulator_systems", int, "N", "number of star systems, 2 to 60 (default 8)"),
    (
        "--starting-credits",
        "simulator_starting_credits",
        int,
        "CREDITS",
        "credits of a newly registered agent (default 175000)",
    ),
    (
        "--static-limit",
        "simulator_static_limit",
        int,
        "N",
        "rate limit: points in the static pool, refilled a period after first use (default 2)",
    ),
    (
        "--static-period",
        "simulator_static_period_seconds",
        float,
        "SECONDS",
        "rate limit: seconds before the static pool refills (default 1)",
    ),
    (
        "--burst-limit",
        "simulator_burst_limit",
        int,
        "N",
        "rate limit: points in the burst pool, spent when the static pool is empty (default 30)",
    ),
    (
        "--burst-period",
        "simulator_burst_period_seconds",
        float,
        "SECONDS",
        "rate limit: seconds before the burst pool refills (default 60)",
    ),
    (
        "--fault-500-rate",
        "simulator_fault_500_rate",
        float,
        "FRACTION",
        "fraction of requests answered with a JSON 500 error (default 0)",
    ),
    (
        "--fault-502-rate",
        "simulator_fault_502_rate",
        float,
        "FRACTION",
        "fraction of requests answered with an HTML 502 Bad Gateway (default 0)",
    ),
    (
        "--fault-html-429-rate",
        "simulator_fault_html_429_rate",
        float,
        "FRACTION",
        "fraction of requests answered with a bare HTML 429 without headers (default 0)",
    ),
    (
        "--fault-drop-rate",
        "simulator_fault_drop_rate",
        float,
        "FRACTION",
        "fraction of requests whose connection is dropped without a response (default 0)",
    ),
    (
        "--latency-ms",
        "simulator_latency_ms",
        float,
        "MS",
        "milliseconds added to every response (default 0)",
    ),
    (
        "--fault-seed",
        "simulator_fault_seed",
        int,
        "N",
        "seed of the fault draws, for reproducible runs (default 0)",
    ),
]


def command(args: argparse.Namespace) -> int:
    overrides: dict[str, Any] = {
        field: getattr(args, field)
        for _, field, _, _, _ in _OPTIONS
        if getattr(args, field) is not None
    }
    if args.no_rate_limit:
        overrides["simulator_rate_limit"] = False
    return run_service("simulator", settings_with(overrides), service.main)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "simulator",
        help="run a local SpaceTraders universe (the v2 API under /v2)",
        description=(
            "Serve a deterministic SpaceTraders universe that follows the official v2 API: "
            "register an agent with POST /v2/register and play against it. Every option can "
            "also be set with the environment variable shown beside it; an option given here "
            "wins. Other settings: FLOTILLA_LOG_LEVEL, FLOTILLA_LOG_FORMAT."
        ),
    )
    for option, field, kind, metavar, text in _OPTIONS:
        parser.add_argument(
            option,
            dest=field,
            type=kind,
            default=None,
            metavar=metavar,
            help=f"{text} [env FLOTILLA_{field.upper()}]",
        )
    parser.add_argument(
        "--no-rate-limit",
        action="store_true",
        help="switch the rate limit off (fast tests); it is on by default "
        "[env FLOTILLA_SIMULATOR_RATE_LIMIT=false]",
    )
    parser.set_defaults(func=command)


def url_file(stack: LocalStack) -> Path:
    return stack.data_dir / URL_FILE_NAME


def local_url(stack: LocalStack) -> str | None:
    """The base URL (…/v2) of the simulator that `flotilla up` started, if it started one."""
    path = url_file(stack)
    if not path.exists():
        return None
    return path.read_text().strip() or None


def up_specs(stack: LocalStack, args: argparse.Namespace) -> list[ChildSpec]:
    """`flotilla up` runs the simulator on a free port and records its URL in the data dir
    (`simulator.url`) for the services started after it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/v2"
    path = url_file(stack)
    path.write_text(url + "\n")
    return [
        ChildSpec(
            name="simulator",
            args=["simulator", "--port", str(port)],
            where=url,
        )
    ]
