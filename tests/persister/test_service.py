"""The persister end to end over real NATS (JetStream) and real PostgreSQL, started through the
service kit as in production: coalescing, any delivery order, dead letters that never block,
crashes between commit and ack, traces, readiness, and time from the injected clock."""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

import httpx
import nats
import psycopg
import pytest
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig
from opentelemetry import trace
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from flotilla import names
from flotilla.clock import ManualClock, SystemClock
from flotilla.db import migrate
from flotilla.metrics import MetricsRegistry
from flotilla.semconv import SpanAttr
from flotilla.telemetry import inject_headers
from flotilla.topology import ensure_topology
from flotilla.v1 import cluster_pb2, events_pb2
from persister.metrics import PersisterMetrics
from persister.service import APPLICATION_NAME, BEFORE_ACK_SEAM, Persister


async def _dead_letters(nats_url: str, expected: int) -> list[cluster_pb2.DeadLetter]:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(
            names.dead_letter_subject(names.PERSISTER_CONSUMER), stream=names.DEAD_LETTER_STREAM
        )
        letters: list[cluster_pb2.DeadLetter] = []
        while len(letters) < expected:
            for msg in await sub.fetch(expected - len(letters), timeout=10):
                letters.append(cluster_pb2.DeadLetter.FromString(msg.data))
                await msg.ack()
        return letters
    finally:
        await nc.close()


async def test_coalescing_writes_only_the_newest_state_of_each_ship(
    nats_url: str,
    migrated_url: str,
    events: Any,
    make_settings: Any,
    start_persister: Any,
    publish: Any,
    eventually: Any,
    drained: Any,
    rows_in: Any,
) -> None:
    outgoing = [
        events.ship(f"AGENT-{ship}", version, fuel=(version, 400), behaviour="mine")
        for version in range(1, 41)
        for ship in range(1, 6)
    ]
    await publish(nats_url, outgoing)
    settings = make_settings(nats_url, migrated_url, batch={"size": 1000})
    async with start_persister(settings) as running:
        await eventually(lambda: drained(nats_url), what="every event acked")
        stats = running.persister.stats
        async with httpx.AsyncClient(base_url=running.probe_url) as client:
            scraped = (await client.get("/metrics")).text
    assert await rows_in(migrated_url, "ships") == 5
    with psycopg.connect(migrated_url) as conn:
        rows = conn.execute("SELECT version, fuel_current, behaviour FROM ships").fetchall()
    assert set(rows) == {(40, 40, "mine")}
    assert stats.events["ship"] == 200
    assert stats.rows["ships"] < 200 / 5  # 40 versions of a ship cost far fewer row writes
    assert running.sample("flotilla_persister_events_total", type="ship") == 200
    assert running.sample("flotilla_persister_coalescing_ratio_sum") > running.sample(
        "flotilla_persister_coalescing_ratio_count"
    )
    assert running.sample("flotilla_persister_write_seconds_count") >= 1
    assert running.sample("flotilla_persister_batch_size_sum") == 200
    # The same registry is what the kit serves on /metrics.
    assert 'flotilla_persister_events_total{type="ship"} 200.0' in scraped


async def test_out_of_order_and_duplicate_deliveries_leave_the_same_rows(
    nats_url: str,
    migrated_url: str,
    reference_url: str,
    events: Any,
    make_settings: Any,
    start_persister: Any,
    publish: Any,
    eventually: Any,
    drained: Any,
    dump: Any,
    write_reference: Any,
) -> None:
    outgoing = events.mixed(400)
    await write_reference(reference_url, outgoing)
    rng = random.Random(11)
    delivered = outgoing + rng.sample(outgoing, 150)
    rng.shuffle(delivered)
    # Without Nats-Msg-Id the stream keeps duplicates, as after a publisher's late retry.
    await publish(nats_url, delivered, msg_id=False)
    settings = make_settings(nats_url, migrated_url, batch={"size": 37})
    async with start_persister(settings):
        await eventually(lambda: drained(nats_url), what="every event acked")
    assert await dump(migrated_url) == await dump(reference_url)


FAILED_AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


async def test_a_poison_message_is_dead_lettered_with_its_reason_while_later_ones_are_written(
    nats_url: str,
    migrated_url: str,
    events: Any,
    make_settings: Any,
    start_persister: Any,
    publish: Any,
    eventually: Any,
    drained: Any,
    rows_in: Any,
) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await ensure_topology(js)
        await js.publish(names.TRANSACTION_SUBJECT, events.transaction(1, 10).payload)
        await js.publish(names.SHIP_STATE_SUBJECT, b"\xff\xfe not a protobuf message")
        no_time = events_pb2.AgentState(
            event_id="0b0e6f4e-3c1d-4e59-9a7e-2f1f0c0d0e0f", symbol="AGENT"
        )
        await js.publish(names.AGENT_SUBJECT, no_time.SerializeToString())
        await js.publish("flotilla.events.weather", b"{}", headers={"traceparent": "x"})
    finally:
        await nc.close()
    later = [events.transaction(1, 20 + n) for n in range(30)]
    await publish(nats_url, later)

    settings = make_settings(nats_url, migrated_url, batch={"size": 8})
    # Dead letters and commits are stamped with the injected clock's time, not the machine's.
    clock = ManualClock(FAILED_AT)
    async with start_persister(settings, clock=clock) as running:
        await eventually(lambda: drained(nats_url), what="every event acked, poison included")
        last_commit = running.sample("flotilla_persister_last_commit_timestamp_seconds")
        undecodable_count = running.sample(
            "flotilla_persister_dead_letters_total", reason="undecodable"
        )
        contract_count = running.sample("flotilla_persister_dead_letters_total", reason="contract")
    assert await rows_in(migrated_url, "transactions") == 31
    assert last_commit == FAILED_AT.timestamp()

    letters = {letter.subject: letter for letter in await _dead_letters(nats_url, 3)}
    assert set(letters) == {
        names.SHIP_STATE_SUBJECT,
        names.AGENT_SUBJECT,
        "flotilla.events.weather",
    }
    undecodable = letters[names.SHIP_STATE_SUBJECT]
    assert undecodable.payload == b"\xff\xfe not a protobuf message"
    assert undecodable.reason.startswith("cannot decode as flotilla.v1.ShipState")
    assert undecodable.consumer == "persister"
    assert undecodable.failed_at.ToDatetime(tzinfo=UTC) == FAILED_AT
    assert letters[names.AGENT_SUBJECT].reason == "contract violation: observed_at is not set"
    assert "unknown subject" in letters["flotilla.events.weather"].reason
    assert letters["flotilla.events.weather"].headers["traceparent"] == "x"
    assert undecodable_count == 1
    assert contract_count == 1


async def test_a_value_the_schema_cannot_hold_is_dead_lettered_and_its_batch_is_written(
    nats_url: str,
    migrated_url: str,
    events: Any,
    make_settings: Any,
    start_persister: Any,
    publish: Any,
    eventually: Any,
    drained: Any,
    rows_in: Any,
) -> None:
    # A 4 KB ship symbol once failed its batch with "index row size exceeds btree maximum"
    # (SQLSTATE 54000) and held it forever; a NUL character cannot be stored in text at all.
    # The contract refuses both, naming the field, before they reach the database.
    outgoing = [events.ship(f"AGENT-{n}", 1, fuel=(n, 100)) for n in range(20)]
    too_long = events.ship("AGENT-" + "X" * 4096, 1, fuel=(1, 100))
    with_nul = events.ship("AGENT-NUL", 1, cargo=[("IRON\x00ORE", 1)])
    outgoing.insert(7, too_long)
    outgoing.insert(13, with_nul)
    await publish(nats_url, outgoing)
    settings = make_settings(nats_url, migrated_url, batch={"size": 100})
    async with start_persister(settings):
        await eventually(lambda: drained(nats_url), what="every event acked")
    assert await rows_in(migrated_url, "ships") == 20
    letters = {letter.payload: letter.reason for letter in await _dead_letters(nats_url, 2)}
    assert letters[too_long.payload] == (
        "contract violation: ship_symbol is 4102 characters long, longer than the 64 "
        "ships.symbol holds"
    )
    assert letters[with_nul.payload] == (
        "contract violation: cargo.inventory.symbol contains a NUL character, which the "
        "database cannot hold"
    )


class SimulatedCrash(Exception):
    """Stands for the process dying after its transaction committed, before it acked."""


async def crash_before_ack(msgs: Sequence[Msg]) -> None:
    """The `before_ack` seam: the first committed batch ends the service instead of acking."""
    raise SimulatedCrash


async def test_a_crash_between_commit_and_ack_loses_nothing_and_doubles_nothing(
    nats_url: str,
    migrated_url: str,
    reference_url: str,
    events: Any,
    make_settings: Any,
    start_persister: Any,
    publish: Any,
    eventually: Any,
    drained: Any,
    dump: Any,
    write_reference: Any,
    rows_in: Any,
) -> None:
    outgoing = events.mixed(300)
    await write_reference(reference_url, outgoing)
    await publish(nats_url, outgoing)
    settings = make_settings(
        nats_url, migrated_url, batch={"size": 120}, consumer={"ack_wait_seconds": 1.0}
    )
    seams = {BEFORE_ACK_SEAM: crash_before_ack}
    with pytest.raises(BaseExceptionGroup) as crashed:
        async with start_persister(settings, seams=seams) as crashing:
            await crashing.task
    assert crashed.group_contains(SimulatedCrash)
    committed = await rows_in(migrated_url, "request_log")
    assert committed > 0  # a batch was committed and never acked

    # The unacked batch is redelivered once its ack wait passes; writing it again must change
    # nothing (in particular, no rollup may count it twice).
    async with start_persister(settings) as running:
        await eventually(lambda: drained(nats_url), what="every event acked")
        assert running.persister.stats.events.total() >= len(outgoing)
    assert await dump(migrated_url) == await dump(reference_url)


async def test_each_batch_has_a_span_linked_to_the_traces_of_its_events(
    nats_url: str,
    migrated_url: str,
    events: Any,
    make_settings: Any,
    start_persister: Any,
    eventually: Any,
    drained: Any,
) -> None:
    exporter = InMemorySpanExporter()
    publisher = TracerProvider().get_tracer("dispatcher")
    settings = make_settings(nats_url, migrated_url)
    async with start_persister(settings) as running:
        # The persister's spans go to the tracer the kit gave it (never the global one).
        tracer = running.service.ctx.tracer
        assert isinstance(tracer, SdkTracer)
        tracer.span_processor.add_span_processor(SimpleSpanProcessor(exporter))
        trace_ids = set()
        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()
            for n in range(3):
                with publisher.start_as_current_span(f"dispatcher-{n}") as span:
                    trace_ids.add(span.get_span_context().trace_id)
                    headers = inject_headers()
                out = events.ship(f"AGENT-{n}", 1, fuel=(1, 2))
                await js.publish(out.subject, out.payload, headers=headers)
        finally:
            await nc.close()
        await eventually(lambda: drained(nats_url), what="every event acked")
    batches = [s for s in exporter.get_finished_spans() if s.name == "persister.batch"]
    assert batches
    assert sum(int(cast(Any, s.attributes)[SpanAttr.BATCH_COUNT]) for s in batches) == 3
    linked = {link.context.trace_id for span in batches for link in span.links}
    assert linked == trace_ids
    assert trace.get_current_span() is trace.INVALID_SPAN


async def _readiness(probe_url: str) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient(base_url=probe_url) as client:
        answer = await client.get("/readyz")
    return answer.status_code, answer.json()


async def test_the_persister_waits_for_the_schema_before_consuming(
    nats_url: str,
    database_url: str,
    events: Any,
    make_settings: Any,
    start_persister: Any,
    publish: Any,
    eventually: Any,
    drained: Any,
    rows_in: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await publish(nats_url, [events.transaction(1, 10)])
    caplog.set_level(logging.WARNING, logger="persister")
    settings = make_settings(nats_url, database_url)
    async with start_persister(settings) as running:
        await eventually(
            lambda: any("schema is not there yet" in r.getMessage() for r in caplog.records),
            what="the persister to report the missing schema",
        )
        status, ready = await _readiness(running.probe_url)
        assert status == 503
        assert ready["checks"]["nats"] == "ok: connected"
        assert ready["checks"]["database"] == "ok: reachable"
        assert ready["checks"]["schema"].startswith("failing: no schema yet")
        assert not await drained(nats_url)
        migrate.upgrade(database_url)
        await eventually(lambda: drained(nats_url), what="every event acked")
        status, ready = await _readiness(running.probe_url)
        assert status == 200
        assert ready["checks"]["schema"] == f"ok: at revision {migrate.head_revision()}"
    assert await rows_in(database_url, "transactions") == 1


async def test_its_database_sessions_are_named_and_bounded(
    nats_url: str, migrated_url: str, make_settings: Any, start_persister: Any, eventually: Any
) -> None:
    settings = make_settings(nats_url, migrated_url, pool={"size": 2})
    async with start_persister(settings) as running:
        await eventually(lambda: running.persister.schema_ready, what="the schema check")
        with psycopg.connect(migrated_url) as conn:
            sessions = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                (APPLICATION_NAME,),
            ).fetchone()
        assert sessions is not None and 1 <= sessions[0] <= 2


async def test_a_deleted_consumer_is_created_again_and_consuming_goes_on(
    nats_url: str,
    migrated_url: str,
    events: Any,
    make_settings: Any,
    start_persister: Any,
    publish: Any,
    eventually: Any,
    drained: Any,
    rows_in: Any,
) -> None:
    settings = make_settings(nats_url, migrated_url)
    async with start_persister(settings):
        await publish(nats_url, [events.transaction(1, n) for n in range(1, 11)])
        await eventually(lambda: drained(nats_url), what="the first events acked")
        nc = await nats.connect(nats_url)
        try:
            await nc.jetstream().delete_consumer(names.EVENTS_STREAM, names.PERSISTER_CONSUMER)
        finally:
            await nc.close()
        await publish(nats_url, [events.transaction(1, n) for n in range(11, 21)])
        await eventually(
            lambda: _count_is(rows_in, migrated_url, "transactions", 20),
            what="the events published after the deletion",
        )
        await eventually(lambda: drained(nats_url), what="everything acked again")
    # The new consumer delivered the whole stream again; the writes were idempotent.
    assert await rows_in(migrated_url, "transactions") == 20


async def _count_is(rows_in: Any, url: str, table: str, expected: int) -> bool:
    return int(await rows_in(url, table)) == expected


async def test_a_failed_ack_is_logged_not_raised_and_the_event_is_redelivered(
    nats_url: str,
    database_url: str,
    make_settings: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = make_settings(nats_url, database_url)
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await ensure_topology(js)
    await js.publish(names.REQUEST_LOG_SUBJECT, b"committed event")
    config = ConsumerConfig(durable_name="ack-test", ack_wait=1.0)
    sub = await js.pull_subscribe(names.EVENTS_SUBJECTS, "ack-test", config=config)
    [msg] = await sub.fetch(1, timeout=5)
    persister = Persister(
        settings,
        nc,
        cast(Any, None),  # no database: only the ack is under test
        metrics=PersisterMetrics(MetricsRegistry()),
        clock=SystemClock(),
        tracer=trace.NoOpTracer(),
    )
    await nc.close()  # the connection goes away between commit and ack

    with caplog.at_level(logging.WARNING, logger="persister"):
        await persister.ack([msg])  # must not raise: it would end the persister
    assert persister.stats.acked == 0
    assert "ack failed" in caplog.text

    again_nc = await nats.connect(nats_url)
    try:
        again = await again_nc.jetstream().pull_subscribe(
            names.EVENTS_SUBJECTS, "ack-test", config=config
        )
        [redelivered] = await again.fetch(1, timeout=10)
        assert redelivered.data == b"committed event"
        assert redelivered.metadata.num_delivered == 2
    finally:
        await again_nc.close()
