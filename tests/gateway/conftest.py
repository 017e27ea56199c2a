"""Helpers for the gateway's tests: a fake API (httpx.MockTransport, for what a real server
cannot be made to do on cue), a `Gateway` core in front of it, the real simulator on a free
port, and the gateway service started through the kit's `open_service` on real NATS."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import nats
import pytest
from nats.aio.client import Client as NatsClient

from flotilla.client import GatewayTransport, SpaceTradersClient
from flotilla.clock import Clock
from flotilla.kit import RunningService, open_service
from flotilla.metrics import MetricsRegistry
from flotilla.settings import load_settings
from flotilla.v1.api_pb2 import ApiCall
from gateway.core import Gateway
from gateway.declaration import SERVICE
from gateway.metrics import GatewayMetrics
from gateway.ratelimit import RateLimitConfig
from gateway.request_log import RequestLogPublisher
from gateway.retry import RetryPolicy
from gateway.scheduler import QueueConfig
from gateway.service import SEAM_TRANSPORT_FACTORY, GatewayService
from gateway.settings import GatewaySettings
from gateway.upstream import HttpConfig
from simulator.config import SimulatorConfig
from simulator.server import running_simulator

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]
Running = RunningService[GatewaySettings, GatewayMetrics]

FAKE_API = "https://api.test/v2"
# Effectively no rate limit, for tests that are not about it.
UNLIMITED = RateLimitConfig(static=10_000, static_period_seconds=1.0, burst=0)
FAST_RETRIES = RetryPolicy(max_attempts=4, base_delay_seconds=0.01, max_delay_seconds=0.05)


def json_response(
    status: int, payload: Any, headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.Response(status, json=payload, headers=headers)


@dataclass
class FakeApi:
    """An API double: records every request it gets and answers with `handler`."""

    handler: Handler | None = None
    requests: list[httpx.Request] = field(default_factory=list)
    on_the_wire: int = 0
    most_on_the_wire: int = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.on_the_wire += 1
        self.most_on_the_wire = max(self.most_on_the_wire, self.on_the_wire)
        try:
            if self.handler is None:
                return json_response(200, {"data": {"symbol": "AGENT-1", "path": request.url.path}})
            return await self.handler(request)
        finally:
            self.on_the_wire -= 1

    def paths(self) -> list[str]:
        return [r.url.path.removeprefix("/v2") for r in self.requests]

    def transport_factory(
        self, limits: httpx.Limits, local_address: str | None
    ) -> httpx.AsyncBaseTransport:
        return httpx.MockTransport(self)


def call(method: str, path: str, **fields: Any) -> ApiCall:
    body = fields.pop("body", None)
    if body is not None:
        fields["json_body"] = json.dumps(body).encode()
    return ApiCall(method=method, path=path, **fields)


def queue_limits(limit: int, aging_after: int = 8) -> QueueConfig:
    """The same queue limit for every class."""
    return QueueConfig(
        limit_cooldown_start=limit,
        limit_ship_unblock=limit,
        limit_fleet=limit,
        limit_background=limit,
        aging_after_grants=aging_after,
    )


@contextlib.asynccontextmanager
async def fake_gateway(
    api: FakeApi,
    *,
    rate_limit: RateLimitConfig = UNLIMITED,
    queue_limit: int = 1000,
    aging_after: int = 8,
    retry: RetryPolicy = FAST_RETRIES,
    max_in_flight: int = 8,
    **options: Any,
) -> AsyncIterator[Gateway]:
    """The gateway core (no NATS) with one agent, AGENT-1 (token `secret-token`), in front
    of `api`."""
    gateway = Gateway(
        FAKE_API,
        http=HttpConfig(max_in_flight=max_in_flight),
        rate_limit=rate_limit,
        queue=queue_limits(queue_limit, aging_after),
        retry=retry,
        transport_factory=api.transport_factory,
        metrics=GatewayMetrics(MetricsRegistry()),
        **options,
    )
    gateway.add_agent("AGENT-1", "secret-token")
    try:
        yield gateway
    finally:
        await gateway.close()


async def wait_until(predicate: Callable[[], bool], within: float = 10.0) -> None:
    """Wait (without a fixed sleep) until `predicate()` holds, or fail after `within` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


@contextlib.contextmanager
def simulator(**config: Any) -> Iterator[str]:
    """The real simulator on a free port (rate limit off unless asked for); its …/v2 URL.
    `config` holds `SimulatorConfig` fields, its sections as mappings (`faults={...}`)."""
    config.setdefault("rate_limit", {})
    config["rate_limit"] = {"enabled": False, **config["rate_limit"]}
    with running_simulator(SimulatorConfig(**config)) as url:
        yield url


def gateway_settings(nats_url: str, base_url: str, **sections: Any) -> GatewaySettings:
    """Settings as `flotilla gateway` reads them (the environment included), with its probes
    on a free local port, NATS at `nats_url`, the API at `base_url`, and `sections` (e.g.
    `rate_limit={"burst": 0}`) over them."""
    overrides: dict[str, Any] = {
        "nats_url": nats_url,
        "probes": {"host": "127.0.0.1", "port": 0},
        **sections,
    }
    overrides["spacetraders"] = {"base_url": base_url, **sections.get("spacetraders", {})}
    return load_settings(GatewaySettings, **overrides)


@dataclass
class RunningGateway:
    """The gateway service started by the kit, serving calls, and a NATS client to call it."""

    running: Running
    nc: NatsClient
    gateway: Gateway
    service: GatewayService
    request_log: RequestLogPublisher
    agent: str

    @property
    def metrics(self) -> GatewayMetrics:
        return self.running.ctx.metrics

    def client(self, **options: Any) -> SpaceTradersClient:
        return SpaceTradersClient(GatewayTransport(self.nc, agent=self.agent), **options)


async def serving(running: Running, within: float = 30.0) -> GatewayService:
    """The service once it serves calls (it subscribes after its agents are ready)."""
    await wait_until(lambda: "service" in running.exposed or running.task.done(), within)
    if running.task.done():
        running.task.result()  # the start-up failure
        raise AssertionError("the gateway stopped before it served calls")
    service: GatewayService = running.exposed["service"]
    return service


@contextlib.asynccontextmanager
async def gateway_service(
    settings: GatewaySettings, *, seams: dict[str, Any] | None = None, clock: Clock | None = None
) -> AsyncIterator[RunningGateway]:
    """`SERVICE` opened by the kit with `settings` (and test `seams`, a `clock`), once it
    serves calls."""
    async with open_service(SERVICE, settings, seams=seams, clock=clock) as running:
        service = await serving(running)
        gateway: Gateway = running.exposed["gateway"]
        agent = gateway.default_agent
        assert agent is not None
        nc = await nats.connect(settings.nats_url)
        try:
            yield RunningGateway(
                running, nc, gateway, service, running.exposed["request_log"], agent
            )
        finally:
            await nc.drain()


@contextlib.asynccontextmanager
async def gateway_on_fake_api(
    nats_url: str,
    api: FakeApi,
    *,
    seams: dict[str, Any] | None = None,
    clock: Clock | None = None,
    **sections: Any,
) -> AsyncIterator[RunningGateway]:
    """The gateway service on real NATS in front of `api` (reached through the transport
    seam), with one agent, AGENT-1 (token `secret-token`), and no rate limit unless asked."""
    sections.setdefault("rate_limit", UNLIMITED.model_dump())
    sections.setdefault("retry", FAST_RETRIES.model_dump())
    sections["spacetraders"] = {"agent_tokens": {"AGENT-1": "secret-token"}}
    settings = gateway_settings(nats_url, FAKE_API, **sections)
    all_seams = {SEAM_TRANSPORT_FACTORY: api.transport_factory, **(seams or {})}
    async with gateway_service(settings, seams=all_seams, clock=clock) as running:
        yield running


@pytest.fixture
def fake_api() -> FakeApi:
    return FakeApi()
