"""The body of `flotilla simulator`: serve the API until the service is asked to stop, then let
open requests finish."""

from __future__ import annotations

import logging

from flotilla.kit import ServiceContext, ServiceFailed
from flotilla.settings import env_name
from simulator.config import SimulatorSettings
from simulator.metrics import SimulatorMetrics

__all__ = ["HTTP_CHECK", "run"]

# Readiness: the API socket is serving requests.
HTTP_CHECK = "http"


async def run(ctx: ServiceContext[SimulatorSettings, SimulatorMetrics]) -> None:
    """Serve the universe the settings describe on their host and port; report "http" ready
    while it serves, and expose its `url` and `app` to tests."""
    # Imported here so that `flotilla --help` does not load the web server.
    from simulator.app import create_app
    from simulator.server import bind_socket, serve_until, socket_url, uvicorn_server

    settings = ctx.settings
    config = settings.config
    # uvicorn's start/stop lines add nothing to the line below and carry colour codes.
    logging.getLogger("uvicorn.error").setLevel(max(logging.WARNING, ctx.log.getEffectiveLevel()))
    try:
        sock = bind_socket(settings.host, settings.port)
    except OSError as exc:
        raise ServiceFailed(
            f"cannot listen on {settings.host}:{settings.port} ({exc.strerror or exc}); "
            f"free it or set {env_name(SimulatorSettings, 'port')} (0: a free port)"
        ) from None
    ctx.stack.callback(sock.close)
    url = socket_url(sock)
    app = create_app(config, ctx.clock, ctx.metrics)
    server = uvicorn_server(app)

    def serving() -> tuple[bool, str]:
        if server.should_exit:
            return False, "stopping"
        return (True, url) if server.started else (False, "starting")

    ctx.health.watch(HTTP_CHECK, serving)
    ctx.exposed.update(url=url, app=app)
    ctx.log.info(
        "simulator serving %s",
        url,
        extra={
            "seed": config.seed,
            "time_scale": config.time_scale,
            "rate_limit": config.rate_limit.enabled,
        },
    )
    await serve_until(server, sock, ctx.stopping)
