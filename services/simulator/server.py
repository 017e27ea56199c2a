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


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening TCP socket on `host:port` (port 0: a free one).

    It is created with the TCP protocol number, which its accepted connections inherit: asyncio
    sets `TCP_NODELAY` only on sockets that say they are TCP. Without it, an answer written in
    two parts (headers, then body) on a kept-alive connection waits for the client's delayed
    ACK, some 40 ms per request.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def socket_url(sock: socket.socket) -> str:
    """The base URL (…/v2) of the API served on `sock`, as clients on this machine reach it."""
    host, port = sock.getsockname()[:2]
    return base_url(str(host), int(port))


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers (whoever runs it decides when it stops), telling
    `on_started` once it listens."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._on_started()


def uvicorn_server(app: FastAPI, on_started: Callable[[], None] = lambda: None) -> uvicorn.Server:
    """A uvicorn server for `app` that logs nothing per request, leaves signals alone and calls
    `on_started` (in its event loop) once it listens."""
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        date_header=False,  # the app sends its own, from the simulator's clock
        lifespan="off",
        ws="none",
        http="h11",
        timeout_graceful_shutdown=5,
    )
    return _Server(config, on_started)


async def serve_until(server: uvicorn.Server, sock: socket.socket, stop: asyncio.Event) -> None:
    """Serve on `sock` until `stop` is set, then shut down gracefully."""
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        server.should_exit = True
        await serving


@contextlib.asynccontextmanager
async def running_simulator_async(
    config: SimulatorConfig | None = None, clock: Clock | None = None, host: str = "127.0.0.1"
) -> AsyncIterator[str]:
    """Serve a simulator on a free port in the current event loop; yield its `…/v2` URL once
    it listens."""
    app = create_app(config or SimulatorConfig(), clock)
    sock = bind_socket(host)
    url = socket_url(sock)
    listening = asyncio.Event()
    server = uvicorn_server(app, listening.set)
    stop = asyncio.Event()
    task = asyncio.create_task(serve_until(server, sock, stop))
    started = asyncio.create_task(listening.wait())
    try:
        await asyncio.wait(
            {task, started}, timeout=START_TIMEOUT_SECONDS, return_when=asyncio.FIRST_COMPLETED
        )
        if not listening.is_set():
            if task.done():
                task.result()
                raise RuntimeError("the simulator stopped while starting")
            raise TimeoutError(f"the simulator at {url} did not start in {START_TIMEOUT_SECONDS}s")
        yield url
    finally:
        started.cancel()
        stop.set()
        await task
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
