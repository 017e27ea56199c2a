"""Serving a FastAPI app with uvicorn inside a service (or a test): the listening socket is
bound before the server starts, so the port is never lost to a race; signals are left to the
caller (the service kit handles SIGTERM itself); nothing is logged per request."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable, Iterator

import uvicorn
from fastapi import FastAPI

__all__ = ["bind_socket", "serve_until", "serving", "socket_address", "uvicorn_server"]


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


def uvicorn_server(
    app: FastAPI, on_started: Callable[[], None] = lambda: None, *, date_header: bool = True
) -> uvicorn.Server:
    """A uvicorn server for `app` that logs nothing per request, leaves signals alone and calls
    `on_started` (in its event loop) once it listens; `date_header=False` leaves the Date
    header to the app."""
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        date_header=date_header,
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


def socket_address(sock: socket.socket) -> str:
    """`http://host:port` of a listening socket, as clients on this machine reach it."""
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


@contextlib.asynccontextmanager
async def serving(
    app: FastAPI, sock: socket.socket, *, start_timeout: float = 20.0, date_header: bool = True
) -> AsyncIterator[uvicorn.Server]:
    """Serve `app` on `sock` in this event loop until the block ends (then shut down
    gracefully); enter once it listens."""
    listening = asyncio.Event()
    server = uvicorn_server(app, listening.set, date_header=date_header)
    stop = asyncio.Event()
    task = asyncio.create_task(serve_until(server, sock, stop))
    started = asyncio.create_task(listening.wait())
    try:
        await asyncio.wait(
            {task, started}, timeout=start_timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if not listening.is_set():
            if task.done():
                task.result()
                raise RuntimeError(f"the server on {socket_address(sock)} stopped while starting")
            raise TimeoutError(f"the server on {socket_address(sock)} did not start in time")
        yield server
    finally:
        started.cancel()
        stop.set()
        await task
