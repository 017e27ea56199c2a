"""The dashboard on an app of its own (what the browser tests and the benchmark serve), and
serving any ASGI app on a bound socket in the running event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import uvicorn
from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from conductor.web.router import DEFAULT_PREFIX, dashboard_router
from conductor.web.source import DashboardSource

__all__ = ["dashboard_app", "serving"]


def dashboard_app(source: DashboardSource, *, write_token: str | None) -> FastAPI:
    """A FastAPI app with only the dashboard (and `/` sending the browser to it)."""
    app = FastAPI(title="Flotilla dashboard", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(dashboard_router(source, write_token=write_token))

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse(DEFAULT_PREFIX + "/")

    return app


@contextlib.asynccontextmanager
async def serving(app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve `app` on `host:port` (0: a free port) until the block ends; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the dashboard server stopped while starting")
            await asyncio.sleep(0.01)
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)
        sock.close()
