"""The gateway core on a fake API: results, class order on the wire, expiry and overload
without a request, bounded retries, 429 pauses, the in-flight cap and tracing."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from flotilla.semconv import BACKGROUND, COOLDOWN_START, FLEET, SHIP_UNBLOCK
from flotilla.v1.api_pb2 import ApiCall, CallOutcome, PriorityClass
from gateway.ratelimit import RateLimitConfig

from .conftest import FakeApi, call, fake_gateway, json_response, wait_until

COMPLETED = CallOutcome.CALL_OUTCOME_COMPLETED
# One request per 0.1 s: slow enough that calls queue, fast enough for a test.
ONE_PER_TENTH = RateLimitConfig(static=1, static_period_seconds=0.1, burst=0)


def deadline_in(seconds: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromNanoseconds(int((time.time() + seconds) * 1e9))
    return stamp


async def test_a_call_goes_out_with_its_agents_token_and_comes_back_as_a_result(
    fake_api: FakeApi,
) -> None:
    async def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer secret-token"
        assert json.loads(request.content) == {"symbol": "IRON_ORE", "units": 5}
        assert request.url.params["x"] == "1"
        return json_response(201, {"data": {"ok": True}})

    fake_api.handler = answer
    async with fake_gateway(fake_api) as gateway:
        record = await gateway.execute(
            call(
                "POST",
                "/my/ships/AGENT-1-1/sell",
                body={"symbol": "IRON_ORE", "units": 5},
                query={"x": "1"},
                call_id="call-1",
            )
        )
    result = record.result
    assert result.outcome == COMPLETED and result.status == 201
    assert json.loads(result.json_body) == {"data": {"ok": True}}
    assert result.call_id == "call-1" and result.attempts == 1
    assert result.priority == SHIP_UNBLOCK  # derived from the endpoint
    assert result.wire_ms > 0 and result.queued_ms >= 0
    assert record.endpoint == "/my/ships/{shipSymbol}/sell"
    assert record.ship_symbol == "AGENT-1-1" and record.agent == "AGENT-1"
    assert fake_api.paths() == ["/v2/my/ships/AGENT-1-1/sell".removeprefix("/v2")]


async def test_an_api_error_is_a_completed_call_with_its_error_code(fake_api: FakeApi) -> None:
    async def answer(request: httpx.Request) -> httpx.Response:
        body = {"error": {"code": 4000, "message": "cooling down", "data": {"cooldown": {}}}}
        return json_response(409, body)

    fake_api.handler = answer
    async with fake_gateway(fake_api) as gateway:
        result = (await gateway.execute(call("POST", "/my/ships/S-1/extract"))).result
    assert result.outcome == COMPLETED
    assert (result.status, result.error_code, result.error_message) == (409, 4000, "cooling down")
    assert result.attempts == 1


async def test_queued_calls_go_out_highest_class_first(fake_api: FakeApi) -> None:
    async with fake_gateway(fake_api, rate_limit=ONE_PER_TENTH) as gateway:
        first = asyncio.create_task(gateway.execute(call("GET", "/my/agent")))
        await wait_until(lambda: len(fake_api.requests) == 1)
        # Everything below queues behind the first request's window.
        calls = [
            call("GET", "/systems/X1-A/waypoints/X1-A-1/market"),
            call("GET", "/my/ships"),
            call("POST", "/my/ships", body={"shipType": "SHIP_PROBE", "waypointSymbol": "W"}),
            call("POST", "/my/ships/S-1/dock"),
            call("POST", "/my/ships/S-1/extract"),
            call("POST", "/my/ships/S-2/navigate", body={"waypointSymbol": "X1-A-2"}),
        ]
        tasks = [asyncio.create_task(gateway.execute(c)) for c in calls]
        await asyncio.gather(first, *tasks)
    assert fake_api.paths() == [
        "/my/agent",
        "/my/ships/S-1/extract",
        "/my/ships/S-2/navigate",
        "/my/ships/S-1/dock",
        "/my/ships",  # fleet: buying a ship
        "/systems/X1-A/waypoints/X1-A-1/market",
        "/my/ships",  # background: listing ships
    ]
    assert [fake_api.requests[i].method for i in (4, 6)] == ["POST", "GET"]


async def test_the_callers_priority_overrides_the_derived_one(fake_api: FakeApi) -> None:
    async with fake_gateway(fake_api, rate_limit=ONE_PER_TENTH) as gateway:
        first = asyncio.create_task(gateway.execute(call("GET", "/my/agent")))
        await wait_until(lambda: len(fake_api.requests) == 1)
        dock = asyncio.create_task(gateway.execute(call("POST", "/my/ships/S/dock")))
        urgent = asyncio.create_task(
            gateway.execute(call("GET", "/my/ships/S", priority=COOLDOWN_START))
        )
        results = await asyncio.gather(first, dock, urgent)
    assert fake_api.paths() == ["/my/agent", "/my/ships/S", "/my/ships/S/dock"]
    assert results[2].result.priority == PriorityClass.PRIORITY_CLASS_COOLDOWN_START


async def test_a_call_whose_deadline_passes_in_the_queue_is_expired_without_a_request(
    fake_api: FakeApi,
) -> None:
    slow = RateLimitConfig(static=1, static_period_seconds=5.0, burst=0)
    async with fake_gateway(fake_api, rate_limit=slow) as gateway:
        await gateway.execute(call("GET", "/my/agent"))
        started = time.monotonic()
        record = await gateway.execute(call("GET", "/my/ships", deadline=deadline_in(0.2)))
        waited = time.monotonic() - started
    result = record.result
    assert result.outcome == CallOutcome.CALL_OUTCOME_EXPIRED
    assert result.attempts == 0 and result.status == 0
    assert 150 <= result.queued_ms <= 1000
    assert waited < 1.0  # answered at its deadline, not when a request slot came
    assert fake_api.paths() == ["/my/agent"]


async def test_a_deadline_already_past_is_expired_at_once(fake_api: FakeApi) -> None:
    async with fake_gateway(fake_api) as gateway:
        result = (await gateway.execute(call("GET", "/my/ships", deadline=deadline_in(-1)))).result
    assert result.outcome == CallOutcome.CALL_OUTCOME_EXPIRED and fake_api.requests == []


async def test_a_full_class_answers_overloaded_at_once(fake_api: FakeApi) -> None:
    slow = RateLimitConfig(static=1, static_period_seconds=30.0, burst=0)
    async with fake_gateway(fake_api, rate_limit=slow, queue_limit=2) as gateway:
        await gateway.execute(call("GET", "/my/agent"))
        waiting = [asyncio.create_task(gateway.execute(call("GET", "/my/ships"))) for _ in range(2)]
        await wait_until(lambda: gateway.groups[0].scheduler.depth(BACKGROUND) == 2)
        started = time.monotonic()
        refused = (await gateway.execute(call("GET", "/my/ships"))).result
        assert time.monotonic() - started < 0.5
        # Another class still has room.
        other = asyncio.create_task(gateway.execute(call("POST", "/my/ships/S/orbit")))
        await wait_until(lambda: gateway.groups[0].scheduler.depth(SHIP_UNBLOCK) == 1)
        gateway.stop_accepting()
        drained = await asyncio.gather(*waiting, other)
    assert refused.outcome == CallOutcome.CALL_OUTCOME_OVERLOADED
    assert "full" in refused.error_message
    # Stopping answers queued calls as overloaded too, without a request.
    assert {r.result.outcome for r in drained} == {CallOutcome.CALL_OUTCOME_OVERLOADED}
    assert fake_api.paths() == ["/my/agent"]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"method": "GET", "path": "/my/agent", "agent": "NOBODY"}, "unknown agent"),
        ({"method": "TRACE", "path": "/my/agent"}, "unsupported method"),
        ({"method": "GET", "path": "my/agent"}, "must start with"),
        ({"method": "POST", "path": "/my/ships", "json_body": b"{nope"}, "not valid JSON"),
    ],
)
async def test_an_invalid_call_is_rejected_without_a_request(
    fake_api: FakeApi, fields: dict[str, object], reason: str
) -> None:
    async with fake_gateway(fake_api) as gateway:
        result = (await gateway.execute(ApiCall(**fields))).result  # type: ignore[arg-type]
    assert result.outcome == CallOutcome.CALL_OUTCOME_REJECTED
    assert reason in result.error_message
    assert fake_api.requests == []


async def test_a_sell_that_fails_ambiguously_is_not_repeated_and_reported_unknown(
    fake_api: FakeApi,
) -> None:
    async def answer(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")

    fake_api.handler = answer
    async with fake_gateway(fake_api) as gateway:
        result = (await gateway.execute(call("POST", "/my/ships/S/sell", body={}))).result
    assert result.outcome == CallOutcome.CALL_OUTCOME_UNKNOWN
    assert result.attempts == 1 and len(fake_api.requests) == 1
    assert "outcome unknown" in result.error_message


async def test_an_undecodable_answer_to_a_sell_is_unknown_and_frees_its_permit(
    fake_api: FakeApi,
) -> None:
    """Not every httpx failure is a transport error: a body that cannot be decoded must still
    end in a result (not an exception) and settle the permit it was sent with."""

    async def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"not gzip", headers={"content-encoding": "gzip"})

    fake_api.handler = answer
    async with fake_gateway(fake_api) as gateway:
        result = (await gateway.execute(call("POST", "/my/ships/S/sell", body={}))).result
        outstanding = len(gateway.groups[0].limiter._outstanding)
    assert result.outcome == CallOutcome.CALL_OUTCOME_UNKNOWN
    assert result.attempts == 1 and "DecodingError" in result.error_message
    assert outstanding == 0


async def test_a_read_survives_502_500_and_a_dropped_connection(fake_api: FakeApi) -> None:
    script: list[httpx.Response | Exception] = [
        httpx.Response(502, text="<html>Bad Gateway</html>"),
        httpx.RemoteProtocolError("dropped"),
        json_response(500, {"error": {"code": 500, "message": "oops"}}),
        json_response(200, {"data": {"symbol": "AGENT-1"}}),
    ]

    async def answer(request: httpx.Request) -> httpx.Response:
        step = script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    fake_api.handler = answer
    async with fake_gateway(fake_api) as gateway:
        result = (await gateway.execute(call("GET", "/my/agent"))).result
        retries = gateway.metrics.retries.labels(reason="ambiguous")._value.get()
    assert result.outcome == COMPLETED and result.status == 200
    assert result.attempts == 4 and len(fake_api.requests) == 4
    assert retries == 3


async def test_a_read_that_keeps_failing_gives_up_after_the_bound(fake_api: FakeApi) -> None:
    async def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, text="unavailable")

    fake_api.handler = answer
    async with fake_gateway(fake_api) as gateway:
        result = (await gateway.execute(call("GET", "/my/agent"))).result
    assert result.outcome == CallOutcome.CALL_OUTCOME_FAILED
    assert result.status == 503 and result.attempts == 4 == len(fake_api.requests)


async def test_a_429_pauses_all_sending_until_retry_after(fake_api: FakeApi) -> None:
    sent_at: list[float] = []

    async def answer(request: httpx.Request) -> httpx.Response:
        sent_at.append(time.monotonic())
        if len(sent_at) == 1:
            return json_response(
                429,
                {"error": {"code": 429, "message": "slow down"}},
                headers={"retry-after": "1", "x-ratelimit-remaining": "0"},
            )
        return json_response(200, {"data": {}})

    fake_api.handler = answer
    async with fake_gateway(fake_api) as gateway:
        first = asyncio.create_task(gateway.execute(call("GET", "/my/agent")))
        await wait_until(lambda: len(sent_at) == 1)
        other = asyncio.create_task(gateway.execute(call("POST", "/my/ships/S/extract")))
        results = await asyncio.gather(first, other)
        rate_limited = gateway.metrics.rate_limited.labels(kind="headers")._value.get()
    assert [r.result.outcome for r in results] == [COMPLETED, COMPLETED]
    assert results[0].result.attempts == 2
    assert min(sent_at[1:]) - sent_at[0] >= 1.0  # nothing went out during the pause
    assert rate_limited == 1


async def test_a_proxys_answer_to_the_probe_places_nothing_and_the_next_request_probes(
    fake_api: FakeApi,
) -> None:
    """A 502 page without rate-limit headers is the proxy's, not the API's (which may have
    counted the request): taken for the answer of a server that sends no headers, it would
    set the model planning on our clock. The retry goes as a new probe, alone, and the
    answer with headers places the model."""
    release = asyncio.Event()

    async def answer(request: httpx.Request) -> httpx.Response:
        if len(fake_api.requests) == 1:
            return httpx.Response(502, text="<html><body>Bad Gateway</body></html>")
        if len(fake_api.requests) == 2:
            await release.wait()
        reset = datetime.now(UTC) + timedelta(seconds=0.9)
        headers = {"x-ratelimit-remaining": "31", "x-ratelimit-reset": reset.isoformat()}
        return json_response(200, {"data": {}}, headers=headers)

    fake_api.handler = answer
    async with fake_gateway(fake_api, rate_limit=RateLimitConfig()) as gateway:
        limiter = gateway.groups[0].limiter
        first = asyncio.create_task(gateway.execute(call("GET", "/my/agent")))
        await wait_until(lambda: len(fake_api.requests) == 2)  # the retry, on the wire
        assert limiter.probing and not limiter.estimate.known
        others = [asyncio.create_task(gateway.execute(call("GET", "/my/ships"))) for _ in range(3)]
        await wait_until(lambda: gateway.groups[0].scheduler.depth(BACKGROUND) == 3)
        assert limiter.acquire() is None  # nothing goes beside the probe
        release.set()
        results = await asyncio.gather(first, *others)
    assert [r.result.outcome for r in results] == [COMPLETED] * 4
    assert results[0].result.attempts == 2
    assert len(fake_api.requests) == 5


async def test_a_bare_html_429_pauses_for_the_default(fake_api: FakeApi) -> None:
    sent_at: list[float] = []

    async def answer(request: httpx.Request) -> httpx.Response:
        sent_at.append(time.monotonic())
        if len(sent_at) == 1:
            return httpx.Response(429, text="<html><body>Too Many Requests</body></html>")
        return json_response(200, {"data": {}})

    fake_api.handler = answer
    config = RateLimitConfig(static=10_000, burst=0, default_pause_seconds=0.3, margin_seconds=0.0)
    async with fake_gateway(fake_api, rate_limit=config) as gateway:
        result = (await gateway.execute(call("GET", "/my/agent"))).result
        bare = gateway.metrics.rate_limited.labels(kind="bare")._value.get()
    assert result.outcome == COMPLETED and result.attempts == 2
    assert sent_at[1] - sent_at[0] >= 0.3
    assert bare == 1


async def test_requests_in_flight_never_exceed_the_cap(fake_api: FakeApi) -> None:
    release = asyncio.Event()

    async def answer(request: httpx.Request) -> httpx.Response:
        await release.wait()
        return json_response(200, {"data": {}})

    fake_api.handler = answer
    async with fake_gateway(fake_api, max_in_flight=4) as gateway:
        # The first request is the limiter's probe: nothing else goes until it is answered.
        release.set()
        await gateway.execute(call("GET", "/my/agent"))
        release.clear()
        tasks = [asyncio.create_task(gateway.execute(call("GET", "/my/agent"))) for _ in range(50)]
        await wait_until(lambda: fake_api.on_the_wire == 4)
        assert gateway.groups[0].scheduler.depth() == 46
        release.set()
        results = await asyncio.gather(*tasks)
        peak = gateway.groups[0].peak_in_flight
    assert all(r.result.outcome == COMPLETED for r in results)
    assert fake_api.most_on_the_wire == 4 and peak == 4


async def test_the_call_and_its_queue_wait_and_http_spans_continue_the_callers_trace(
    fake_api: FakeApi,
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    caller_trace = "0af7651916cd43dd8448eb211c80319c"
    parent = TraceContextTextMapPropagator().extract(
        {"traceparent": f"00-{caller_trace}-b7ad6b7169203331-01"}
    )
    async with fake_gateway(fake_api, tracer=tracer) as gateway:
        await gateway.execute(call("POST", "/my/ships/S-1/extract"), parent)
    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert set(spans) == {
        "gateway POST /my/ships/{shipSymbol}/extract",
        "gateway.queue",
        "HTTP POST",
    }
    root = spans["gateway POST /my/ships/{shipSymbol}/extract"]
    assert all(format(s.context.trace_id, "032x") == caller_trace for s in spans.values())
    assert root.parent is not None and format(root.parent.span_id, "016x") == "b7ad6b7169203331"
    assert root.kind == trace.SpanKind.SERVER
    for child in ("gateway.queue", "HTTP POST"):
        child_parent = spans[child].parent
        assert child_parent is not None and root.context is not None
        assert child_parent.span_id == root.context.span_id
    assert dict(spans["HTTP POST"].attributes or {})["url.template"] == (
        "/my/ships/{shipSymbol}/extract"
    )
    assert dict(root.attributes or {})["flotilla.priority"] == "cooldown_start"


async def test_calls_without_an_agent_go_to_the_default_agent(fake_api: FakeApi) -> None:
    async with fake_gateway(fake_api) as gateway:
        record = await gateway.execute(call("GET", "/my/agent"))
    assert record.agent == "AGENT-1" and record.result.outcome == COMPLETED


async def test_priority_classes_are_reported_in_the_queue_depth_metric(fake_api: FakeApi) -> None:
    slow = RateLimitConfig(static=1, static_period_seconds=30.0, burst=0)
    async with fake_gateway(fake_api, rate_limit=slow) as gateway:
        await gateway.execute(call("GET", "/my/agent"))
        waiting = [
            asyncio.create_task(gateway.execute(call("POST", "/my/ships/S/extract"))),
            asyncio.create_task(gateway.execute(call("POST", "/my/ships", body={}))),
        ]
        await wait_until(lambda: len(gateway.groups[0].scheduler) == 2)
        text = gateway.metrics.registry.exposition().decode()
        gateway.stop_accepting()
        await asyncio.gather(*waiting)
    assert 'flotilla_gateway_queue_depth{group="default",priority="cooldown_start"} 1.0' in text
    assert 'flotilla_gateway_queue_depth{group="default",priority="fleet"} 1.0' in text
    assert 'flotilla_gateway_requests_sent_total{priority="background",status="200"} 1.0' in text
    assert "flotilla_gateway_limit_utilisation" in text
    assert FLEET != COOLDOWN_START
