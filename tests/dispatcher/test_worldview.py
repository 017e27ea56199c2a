"""The shared world view on a real NATS server: what one node observes, another node sees;
surveys expire with their TTL; survey slots are exclusive across nodes and expire too; and each
observation is also an event in the events stream, stored once per event id."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import nats
import pytest
from nats.aio.client import Client as NatsClient

from dispatcher.events import EventPublisher
from dispatcher.pipeline import Pipeline
from dispatcher.worldview import WorldView
from flotilla import names
from flotilla.client import models
from flotilla.clock import SystemClock
from flotilla.topology import ensure_topology
from flotilla.v1 import events_pb2

WAIT = 10.0


async def eventually(condition: Callable[[], bool], within: float = WAIT, what: str = "") -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within}s: {what}")
        await asyncio.sleep(0.02)


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NatsClient]:
    client = await nats.connect(nats_url)
    await ensure_topology(client.jetstream())
    try:
        yield client
    finally:
        await client.close()


async def _view(
    nc: NatsClient, node: str, stack: list[asyncio.Task[None]], stop: asyncio.Event
) -> tuple[WorldView, EventPublisher]:
    pipeline = Pipeline(nc)
    publisher = EventPublisher(pipeline)
    view = WorldView(nc.jetstream(), publisher, SystemClock(), node=node, reservation_ttl_seconds=1)
    stack.append(asyncio.create_task(publisher.run(stop)))
    stack.append(asyncio.create_task(view.run(stop)))
    await asyncio.wait_for(view.synced.wait(), WAIT)
    return view, publisher


async def test_what_one_node_observes_another_sees(nc: NatsClient) -> None:
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    a, publisher = await _view(nc, "A", tasks, stop)
    b, _ = await _view(nc, "B", tasks, stop)
    market = models.Market.model_validate(
        {
            "symbol": "X1-T1-MKT",
            "imports": [{"symbol": "IRON_ORE"}],
            "tradeGoods": [
                {
                    "symbol": "IRON_ORE",
                    "type": "IMPORT",
                    "tradeVolume": 10,
                    "supply": "LOW",
                    "purchasePrice": 60,
                    "sellPrice": 50,
                }
            ],
        }
    )
    a.record_market(market, "X1-T1")
    waypoint = models.Waypoint.model_validate(
        {"symbol": "X1-T1-AST", "type": "ASTEROID", "systemSymbol": "X1-T1", "x": 3, "y": 4}
    )
    a.record_waypoints([waypoint], "S-1")
    await eventually(
        lambda: "X1-T1-MKT" in b.markets and "X1-T1-AST" in b.waypoints,
        what="B sees A's observations",
    )
    assert [q.sell_price for q in b.quotes("IRON_ORE", "X1-T1")] == [50]
    assert b.position("X1-T1-AST") == (3, 4)
    # A later look from afar (no prices) keeps the last prices seen.
    a.record_market(
        models.Market.model_validate({"symbol": "X1-T1-MKT", "imports": [{"symbol": "IRON_ORE"}]}),
        "X1-T1",
    )
    await publisher.flushed(WAIT)
    assert [q.sell_price for q in a.quotes("IRON_ORE")] == [50]

    # Surveys are shared until they expire: the key goes with the survey's own TTL.
    expiring = models.Survey.model_validate(
        {
            "signature": "X1-T1-AST-S1",
            "symbol": "X1-T1-AST",
            "deposits": [{"symbol": "IRON_ORE"}],
            "expiration": (SystemClock().now() + timedelta(seconds=2)).isoformat(),
            "size": "SMALL",
        }
    )
    assert a.record_surveys([expiring], "S-1") == 1
    await eventually(lambda: "X1-T1-AST-S1" in b.surveys, what="B sees the survey")
    await eventually(
        lambda: "X1-T1-AST-S1" not in b.surveys,
        within=5,
        what="the survey expires from the bucket",
    )

    # Every observation is an event too, with its id as Nats-Msg-Id (a repeat is stored once).
    await publisher.flushed(WAIT)
    js = nc.jetstream()
    info = await js.stream_info(names.EVENTS_STREAM)
    kinds = set()
    sub = await js.subscribe(
        f"{names.EVENTS_SUBJECT_PREFIX}.>",
        stream=names.EVENTS_STREAM,
        deliver_policy=nats.js.api.DeliverPolicy.ALL,
    )
    for _ in range(info.state.messages):
        msg = await sub.next_msg(timeout=WAIT)
        kinds.add(msg.subject)
        assert msg.headers and msg.headers.get("Nats-Msg-Id")
    assert {names.MARKET_SUBJECT, names.WAYPOINT_SUBJECT, names.SURVEY_SUBJECT} <= kinds
    observation = events_pb2.SurveyObservation(event_id="e-1", signature="SIG")
    publisher.event(names.SURVEY_SUBJECT, observation, "e-1")
    publisher.event(names.SURVEY_SUBJECT, observation, "e-1")
    await publisher.flushed(WAIT)
    assert (await js.stream_info(names.EVENTS_STREAM)).state.messages == info.state.messages + 1
    stop.set()
    await asyncio.gather(*tasks)


async def test_survey_slots_are_exclusive_across_nodes_and_expire(nc: NatsClient) -> None:
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    a, _ = await _view(nc, "A", tasks, stop)
    b, _ = await _view(nc, "B", tasks, stop)
    small = events_pb2.SurveyObservation(
        signature="SIG-1", waypoint_symbol="X1-T1-AST", size="SMALL"
    )
    hold = await a.reserve(small, "M-1")
    assert hold is not None
    assert await b.reserve(small, "M-2") is None  # the one slot is A's miner's
    await a.release(hold)
    again = await b.reserve(small, "M-2")  # released: B's miner takes it (over the tombstone)
    assert again is not None
    # A slot never given back (its node died) expires with the reservation TTL (1 s here).
    deadline = time.monotonic() + 5
    taken = None
    while taken is None and time.monotonic() < deadline:
        taken = await a.reserve(small, "M-1")
        if taken is None:
            await asyncio.sleep(0.1)
    assert taken is not None
    moderate = events_pb2.SurveyObservation(
        signature="SIG-2", waypoint_symbol="X1-T1-AST", size="MODERATE"
    )
    holds = [await view.reserve(moderate, f"M-{i}") for i, view in enumerate((a, b, a))]
    assert [h is not None for h in holds] == [True, True, False]
    stop.set()
    await asyncio.gather(*tasks)


async def test_events_carry_the_trace_of_the_step_that_made_them(nc: NatsClient) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    stop = asyncio.Event()
    publisher = EventPublisher(Pipeline(nc))
    task = asyncio.create_task(publisher.run(stop))
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("dispatcher.step") as span:
        trace_id = format(span.get_span_context().trace_id, "032x")
        event = events_pb2.Extraction(event_id="x-1", ship_symbol="M-1", units=3)
        publisher.event(names.EXTRACTION_SUBJECT, event, event.event_id)
    assert await publisher.flushed(WAIT)
    js = nc.jetstream()
    sub = await js.subscribe(names.EXTRACTION_SUBJECT, stream=names.EVENTS_STREAM)
    msg = await sub.next_msg(timeout=WAIT)
    assert msg.headers is not None
    assert msg.headers["Nats-Msg-Id"] == "x-1"
    assert trace_id in msg.headers["traceparent"]
    stop.set()
    await task
