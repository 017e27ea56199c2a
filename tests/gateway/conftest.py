"""Helpers for the gateway's tests: a gateway on a fake API (httpx.MockTransport), the real
simulator on a free port, and a gateway service on real NATS."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from nats.aio.client import Client as NatsClient

from flotilla.client import GatewayTransport, SpaceTradersClient
from flotilla.topology import connect, ensure_topology
from flotilla.v1.api_pb2 import ApiCall
from gateway.core import Gateway, SchedulingConfig
from gateway.endpoints import PRIORITY_CLASSES
from gateway.metrics import GatewayMetrics
from gateway.ratelimit import RateLimitConfig
from gateway.request_log import RequestLogPublisher
from gateway.retry import RetryPolicy
from gateway.service import GatewayService, add_configured_agents, build_gateway
from gateway.settings import GatewaySettings
from gateway.upstream import HttpConfig
from simulator.config import SimulatorConfig
from simulator.server import running_simulator

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]

# Effectively no rate limit, for tests that are not about it.
UNLIMITED = RateLimitConfig(static_limit=10_000, static_period_seconds=1.0, burst_limit=0)
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
    """A gateway with one agent, AGENT-1 (token `secret-token`), in front of `api`."""
    gateway = Gateway(
        HttpConfig("https://api.test/v2", max_in_flight=max_in_flight),
        rate_limit=rate_limit,
        scheduling=SchedulingConfig(
            queue_limits=dict.fromkeys(PRIORITY_CLASSES, queue_limit), aging_after=aging_after
        ),
        retry=retry,
        transport_factory=api.transport_factory,
        metrics=GatewayMetrics(),
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
    """The real simulator on a free port (rate limit off unless asked for); its …/v2 URL."""
    config.setdefault("rate_limit_enabled", False)
    with running_simulator(SimulatorConfig(**config)) as url:
        yield url


@dataclass
class RunningGateway:
    """A gateway service on real NATS in front of a real simulator, with a registered agent."""

    nc: NatsClient
    gateway: Gateway
    service: GatewayService
    request_log: RequestLogPublisher
    metrics: GatewayMetrics
    agent: str

    def client(self, **options: Any) -> SpaceTradersClient:
        return SpaceTradersClient(GatewayTransport(self.nc, agent=self.agent), **options)


@contextlib.asynccontextmanager
async def gateway_service(
    nats_url: str, base_url: str, **settings: Any
) -> AsyncIterator[RunningGateway]:
    """Serve a gateway configured like `flotilla gateway` (plus `settings`) on NATS."""
    options = {"spacetraders_base_url": base_url, "gateway_metrics_port": 0, **settings}
    config = GatewaySettings(**options)
    metrics = GatewayMetrics()
    gateway = build_gateway(config, metrics)
    nc = await connect(nats_url, "test-gateway")
    js = nc.jetstream()
    await ensure_topology(js)
    request_log = RequestLogPublisher(js, metrics)
    request_log.start()
    gateway.observers.append(request_log.record)
    service = GatewayService(nc, gateway)
    try:
        assert await add_configured_agents(gateway, config, asyncio.Event())
        await service.start()
        agent = gateway.default_agent
        assert agent is not None
        yield RunningGateway(nc, gateway, service, request_log, metrics, agent)
    finally:
        await service.drain(grace_seconds=10)
        await request_log.close()
        await gateway.close()
        await nc.drain()


@pytest.fixture
def fake_api() -> FakeApi:
    return FakeApi()
