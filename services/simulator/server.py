"""Serving the simulator with uvicorn: in a background thread or task for tests and benchmarks
(`running_simulator`, `running_simulator_async`), or as the body of the `flotilla simulator`
service (`simulator.service`).

The listening socket is bound before the server starts, so the port is never lost to a race;
signals are left to the caller (the service kit handles SIGTERM itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator

import uvicorn
from fastapi import FastAPI

from flotilla.clock import Clock
from flotilla.serving import bind_socket, serve_until, serving
from flotilla.serving import uvicorn_server as serving_server
from simulator.address import base_url
from simulator.app import create_app
from simulator.config import SimulatorConfig

__all__ = [
    "START_TIMEOUT_SECONDS",
    "bind_socket",
    "running_simulator",
    "running_simulator_async",
    "serve_until",
    "socket_url",
    "uvicorn_server",
]

START_TIMEOUT_SECONDS = 20.0


def uvicorn_server(app: FastAPI, on_started: Callable[[], None] = lambda: None) -> uvicorn.Server:
    """`flotilla.serving.uvicorn_server` without uvicorn's own Date header: the app sends its
    own, from the simulator's clock."""
    return serving_server(app, on_started, date_header=False)


def socket_url(sock: socket.socket) -> str:
    """The base URL (…/v2) of the API served on `sock`, as clients on this machine reach it."""
    host, port = sock.getsockname()[:2]
    return base_url(str(host), int(port))


@contextlib.asynccontextmanager
async def running_simulator_async(
    config: SimulatorConfig | None = None, clock: Clock | None = None, host: str = "127.0.0.1"
) -> AsyncIterator[str]:
    """Serve a simulator on a free port in the current event loop; yield its `…/v2` URL once
    it listens."""
    app = create_app(config or SimulatorConfig(), clock)
    sock = bind_socket(host)
    try:
        async with serving(app, sock, start_timeout=START_TIMEOUT_SECONDS, date_header=False):
            yield socket_url(sock)
    finally:
        sock.close()


@contextlib.contextmanager
def running_simulator(
    config: SimulatorConfig | None = None, clock: Clock | None = None, host: str = "127.0.0.1"
) -> Iterator[str]:
    """Serve a simulator on a free port from a background thread until the block ends; yield
    its base URL, e.g. `http://127.0.0.1:43123/v2`, once it listens."""
    app = create_app(config or SimulatorConfig(), clock)
    sock = bind_socket(host)
    url = socket_url(sock)
    settled = threading.Event()  # listening, or failed to
    server = uvicorn_server(app, settled.set)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    failure: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(serve_until(server, sock, stop))
        except BaseException as exc:  # reported to the caller below
            failure.append(exc)
        finally:
            settled.set()
            loop.close()

    thread = threading.Thread(target=run, name="simulator-server", daemon=True)
    thread.start()
    try:
        if not settled.wait(START_TIMEOUT_SECONDS):
            raise TimeoutError(f"the simulator at {url} did not start in {START_TIMEOUT_SECONDS}s")
        if failure:
            raise RuntimeError("the simulator failed to start") from failure[0]
        if not server.started:
            raise RuntimeError("the simulator stopped while starting")
        yield url
    finally:
        if not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        sock.close()
