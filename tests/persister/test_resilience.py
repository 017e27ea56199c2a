"""Failures lose nothing and double nothing: the persister process killed while a batch's
transaction is open and restarted, and PostgreSQL away for 30 seconds. The final tables are
compared with the state the same events give when written directly."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from flotilla.db import migrate
from flotilla.local_servers import PostgresServer, free_port
from persister.service import APPLICATION_NAME

OUTAGE_SECONDS = 30.0


def _persister_process(
    nats_url: str, database_url: str, log: Path, metrics_port: int
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "FLOTILLA_NATS_URL": nats_url,
        "FLOTILLA_DATABASE_URL": database_url,
        "FLOTILLA_LOG_FORMAT": "text",
        "FLOTILLA_PERSISTER_BATCH_SIZE": "25",
        "FLOTILLA_PERSISTER_BATCH_MAX_WAIT_SECONDS": "0.1",
        "FLOTILLA_PERSISTER_CONSUMER_ACK_WAIT_SECONDS": "1",
        "FLOTILLA_PROBES_HOST": "127.0.0.1",
        "FLOTILLA_PROBES_PORT": str(metrics_port),
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "persister"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


async def _get(port: int, path: str) -> httpx.Response | None:
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            return await client.get(f"http://127.0.0.1:{port}{path}")
    except httpx.HTTPError:
        return None


async def _serves_metrics(port: int) -> bool:
    answer = await _get(port, "/metrics")
    return answer is not None and "flotilla_persister_events_total" in answer.text


def _waiting_on_a_lock(url: str) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE application_name = %s AND wait_event_type = 'Lock'",
            (APPLICATION_NAME,),
        ).fetchone()
    return row is not None and row[0] > 0


def _requests(outgoing: list[Any]) -> int:
    return sum(1 for o in outgoing if o.subject.endswith(".request"))


async def test_killing_the_persister_mid_batch_then_restarting_it_loses_and_doubles_nothing(
    nats_url: str,
    migrated_url: str,
    reference_url: str,
    events: Any,
    publish: Any,
    eventually: Any,
    drained: Any,
    dump: Any,
    write_reference: Any,
    rows_in: Any,
    tmp_path: Path,
) -> None:
    outgoing = events.mixed(3000)
    first_part, second_part = outgoing[:600], outgoing[600:]
    await write_reference(reference_url, outgoing)
    await publish(nats_url, first_part)
    log = tmp_path / "persister.log"

    port = free_port()
    first = _persister_process(nats_url, migrated_url, log, port)
    lock = psycopg.connect(migrated_url)
    try:
        await eventually(
            lambda: _serves_metrics(port),
            within=30,
            what=f"the persister's metrics endpoint ({log})",
        )
        await eventually(lambda: drained(nats_url), within=60, what="the first part acked")
        health = await _get(port, "/healthz")
        assert health is not None and health.status_code == 200
        ready = await _get(port, "/readyz")
        assert ready is not None
        assert ready.status_code == 200
        assert ready.json() == {
            "ready": True,
            "checks": {
                "nats": "ok: connected",
                "database": "ok: reachable",
                "schema": f"ok: at revision {migrate.head_revision()}",
            },
        }
        # Hold the request log so that the next batch with a request in it stops inside its
        # transaction: the kill then lands while a batch is written but neither committed nor
        # acked, whatever the speed of the machine.
        lock.execute("LOCK TABLE request_log IN EXCLUSIVE MODE")
        await publish(nats_url, second_part)
        await eventually(
            lambda: _waiting_on_a_lock(migrated_url), within=30, what="a batch held mid-write"
        )
        first.send_signal(signal.SIGKILL)
        assert first.wait(10) == -signal.SIGKILL
        written_at_kill = int(lock.execute("SELECT count(*) FROM request_log").fetchone()[0])  # type: ignore[index]
    finally:
        lock.rollback()
        lock.close()
        if first.poll() is None:
            first.kill()
            first.wait()
    assert written_at_kill == _requests(first_part)
    assert written_at_kill < _requests(outgoing)
    assert not await drained(nats_url)

    second = _persister_process(nats_url, migrated_url, log, free_port())
    try:
        await eventually(lambda: drained(nats_url), within=90, what="every event acked")
        second.send_signal(signal.SIGTERM)
        assert second.wait(20) == 0, log.read_text()
    finally:
        if second.poll() is None:
            second.kill()
            second.wait()
    assert await dump(migrated_url) == await dump(reference_url)
    assert await rows_in(migrated_url, "request_log") == _requests(outgoing)
    assert "persister stopped" in log.read_text()


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test's own, which it may stop and start again."""
    data_dir = Path(tempfile.mkdtemp(prefix="flotilla-outage-"))
    server = PostgresServer(data_dir, port=free_port(), durable=False)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.mark.slow
async def test_a_30_second_database_outage_loses_nothing(
    nats_url: str,
    reference_url: str,
    own_postgres: PostgresServer,
    events: Any,
    make_settings: Any,
    start_persister: Any,
    publish: Any,
    eventually: Any,
    throughout: Any,
    drained: Any,
    dump: Any,
    write_reference: Any,
) -> None:
    url = own_postgres.url
    migrate.upgrade(url)
    before = events.mixed(200)
    during = events.mixed(400)
    await write_reference(reference_url, before + during)
    settings = make_settings(
        nats_url,
        url,
        retry={"base_seconds": 0.2, "max_seconds": 2.0},
        pool={"timeout_seconds": 2.0},
    )
    async with start_persister(settings) as running:
        await publish(nats_url, before)
        await eventually(lambda: drained(nats_url), what="the first events acked")

        await asyncio.to_thread(own_postgres.stop)
        await publish(nats_url, during)
        # Events keep waiting in JetStream: nothing is acked while nothing can be written.
        acked_before = running.persister.stats.acked
        await throughout(
            lambda: _still_waiting(drained, nats_url, running, acked_before),
            for_seconds=OUTAGE_SECONDS,
            what="nothing acked during the outage",
        )
        assert running.persister.stats.database_errors > 0
        assert not running.persister.database_ok

        await asyncio.to_thread(own_postgres.start)
        await eventually(lambda: drained(nats_url), within=60, what="the backlog written")
    assert await dump(url) == await dump(reference_url)


async def _still_waiting(drained: Any, nats_url: str, running: Any, acked_before: int) -> bool:
    return not await drained(nats_url) and running.persister.stats.acked == acked_before
