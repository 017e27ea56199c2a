"""Opening and closing NATS the same way in every service: at start a clear one-line error
naming the URL when the server cannot be reached in time; afterwards reconnects with
exponential backoff and jitter; every failure one log line, never a traceback per attempt."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from nats.aio.client import Client as NatsClient

from flotilla.backoff import Backoff
from flotilla.kit.context import ServiceFailed

__all__ = ["RECONNECT_BACKOFF", "close_nats", "open_nats", "redact_url"]

# Waits between reconnect attempts once a connection was established.
RECONNECT_BACKOFF = Backoff(base_seconds=0.25, max_seconds=5.0)
# Waits between attempts of the first connection (NATS may be starting beside the service).
_START_RETRY_WAIT = 0.5
_ATTEMPT_TIMEOUT = 2


def redact_url(url: str) -> str:
    """`url` without the password of its user part, fit for a log line."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text and text[0] else type(exc).__name__


async def open_nats(
    url: str,
    name: str,
    *,
    connect_timeout: float = 30.0,
    stopping: asyncio.Event | None = None,
    log: logging.Logger | None = None,
) -> NatsClient:
    """Connect to NATS at `url`, trying for up to `connect_timeout` seconds.

    Raises `ServiceFailed` with one line naming the URL when the server cannot be reached in
    time (or `stopping` is set first).
    """
    log = log or logging.getLogger("flotilla.nats")
    shown = redact_url(url)
    last_error: list[str] = []
    connected = False

    async def on_error(exc: Exception) -> None:
        message = _describe(exc)
        last_error[:] = [message]
        if connected:
            log.warning("NATS at %s: %s", shown, message)
        else:
            log.warning("NATS at %s not reachable yet (%s): retrying", shown, message)

    async def on_disconnected() -> None:
        # A connection closed on purpose (the drain at stop) is not news.
        if connected and not nc.is_closed:
            log.warning("NATS at %s disconnected: reconnecting", shown)

    async def on_reconnected() -> None:
        log.info("NATS at %s reconnected", shown)

    def next_server(servers: list[Any], info: dict[str, Any]) -> tuple[Any, float]:
        failures = max((getattr(s, "reconnects", 0) for s in servers), default=0)
        return None, RECONNECT_BACKOFF.delay(failures + 1)

    nc = NatsClient()
    attempt = asyncio.create_task(
        nc.connect(
            url,
            name=name,
            connect_timeout=_ATTEMPT_TIMEOUT,
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=_START_RETRY_WAIT,  # type: ignore[arg-type]  # seconds, float ok
            error_cb=on_error,
            disconnected_cb=on_disconnected,
            reconnected_cb=on_reconnected,
            reconnect_to_server_handler=next_server,
        )
    )
    waits: set[asyncio.Future[Any]] = {attempt}
    stop_wait: asyncio.Task[bool] | None = None
    if stopping is not None:
        stop_wait = asyncio.create_task(stopping.wait())
        waits.add(stop_wait)
    try:
        done, _ = await asyncio.wait(
            waits, timeout=connect_timeout, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        if stop_wait is not None:
            stop_wait.cancel()
    if attempt in done and attempt.exception() is None:
        connected = True
        log.info("connected to NATS at %s", shown)
        return nc
    attempt.cancel()
    with contextlib.suppress(BaseException):
        await attempt
    with contextlib.suppress(Exception):
        await nc.close()
    if attempt in done and attempt.exception() is not None:
        last_error[:] = [_describe(attempt.exception())]  # type: ignore[arg-type]
    if stopping is not None and stopping.is_set():
        raise ServiceFailed(f"stopped before NATS at {shown} could be reached")
    reason = f" (last error: {last_error[0]})" if last_error else ""
    raise ServiceFailed(
        f"cannot reach NATS at {shown} within {connect_timeout:g}s{reason}; "
        "is the server running and FLOTILLA_NATS_URL right?"
    )


async def close_nats(nc: NatsClient, drain_seconds: float = 5.0) -> None:
    """Drain `nc` (pending messages are flushed, subscriptions finish), else close it. Safe to
    call twice."""
    if nc.is_closed:
        return
    try:
        async with asyncio.timeout(drain_seconds):
            await nc.drain()
    except Exception as exc:
        logging.getLogger("flotilla.nats").warning("NATS drain failed (%s): closing", exc)
        with contextlib.suppress(Exception):
            await nc.close()
