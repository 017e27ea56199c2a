"""The real servers behind the tests work: JetStream, KV compare-and-set, and SQL."""

from __future__ import annotations

import nats
import psycopg
import pytest
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import KeyWrongLastSequenceError

from flotilla import names
from flotilla.kit.nats import open_nats
from flotilla.topology import ensure_topology


async def test_jetstream_publish_is_consumed_by_a_durable_consumer_that_resumes(
    nats_url: str,
) -> None:
    nc = await open_nats(nats_url, "test")
    try:
        js = nc.jetstream()
        await ensure_topology(js)
        for i in range(5):
            await js.publish(names.SHIP_STATE_SUBJECT, f"event-{i}".encode())
        config = ConsumerConfig(durable_name="test-durable", ack_policy=AckPolicy.EXPLICIT)
        sub = await js.pull_subscribe(names.EVENTS_SUBJECTS, "test-durable", config=config)
        first = await sub.fetch(3, timeout=5)
        assert [m.data for m in first] == [b"event-0", b"event-1", b"event-2"]
        for message in first:
            await message.ack_sync()
        await sub.unsubscribe()

        # A new subscription to the same durable consumer continues after the acked messages.
        again = await js.pull_subscribe(names.EVENTS_SUBJECTS, "test-durable", config=config)
        rest = await again.fetch(5, timeout=5)
        assert [m.data for m in rest] == [b"event-3", b"event-4"]
    finally:
        await nc.close()


async def test_kv_compare_and_set_fails_on_a_stale_revision(nats_url: str) -> None:
    nc = await open_nats(nats_url, "test")
    try:
        js = nc.jetstream()
        await ensure_topology(js)
        kv = await js.key_value(names.LEASES_BUCKET)
        first = await kv.create("SHIP-1", b"node-U")
        second = await kv.update("SHIP-1", b"node-U", last=first)
        with pytest.raises(KeyWrongLastSequenceError):
            await kv.update("SHIP-1", b"node-V", last=first)  # stale revision
        entry = await kv.get("SHIP-1")
        assert entry.value == b"node-U"
        assert entry.revision == second
    finally:
        await nc.close()


async def test_ensure_topology_is_idempotent(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await ensure_topology(js)
        await ensure_topology(js)
        streams = {s.config.name for s in await js.streams_info()}
        assert {names.EVENTS_STREAM, names.DEAD_LETTER_STREAM} <= streams
        for bucket in (names.NODES_BUCKET, names.LEASES_BUCKET, names.PLAN_BUCKET):
            status = await (await js.key_value(bucket)).status()
            assert status.bucket == bucket
    finally:
        await nc.close()


def test_sql_round_trip(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute("CREATE TABLE probe (id int PRIMARY KEY, name text NOT NULL)")
        conn.execute("INSERT INTO probe VALUES (1, 'ore hound'), (2, 'probe')")
        conn.commit()
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT id, name FROM probe ORDER BY id").fetchall()
    assert rows == [(1, "ore hound"), (2, "probe")]


def test_each_test_gets_a_fresh_database(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    assert tables == (0,)
