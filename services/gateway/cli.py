"""`flotilla gateway`: serve SpaceTraders API calls over NATS; and its part in `flotilla up`."""

from __future__ import annotations

import argparse
import importlib
import os
from typing import Any

from flotilla.local_servers import free_port
from flotilla.runner import run_service
from flotilla.settings import ENV_PREFIX
from flotilla.up import ChildSpec, LocalStack
from gateway.settings import GatewaySettings

_TOKEN_VARIABLES = (f"{ENV_PREFIX}SPACETRADERS_TOKEN", f"{ENV_PREFIX}AGENT_TOKENS")


def command(args: argparse.Namespace) -> int:
    # Options are applied as environment variables so that the settings class stays the one
    # place that reads and validates configuration.
    if args.base_url:
        os.environ[f"{ENV_PREFIX}SPACETRADERS_BASE_URL"] = args.base_url
    if args.metrics_port is not None:
        os.environ[f"{ENV_PREFIX}GATEWAY_METRICS_PORT"] = str(args.metrics_port)
    from gateway.service import run

    return run_service("gateway", GatewaySettings, run)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "gateway",
        help="serve SpaceTraders API calls over NATS: priority queue, exact rate limit, retries",
        description=(
            "The only client of the SpaceTraders API. Other services send it API calls over "
            "NATS; it queues them by priority, spends the rate limit fully without 429s and "
            "logs every call. Tokens come from FLOTILLA_SPACETRADERS_TOKEN or "
            "FLOTILLA_AGENT_TOKENS; with neither it registers an agent (local simulator runs)."
        ),
    )
    parser.add_argument(
        "--base-url",
        default=None,
        metavar="URL",
        help="API base URL ending in /v2 [env FLOTILLA_SPACETRADERS_BASE_URL]",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        metavar="PORT",
        help="port of /healthz, /readyz and /metrics; 0 picks a free one "
        "[env FLOTILLA_GATEWAY_METRICS_PORT, default 9102]",
    )
    parser.set_defaults(func=command)


def _simulator_url(stack: LocalStack) -> str | None:
    try:
        simulator_cli = importlib.import_module("simulator.cli")
    except ImportError:
        return None
    url = simulator_cli.local_url(stack)
    return url if isinstance(url, str) else None


def up_specs(stack: LocalStack, args: argparse.Namespace) -> list[ChildSpec]:
    """In `flotilla up` the gateway plays against the simulator started just before it and
    registers an agent there (its token stays in the gateway's memory). With a token in the
    environment it plays the real game at FLOTILLA_SPACETRADERS_BASE_URL instead."""
    port = free_port()
    env = {f"{ENV_PREFIX}GATEWAY_METRICS_PORT": str(port)}
    real_game = any(os.environ.get(name) for name in _TOKEN_VARIABLES)
    if real_game:
        where = os.environ.get(f"{ENV_PREFIX}SPACETRADERS_BASE_URL", "the real API")
    else:
        url = _simulator_url(stack)
        if url is None:
            # Nothing to play against and no token: leave the gateway out rather than fail.
            return []
        env[f"{ENV_PREFIX}SPACETRADERS_BASE_URL"] = url
        where = url
    return [
        ChildSpec(
            name="gateway",
            args=["gateway"],
            env=env,
            where=f"metrics http://127.0.0.1:{port}/metrics -> {where}",
        )
    ]
