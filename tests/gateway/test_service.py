"""The gateway as a NATS service, started by the kit as in production: request/reply, the
request log on JetStream, trace context from the message headers, draining, and the service
registering its own agent at the simulator and reporting ready on its probes.

The fake API (httpx.MockTransport) stands in where a test needs answers a real server cannot
be made to give on cue; it reaches the gateway through the transport seam."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from nats.aio.client import Client as NatsClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from flotilla import names
from flotilla.client import CallExpired, GatewayTransport, GatewayUnavailable, SpaceTradersClient
from flotilla.clock import ManualClock
from flotilla.v1.api_pb2 import ApiResult, CallOutcome, PriorityClass
from flotilla.v1.events_pb2 import RequestLog
from gateway.service import SEAM_TRACER

from .conftest import (
    FakeApi,
    call,
    gateway_on_fake_api,
    gateway_service,
    gateway_settings,
    json_response,
    simulator,
    wait_until,
)

SLOW = {"static": 1, "static_period_seconds": 30.0, "burst": 0}


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
    async with gateway_on_fake_api(nats_url, fake_api) as running:
        api = SpaceTradersClient(GatewayTransport(running.nc, agent="AGENT-1"))
        agent = await api.get_agent()
        await running.request_log.wait_idle()
        events = await request_log_events(running.nc, 1)
    assert agent.symbol == "AGENT-1" and agent.credits == 175000
    assert api.last_result is not None
    event, msg_id = events[0]
    assert msg_id == event.event_id
    uuid.UUID(event.event_id)
    assert event.call_id == api.last_result.call_id
    assert (event.agent, event.endpoint, event.method) == ("AGENT-1", "/my/agent", "GET")
    assert event.priority == PriorityClass.PRIORITY_CLASS_BACKGROUND
    assert event.status == 200 and event.attempts == 1
    assert event.outcome == CallOutcome.CALL_OUTCOME_COMPLETED
    assert event.wire_ms > 0 and event.timestamp.seconds > 0


async def test_a_callers_call_id_is_its_own_field_and_every_event_id_a_fresh_uuid(
    nats_url: str, fake_api: FakeApi
) -> None:
    """A caller may name its calls as it likes; the persister needs a UUID per event."""
    call_ids = ["not-a-uuid", "not-a-uuid", "", str(uuid.uuid4())]
    async with gateway_on_fake_api(nats_url, fake_api) as running:
        for call_id in call_ids:
            reply = await running.nc.request(
                names.GATEWAY_CALL_SUBJECT,
                call("GET", "/my/agent", call_id=call_id).SerializeToString(),
                timeout=5,
            )
            assert ApiResult.FromString(reply.data).outcome == CallOutcome.CALL_OUTCOME_COMPLETED
        await running.request_log.wait_idle()
        events = await request_log_events(running.nc, len(call_ids))
    event_ids = [event.event_id for event, _ in events]
    assert [msg_id for _, msg_id in events] == event_ids
    assert len({uuid.UUID(e) for e in event_ids}) == len(call_ids)  # all UUIDs, all distinct
    assert [event.call_id for event, _ in events[:2]] == ["not-a-uuid", "not-a-uuid"]
    uuid.UUID(events[2][0].call_id)  # the gateway named the call that came without an id
    assert events[3][0].call_id == call_ids[3] != events[3][0].event_id


async def test_an_expired_call_is_logged_and_raises_call_expired(
    nats_url: str, fake_api: FakeApi
) -> None:
    async with gateway_on_fake_api(nats_url, fake_api, rate_limit=SLOW) as running:
        api = SpaceTradersClient(GatewayTransport(running.nc))
        await api.get_agent()
        with pytest.raises(CallExpired):
            await api.get_ship("AGENT-1-1", deadline=0.2)
        await running.request_log.wait_idle()
        events = await request_log_events(running.nc, 2)
    expired = events[1][0]
    assert expired.outcome == CallOutcome.CALL_OUTCOME_EXPIRED
    assert expired.ship_symbol == "AGENT-1-1" and expired.endpoint == "/my/ships/{shipSymbol}"
    assert expired.attempts == 0 and expired.queued_ms >= 150
    assert len(fake_api.requests) == 1


async def test_the_service_reads_every_time_from_the_injected_clock(
    nats_url: str, fake_api: FakeApi
) -> None:
    """On a clock stopped in 2020, a deadline ten seconds after its start is still ahead (by
    the machine's clock it passed long ago), no time passes queued or on the wire, and the
    request-log event is stamped at the clock's instant."""
    start = datetime(2020, 1, 1, tzinfo=UTC)
    deadline = Timestamp()
    deadline.FromDatetime(start + timedelta(seconds=10))
    async with gateway_on_fake_api(nats_url, fake_api, clock=ManualClock(start)) as running:
        reply = await running.nc.request(
            names.GATEWAY_CALL_SUBJECT,
            call("GET", "/my/agent", deadline=deadline).SerializeToString(),
            timeout=5,
        )
        await running.request_log.wait_idle()
        events = await request_log_events(running.nc, 1)
    result = ApiResult.FromString(reply.data)
    assert result.outcome == CallOutcome.CALL_OUTCOME_COMPLETED, result.error_message
    assert (result.queued_ms, result.wire_ms) == (0.0, 0.0)
    assert events[0][0].timestamp.ToDatetime(tzinfo=UTC) == start


async def test_the_callers_trace_context_in_the_nats_headers_is_continued(
    nats_url: str, fake_api: FakeApi
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    seams = {SEAM_TRACER: provider.get_tracer("test")}
    async with gateway_on_fake_api(nats_url, fake_api, seams=seams) as running:
        reply = await running.nc.request(
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
    async with gateway_on_fake_api(nats_url, fake_api) as running:
        reply = await running.nc.request(
            names.GATEWAY_CALL_SUBJECT, b"\xff\xff not protobuf", timeout=5
        )
    result = ApiResult.FromString(reply.data)
    assert result.outcome == CallOutcome.CALL_OUTCOME_REJECTED
    assert fake_api.requests == []


async def test_draining_answers_queued_calls_and_takes_no_new_ones(
    nats_url: str, fake_api: FakeApi
) -> None:
    async with gateway_on_fake_api(nats_url, fake_api, rate_limit=SLOW) as running:
        api = SpaceTradersClient(GatewayTransport(running.nc))
        await api.get_agent()
        queued = [asyncio.create_task(api.get_agent()) for _ in range(3)]
        await wait_until(lambda: len(running.gateway.groups[0].scheduler) == 3)
        await running.running.stop()  # as on SIGTERM
        outcomes = await asyncio.gather(*queued, return_exceptions=True)
        with pytest.raises(GatewayUnavailable):
            await api.get_agent()
    assert all(type(o).__name__ == "GatewayOverloaded" for o in outcomes)
    assert len(fake_api.requests) == 1


async def test_the_service_registers_an_agent_serves_calls_and_reports_ready(
    nats_url: str,
) -> None:
    """`flotilla gateway` with no token: it registers an agent at the simulator, answers calls
    for the default agent, serves readiness and metrics, and stops cleanly."""
    with simulator() as base_url:
        settings = gateway_settings(nats_url, base_url, registration={"symbol": "SERVICE-1"})
        async with gateway_service(settings) as running:
            api = SpaceTradersClient(GatewayTransport(running.nc), default_deadline_seconds=30)
            agent = await api.get_agent()
            assert agent.symbol == "SERVICE-1"
            assert running.running.probe_url is not None
            async with httpx.AsyncClient(base_url=running.running.probe_url) as http:
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
        assert running.running.task.done() and running.running.task.exception() is None
