"""The gateway as a NATS service: request/reply, the request log on JetStream, trace context
from the message headers, draining, and the service body under the runner with its probes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator

import httpx
import nats
import pytest
from nats.aio.client import Client as NatsClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from flotilla import names
from flotilla.client import CallExpired, GatewayTransport, GatewayUnavailable, SpaceTradersClient
from flotilla.local_servers import free_port
from flotilla.runner import serve
from flotilla.topology import ensure_topology
from flotilla.v1.api_pb2 import ApiResult, CallOutcome, PriorityClass
from flotilla.v1.events_pb2 import RequestLog
from gateway.core import Gateway
from gateway.ratelimit import RateLimitConfig
from gateway.request_log import RequestLogPublisher
from gateway.service import GatewayService, run
from gateway.settings import GatewaySettings

from .conftest import FakeApi, call, fake_gateway, json_response, simulator, wait_until


@contextlib.asynccontextmanager
async def served(
    nats_url: str, gateway: Gateway
) -> AsyncIterator[tuple[NatsClient, GatewayService, RequestLogPublisher]]:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await ensure_topology(js)
    request_log = RequestLogPublisher(js, gateway.metrics)
    request_log.start()
    gateway.observers.append(request_log.record)
    service = GatewayService(nc, gateway)
    await service.start()
    try:
        yield nc, service, request_log
    finally:
        await service.drain(grace_seconds=5)
        await request_log.close()
        await nc.drain()


async def request_log_events(nc: NatsClient, expected: int) -> list[tuple[RequestLog, str]]:
    """The request-log events on the stream, with their Nats-Msg-Id headers."""
    js = nc.jetstream()
    sub = await js.subscribe(names.REQUEST_LOG_SUBJECT, ordered_consumer=True)
    events = []
    try:
        for _ in range(expected):
            msg = await sub.next_msg(timeout=5)
            events.append((RequestLog.FromString(msg.data), (msg.headers or {})["Nats-Msg-Id"]))
    finally:
        await sub.unsubscribe()
    return events


async def test_a_call_over_nats_is_answered_and_logged_once_to_jetstream(
    nats_url: str, fake_api: FakeApi
) -> None:
    async def answer(request: httpx.Request) -> httpx.Response:
        return json_response(
            200,
            {
                "data": {
                    "symbol": "AGENT-1",
                    "headquarters": "X1-A-1",
                    "credits": 175000,
                    "startingFaction": "COSMIC",
                    "shipCount": 2,
                }
            },
        )

    fake_api.handler = answer
    async with fake_gateway(fake_api) as gateway, served(nats_url, gateway) as (nc, _, log):
        api = SpaceTradersClient(GatewayTransport(nc, agent="AGENT-1"))
        agent = await api.get_agent()
        await log.wait_idle()
        events = await request_log_events(nc, 1)
    assert agent.symbol == "AGENT-1" and agent.credits == 175000
    assert api.last_result is not None
    event, msg_id = events[0]
    assert msg_id == event.event_id == api.last_result.call_id
    uuid.UUID(event.event_id)
    assert (event.agent, event.endpoint, event.method) == ("AGENT-1", "/my/agent", "GET")
    assert event.priority == PriorityClass.PRIORITY_CLASS_BACKGROUND
    assert event.status == 200 and event.attempts == 1
    assert event.outcome == CallOutcome.CALL_OUTCOME_COMPLETED
    assert event.wire_ms > 0 and event.timestamp.seconds > 0


async def test_an_expired_call_is_logged_and_raises_call_expired(
    nats_url: str, fake_api: FakeApi
) -> None:
    slow = RateLimitConfig(static_limit=1, static_period_seconds=30.0, burst_limit=0)
    async with (
        fake_gateway(fake_api, rate_limit=slow) as gateway,
        served(nats_url, gateway) as (nc, _, log),
    ):
        api = SpaceTradersClient(GatewayTransport(nc))
        await api.get_agent()
        with pytest.raises(CallExpired):
            await api.get_ship("AGENT-1-1", deadline=0.2)
        await log.wait_idle()
        events = await request_log_events(nc, 2)
    expired = events[1][0]
    assert expired.outcome == CallOutcome.CALL_OUTCOME_EXPIRED
    assert expired.ship_symbol == "AGENT-1-1" and expired.endpoint == "/my/ships/{shipSymbol}"
    assert expired.attempts == 0 and expired.queued_ms >= 150
    assert len(fake_api.requests) == 1


async def test_the_callers_trace_context_in_the_nats_headers_is_continued(
    nats_url: str, fake_api: FakeApi
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    async with (
        fake_gateway(fake_api, tracer=provider.get_tracer("test")) as gateway,
        served(nats_url, gateway) as (nc, _, _log),
    ):
        reply = await nc.request(
            names.GATEWAY_CALL_SUBJECT,
            call("POST", "/my/ships/S-1/orbit").SerializeToString(),
            timeout=5,
            headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"},
        )
    assert ApiResult.FromString(reply.data).outcome == CallOutcome.CALL_OUTCOME_COMPLETED
    spans = exporter.get_finished_spans()
    assert {format(s.context.trace_id, "032x") for s in spans} == {trace_id}
    root = next(s for s in spans if s.name.startswith("gateway POST"))
    assert root.parent is not None and format(root.parent.span_id, "016x") == "00f067aa0ba902b7"


async def test_a_message_that_is_not_an_api_call_is_rejected(
    nats_url: str, fake_api: FakeApi
) -> None:
    async with fake_gateway(fake_api) as gateway, served(nats_url, gateway) as (nc, _, _log):
        reply = await nc.request(names.GATEWAY_CALL_SUBJECT, b"\xff\xff not protobuf", timeout=5)
    result = ApiResult.FromString(reply.data)
    assert result.outcome == CallOutcome.CALL_OUTCOME_REJECTED
    assert fake_api.requests == []


async def test_draining_answers_queued_calls_and_takes_no_new_ones(
    nats_url: str, fake_api: FakeApi
) -> None:
    slow = RateLimitConfig(static_limit=1, static_period_seconds=30.0, burst_limit=0)
    async with fake_gateway(fake_api, rate_limit=slow) as gateway:
        nc = await nats.connect(nats_url)
        try:
            service = GatewayService(nc, gateway)
            await service.start()
            api = SpaceTradersClient(GatewayTransport(nc))
            await api.get_agent()
            queued = [asyncio.create_task(api.get_agent()) for _ in range(3)]
            await wait_until(lambda: len(gateway.groups[0].scheduler) == 3)
            await service.drain(grace_seconds=5)
            outcomes = await asyncio.gather(*queued, return_exceptions=True)
            with pytest.raises(GatewayUnavailable):
                await api.get_agent()
        finally:
            await nc.drain()
    assert all(type(o).__name__ == "GatewayOverloaded" for o in outcomes)
    assert len(fake_api.requests) == 1


async def test_the_service_registers_an_agent_serves_calls_and_reports_ready(
    nats_url: str,
) -> None:
    """`flotilla gateway` with no token: it registers an agent at the simulator, answers calls
    for the default agent, serves readiness and metrics, and stops cleanly."""
    port = free_port()
    with simulator() as base_url:
        settings = GatewaySettings(
            nats_url=nats_url,
            spacetraders_base_url=base_url,
            gateway_metrics_host="127.0.0.1",
            gateway_metrics_port=port,
            gateway_register_symbol="SERVICE-1",
        )
        stopping = asyncio.Event()
        body = asyncio.create_task(serve(settings, run, stopping))
        nc = await nats.connect(nats_url)
        try:
            api = SpaceTradersClient(GatewayTransport(nc), default_deadline_seconds=30)
            agent = None
            async with asyncio.timeout(30):
                while agent is None:  # the service subscribes once its agent is registered
                    try:
                        agent = await api.get_agent()
                    except GatewayUnavailable:
                        assert not body.done()
                        await asyncio.sleep(0.05)
            assert agent.symbol == "SERVICE-1"
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                ready = await http.get("/readyz")
                metrics = await http.get("/metrics")
                alive = await http.get("/healthz")
            assert ready.status_code == 200, ready.text
            assert set(json.loads(ready.text)["checks"]) == {"nats", "upstream", "agents"}
            assert alive.status_code == 200
            assert "flotilla_gateway_queue_wait_seconds" in metrics.text
            assert 'flotilla_gateway_calls_total{outcome="completed",priority="background"}' in (
                metrics.text
            )
        finally:
            stopping.set()
            await asyncio.wait_for(body, 20)
            await nc.drain()
