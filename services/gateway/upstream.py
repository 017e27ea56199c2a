"""The HTTP side: one `httpx.AsyncClient` per agent whose connection pool is exactly as large as
the in-flight cap, with a timeout on every phase of every send, and a record of whether the API
has been answering lately (for readiness)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import Field

from flotilla.clock import Clock
from flotilla.settings import Section

__all__ = [
    "ApiErrorBody",
    "HttpConfig",
    "TransportFactory",
    "UpstreamHealth",
    "build_client",
    "build_request",
    "default_transport",
    "error_of",
]

# Builds the transport of one client; tests pass one that returns an `httpx.MockTransport`.
TransportFactory = Callable[[httpx.Limits, str | None], httpx.AsyncBaseTransport]


class HttpConfig(Section):
    """How many requests may be on the wire and how patient to be with the API (the `http`
    section of the gateway's settings)."""

    max_in_flight: int = Field(
        default=8,
        ge=1,
        le=256,
        description="requests on the wire per sending address; each agent's connection pool "
        "has exactly this many connections",
    )
    connect_timeout_seconds: float = Field(
        default=5.0, gt=0, description="longest wait to open a connection to the API"
    )
    read_timeout_seconds: float = Field(
        default=20.0, gt=0, description="longest wait for the API's answer"
    )
    write_timeout_seconds: float = Field(
        default=5.0, gt=0, description="longest wait to send a request's body"
    )
    pool_timeout_seconds: float = Field(
        default=5.0, gt=0, description="longest wait for a free connection of the pool"
    )

    def limits(self) -> httpx.Limits:
        """Pool limits: as many connections as requests may be in flight, all kept alive."""
        # The pool never has to open more than it may keep, so it never discards a connection.
        return httpx.Limits(
            max_connections=self.max_in_flight,
            max_keepalive_connections=self.max_in_flight,
            keepalive_expiry=30.0,
        )

    def timeout(self) -> httpx.Timeout:
        """The timeout of every phase of every send."""
        return httpx.Timeout(
            connect=self.connect_timeout_seconds,
            read=self.read_timeout_seconds,
            write=self.write_timeout_seconds,
            pool=self.pool_timeout_seconds,
        )


def default_transport(limits: httpx.Limits, local_address: str | None) -> httpx.AsyncBaseTransport:
    """A plain HTTP/1.1 transport with the given pool limits, bound to `local_address`."""
    return httpx.AsyncHTTPTransport(limits=limits, local_address=local_address or None, retries=0)


def build_client(
    base_url: str,
    config: HttpConfig,
    token: str | None,
    *,
    local_address: str | None = None,
    transport_factory: TransportFactory = default_transport,
) -> httpx.AsyncClient:
    """The client one agent uses: its bearer token on every request, pool sized to the cap."""
    headers = {"Accept": "application/json", "User-Agent": "flotilla-gateway"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.AsyncClient(
        base_url=base_url.rstrip("/"),
        headers=headers,
        timeout=config.timeout(),
        transport=transport_factory(config.limits(), local_address),
        follow_redirects=False,
    )


def build_request(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    query: dict[str, str],
    body: bytes,
) -> httpx.Request:
    """One API request; a JSON content type only when there is a body."""
    headers = {"Content-Type": "application/json"} if body else None
    return client.build_request(
        method,
        path.lstrip("/"),
        params=query or None,
        content=body or None,
        headers=headers,
    )


@dataclass(frozen=True)
class ApiErrorBody:
    """The API's error envelope, or what stands in for it when the body is not JSON."""

    code: int
    message: str


def error_of(status: int, body: bytes) -> ApiErrorBody | None:
    """The `error.code` / `error.message` of an error response (None for a success)."""
    if status < 400:
        return None
    parsed: Any = None
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        error = parsed["error"]
        code = error.get("code")
        message = error.get("message")
        return ApiErrorBody(
            code if isinstance(code, int) else status,
            message if isinstance(message, str) else "",
        )
    snippet = body[:200].decode("utf-8", errors="replace").strip()
    kind = "HTML" if snippet.lower().startswith(("<!doctype", "<html")) else "non-JSON"
    return ApiErrorBody(status if status == 429 else 0, f"HTTP {status} with a {kind} body")


class UpstreamHealth:
    """Whether the API answered lately; when it has been quiet, a TCP connect decides.

    Readiness reads `state()`, which does no I/O: the verdict of recent traffic, else the
    result of the latest connect, which `watch` refreshes while traffic is quiet.
    """

    def __init__(self, base_url: str, clock: Clock, fresh_seconds: float = 30.0) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self._clock = clock
        self._fresh = fresh_seconds
        self._last_answer: float | None = None
        self._last_failure: float | None = None
        self._connect_result: tuple[bool, str] = (False, "not checked yet")
        self.last_error = ""

    def answered(self) -> None:
        """An HTTP response came back (any status but a gateway error counts)."""
        self._last_answer = self._clock.monotonic()

    def failed(self, error: str) -> None:
        """An attempt got no HTTP answer (network error, or 502/503 from the edge)."""
        self._last_failure = self._clock.monotonic()
        self.last_error = error

    def recent(self) -> bool | None:
        """True/False from the latest attempt within the freshness window, None if none."""
        now = self._clock.monotonic()
        answer = self._last_answer if self._last_answer is not None else -1e18
        failure = self._last_failure if self._last_failure is not None else -1e18
        latest = max(answer, failure)
        if latest < now - self._fresh:
            return None
        return answer >= failure

    def state(self) -> tuple[bool, str]:
        """(reachable, detail) without any I/O: recent traffic, else the latest connect."""
        recent = self.recent()
        if recent is True:
            return True, "answering"
        if recent is False:
            return False, self.last_error or "failing"
        return self._connect_result

    async def check(self, connect_timeout: float = 2.0) -> tuple[bool, str]:
        """(reachable, detail): the recent traffic's verdict, or a TCP connect to the API."""
        if self.recent() is not None:
            return self.state()
        try:
            async with asyncio.timeout(connect_timeout):
                _, writer = await asyncio.open_connection(self.host, self.port)
        except (OSError, TimeoutError) as exc:
            self._connect_result = (False, f"cannot connect to {self.host}:{self.port}: {exc!r}")
            return self._connect_result
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        self._connect_result = (True, "reachable")
        return self._connect_result

    async def watch(
        self, stopped_within: Callable[[float], Awaitable[bool]], interval_seconds: float = 5.0
    ) -> None:
        """Keep `state()` current while traffic is quiet: `check()` now and every
        `interval_seconds`, until `stopped_within(seconds)` says the service is stopping."""
        while True:
            await self.check()
            if await stopped_within(interval_seconds):
                return
