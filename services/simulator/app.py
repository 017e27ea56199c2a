"""The HTTP app: the v2 API under `/v2`, behind an edge that delays each request on its way
in, injects faults and enforces the rate limit before any route runs, loses answers after the
action ran, delays each answer on its way out, and counts every answer on the app's metrics.

The edge sits in `SimulatorApp.__call__`, outside every Starlette middleware, so that it sees the
server's own `send` and can drop a connection for real.
"""

from __future__ import annotations

import asyncio
import uuid
from email.utils import format_datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Message, Receive, Scope, Send

from flotilla.clock import Clock, SystemClock
from flotilla.metrics import MetricsRegistry
from simulator.address import API_PREFIX
from simulator.config import SimulatorConfig
from simulator.errors import INTERNAL_ERROR, ApiError, ErrorCode
from simulator.faults import HTML_429_BODY, HTML_502_BODY, HTML_504_BODY, Fault, FaultInjector
from simulator.game import Game
from simulator.metrics import NO_ROUTE, SimulatorMetrics
from simulator.network import Network, ShiftedClock
from simulator.ratelimit import RateLimiter

__all__ = ["ConnectionDropped", "SimulatorApp", "create_app"]


class ConnectionDropped(ConnectionError):
    """Raised instead of dropping the connection when the app runs without a real server (an
    in-process test transport), so the client still sees a failed request."""


class SimulatorApp(FastAPI):
    """A FastAPI app whose every `/v2` request first passes the simulated edge."""

    game: Game
    limiter: RateLimiter | None
    faults: FaultInjector
    network: Network
    clock: Clock
    metrics: SimulatorMetrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI event: `/v2` requests pass the edge and are counted on the way out;
        everything else (`/health`, `/docs`) goes straight to the routes. Every answer carries
        the server's `Date` (its own clock, offset included)."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        dated = _dated(send, self.clock)
        if not str(scope.get("path", "")).startswith(API_PREFIX):
            await super().__call__(scope, receive, dated)
            return
        delays = self.network.draw()
        answer = _Answer(dated, delays.outbound)
        # The request reaches the server when its way in ends, exactly: the rate limit counts
        # it then, not when this loop's timer gets round to it.
        arrived = self.clock.monotonic() + delays.inbound + self.faults.latency_seconds
        try:
            if delays.inbound > 0:
                await asyncio.sleep(delays.inbound)
            await self._edge(scope, receive, answer, arrived)
            await answer.flush()
        finally:
            route = _route_template(scope)
            status = "dropped" if answer.status is None else str(answer.status)
            self.metrics.requests.labels(str(scope.get("method", "")), route, status).inc()

    async def _edge(self, scope: Scope, receive: Receive, answer: _Answer, arrived: float) -> None:
        send = answer.send
        if self.faults.latency_seconds > 0:
            await asyncio.sleep(self.faults.latency_seconds)
        fault = self.faults.draw()
        if fault in (Fault.DROP, Fault.ERROR_502, Fault.HTML_429):
            self.metrics.faults.labels(fault.value).inc()
        if fault is Fault.DROP:
            await _drop_connection(receive, send)
            return
        if fault is Fault.ERROR_502:
            await _send(send, 502, HTML_502_BODY, "text/html")
            return
        if fault is Fault.HTML_429:
            await _send(send, 429, HTML_429_BODY, "text/html")
            return
        headers: dict[str, str] = {}
        if self.limiter is not None:
            client = scope.get("client") or ("unknown", 0)
            decision = self.limiter.check(str(client[0]), _bearer_token(scope), arrived)
            headers = decision.headers()
            if not decision.allowed:
                self.metrics.rate_limited.labels(decision.limit_type).inc()
                error = ApiError(429, "You have reached your API limit.", decision.error_data())
                await _send_json(send, 429, error.body(str(uuid.uuid4())), headers)
                return
        if fault is Fault.ERROR_500:  # only once the rate limit let the request through
            self.metrics.faults.labels(fault.value).inc()
            error = ApiError(INTERNAL_ERROR, "Something unexpected went wrong on the server.")
            await _send_json(send, 500, error.body(str(uuid.uuid4())), headers)
            return
        if fault.after_action:
            await self._lose_answer(fault, scope, receive, answer, headers)
            return
        await super().__call__(scope, receive, _with_headers(send, headers))

    async def _lose_answer(
        self, fault: Fault, scope: Scope, receive: Receive, answer: _Answer, headers: dict[str, str]
    ) -> None:
        """Run the action, throw its answer away and send `fault` in its place."""
        await super().__call__(scope, receive, _discard)
        self.metrics.faults.labels(fault.value).inc()
        if fault is Fault.AFTER_DROP:
            await answer.wait_outbound()  # the answer is lost on its way back
            await _drop_connection(receive, answer.send)
        elif fault is Fault.AFTER_ERROR_500:
            error = ApiError(INTERNAL_ERROR, "Something unexpected went wrong on the server.")
            await _send_json(answer.send, 500, error.body(str(uuid.uuid4())), headers)
        elif fault is Fault.AFTER_ERROR_502:
            await _send(answer.send, 502, HTML_502_BODY, "text/html")
        else:
            await _send(answer.send, 504, HTML_504_BODY, "text/html")


class _Answer:
    """Passes a response through, remembering its status (None while nothing was sent).

    With an outbound delay, the response is held until it is complete (or `flush`), then sent
    after the delay: the answer is computed at once and arrives later.
    """

    def __init__(self, send: Send, outbound_delay: float = 0.0) -> None:
        self._send = send
        self._delay = outbound_delay
        self._held: list[Message] = []
        self.status: int | None = None

    @property
    def transport(self) -> Any:
        """The server's transport behind the wrapped `send` (None in process), so that a
        dropped connection can still be dropped for real."""
        return _transport_of(self._send)

    async def wait_outbound(self) -> None:
        """Spend the way out once (later messages go straight through)."""
        delay, self._delay = self._delay, 0.0
        if delay > 0:
            await asyncio.sleep(delay)

    async def send(self, message: Message) -> None:
        """Send `message` on (or hold it for the way out), noting the status of the response."""
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
        if self._delay <= 0 and not self._held:
            await self._send(message)
            return
        self._held.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            await self.flush()

    async def flush(self) -> None:
        """Send what is held, after the way out."""
        if not self._held:
            return
        await self.wait_outbound()
        held, self._held = self._held, []
        for message in held:
            await self._send(message)


def _dated(send: Send, clock: Clock) -> Send:
    """`send` with a `Date` header on the response, read from `clock` as the answer starts."""

    async def send_dated(message: Message) -> None:
        if message["type"] == "http.response.start":
            date = format_datetime(clock.now(), usegmt=True).encode()
            message["headers"] = [*message.get("headers", []), (b"date", date)]
        await send(message)

    send_dated.transport = _transport_of(send)  # type: ignore[attr-defined]
    return send_dated


async def _discard(message: Message) -> None:
    """A `send` that throws the answer away."""


def _transport_of(send: Send) -> Any:
    """The transport behind a `send` chain: under uvicorn, `send` is a bound method of the
    request cycle, which holds it; each wrapper here passes it through."""
    holder = getattr(send, "__self__", None)
    transport = getattr(holder, "transport", None)
    if transport is None:
        transport = getattr(send, "transport", None)
    return transport


def _route_template(scope: Scope) -> str:
    """The template of the route that answered (`/v2/my/ships/{ship_symbol}`), or `NO_ROUTE`.
    Every API router is included under `API_PREFIX`, which the route's own path leaves out."""
    path = getattr(scope.get("route"), "path", None)
    return API_PREFIX + path if isinstance(path, str) else NO_ROUTE


def _bearer_token(scope: Scope) -> str | None:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


async def _send(
    send: Send, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
) -> None:
    raw = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _send_json(send: Send, status: int, body: Any, headers: dict[str, str]) -> None:
    content = JSONResponse(body).body
    await _send(send, status, bytes(content), "application/json; charset=utf-8", headers)


def _with_headers(send: Send, headers: dict[str, str]) -> Send:
    if not headers:
        return send
    extra = [(k.encode(), v.encode()) for k, v in headers.items()]

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), *extra]
        await send(message)

    send_with_headers.transport = _transport_of(send)  # type: ignore[attr-defined]
    return send_with_headers


async def _drop_connection(receive: Receive, send: Send) -> None:
    transport = _transport_of(send)
    if transport is None or not hasattr(transport, "abort"):
        raise ConnectionDropped("fault injection dropped the connection")
    transport.abort()
    # Let the server notice the disconnect, so it neither answers nor logs an error.
    while (await receive())["type"] != "http.disconnect":
        pass


def _error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(str(uuid.uuid4())), status_code=error.status)


def create_app(
    config: SimulatorConfig,
    clock: Clock | None = None,
    metrics: SimulatorMetrics | None = None,
) -> SimulatorApp:
    """The simulator's ASGI app for `config`, with time from `clock` (the system clock by
    default) and its counts on `metrics` (a registry of its own by default)."""
    from simulator.routes import admin, agents, contracts, mining, ships, systems, trade

    clock = clock or SystemClock()
    if config.network.clock_offset_seconds:
        clock = ShiftedClock(clock, config.network.clock_offset_seconds)
    app = SimulatorApp(
        title="Flotilla SpaceTraders simulator",
        description="A local universe that follows the SpaceTraders v2 API.",
        version="2.3.0",
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.game = Game(config, clock)
    app.limiter = RateLimiter(config, clock) if config.rate_limit.enabled else None
    app.faults = FaultInjector(config)
    app.network = Network(config.network)
    app.clock = clock
    app.metrics = metrics or SimulatorMetrics(MetricsRegistry())
    app.metrics.observe(app.game)
    app.state.game = app.game

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def on_invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        issues = [
            {"path": [str(p) for p in e.get("loc", ())[1:]], "message": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        return _error_response(
            ApiError(
                ErrorCode.UNPROCESSABLE_INPUT,
                "The request is invalid; see data.issues.",
                {"issues": issues},
            )
        )

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            message = f"Route {request.method}:{request.url.path} not found."
        else:
            message = str(exc.detail)
        return _error_response(ApiError(exc.status_code, message))

    @app.get("/health", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    for module in (agents, systems, trade, ships, mining, contracts):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(admin.router)  # outside /v2: no edge, refused unless enabled
    return app
