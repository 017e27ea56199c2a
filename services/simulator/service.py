"""The simulator as a Flotilla service: serve the API until SIGTERM, then drain."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import AsyncExitStack
from pathlib import Path

from simulator.app import create_app
from simulator.server import base_url, bind_socket, serve_until, uvicorn_server
from simulator.settings import SimulatorSettings

log = logging.getLogger("simulator")


async def main(settings: SimulatorSettings, stack: AsyncExitStack, stopping: asyncio.Event) -> None:
    """Serve the universe that `settings` describe until `stopping` is set."""
    config = settings.simulator_config()
    # uvicorn's start/stop lines add nothing to the line below and carry colour codes.
    logging.getLogger("uvicorn.error").setLevel(max(logging.WARNING, log.getEffectiveLevel()))
    app = create_app(config)
    sock = bind_socket(settings.simulator_host, settings.simulator_port)
    stack.callback(sock.close)
    url = base_url(sock)
    if settings.simulator_url_file:
        url_file = Path(settings.simulator_url_file)
        _write_url(url_file, url)
        stack.callback(url_file.unlink, missing_ok=True)
    log.info(
        "simulator serving %s",
        url,
        extra={
            "seed": config.seed,
            "time_scale": config.time_scale,
            "rate_limit": config.rate_limit_enabled,
        },
    )
    with contextlib.suppress(asyncio.CancelledError):
        await serve_until(uvicorn_server(app), sock, stopping)


def _write_url(path: Path, url: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(url + "\n")
