"""A poison event of any kind, refused by the database with any SQLSTATE, goes to the dead
letters with the database's message while the rest of its batch is written; two such batches
do not stop writing; an outage (here "too many connections", "admin shutdown") keeps the whole
batch and retries it, dead-lettering nothing.

The refusals are injected by triggers the tests create, raising the SQLSTATE under test for
rows that carry the word POISONED: the contract refuses what the schema cannot hold before it
reaches the database, so an event the database still refuses can only be staged this way (as
a constraint or trigger added by an operator would)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import nats
import psycopg
import pytest

from flotilla import names
from flotilla.v1 import cluster_pb2
from persister.outages import is_outage

POISON_FUNCTION = """
CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF to_jsonb(NEW)::text LIKE '%POISONED%' THEN
        RAISE EXCEPTION '% refused on %', TG_ARGV[1], TG_TABLE_NAME USING ERRCODE = TG_ARGV[0];
    END IF;
    RETURN NEW;
END $$
"""

OUTAGE_FUNCTION = """
CREATE SEQUENCE outage_attempts;
CREATE FUNCTION stage_outage() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Sequences ignore rollbacks: this counts every attempt, failed ones included.
    IF nextval('outage_attempts') <= TG_ARGV[1]::int THEN
        RAISE EXCEPTION 'staged outage' USING ERRCODE = TG_ARGV[0];
    END IF;
    RETURN NEW;
END $$
"""


def _install(url: str, function: str, table: str, trigger: str, *arguments: str) -> None:
    quoted = ", ".join(f"'{argument}'" for argument in arguments)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(function)
        conn.execute(
            f"CREATE TRIGGER staged BEFORE INSERT OR UPDATE ON {table}"
            f" FOR EACH ROW EXECUTE FUNCTION {trigger}({quoted})"
        )


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


async def _dead_letter_count(nats_url: str) -> int:
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().stream_info(names.DEAD_LETTER_STREAM)
        return int(info.state.messages)
    finally:
        await nc.close()


# (table the trigger guards, SQLSTATE it raises, events of that kind: the good ones and the
# poisoned one). SQLSTATEs from classes 54 (program limit), P0 (raised by PL/pgSQL), XX
# (internal error), 0A (feature not supported), 42 (syntax or access rule) and 2F (SQL routine
# exception): none of them classes 22 or 23.
Kind = Callable[[Any, str], Any]
KINDS: list[tuple[str, str, Kind]] = [
    ("ships", "54000", lambda ev, tag: ev.ship(f"AGENT-{tag}", 1, fuel=(1, 100))),
    ("markets", "P0001", lambda ev, tag: ev.market(f"X1-AA-{tag}", goods=[("IRON_ORE", 5, 4)])),
    ("transactions", "XX000", lambda ev, tag: ev.transaction(1, 10, behaviour=tag)),
    ("extractions", "0A000", lambda ev, tag: ev.extraction(f"AGENT-{tag}", 3)),
    ("agents", "42804", lambda ev, tag: ev.agent(100, symbol=tag)),
    ("request_log", "2F005", lambda ev, tag: ev.request(agent=tag)),
    ("shipyards", "54001", lambda ev, tag: ev.shipyard(f"X1-AA-{tag}", prices=[("PROBE", 9)])),
]


@pytest.mark.parametrize(("table", "sqlstate", "make"), KINDS, ids=[k[0] for k in KINDS])
async def test_a_poison_event_of_any_kind_is_isolated_whatever_its_sqlstate(
    nats_url: str,
    migrated_url: str,
    events: Any,
    make_settings: Any,
    start_persister: Any,
    publish: Any,
    eventually: Any,
    drained: Any,
    rows_in: Any,
    table: str,
    sqlstate: str,
    make: Kind,
) -> None:
    _install(migrated_url, POISON_FUNCTION, table, "refuse_poison", sqlstate, "index row size")
    good = [make(events, f"OK{n}") for n in range(12)]
    poison = make(events, "POISONED")
    outgoing = [*good[:5], poison, *good[5:]]
    await publish(nats_url, outgoing)
    settings = make_settings(nats_url, migrated_url, batch={"size": 100})
    async with start_persister(settings) as running:
        await eventually(lambda: drained(nats_url), what="every event acked, the poison too")
        database_errors = running.persister.stats.database_errors
    assert await rows_in(migrated_url, table) == len(good)
    [letter] = await _dead_letters(nats_url, 1)
    assert letter.payload == poison.payload
    assert letter.reason.startswith("database rejected the event: ")
    assert f"[{sqlstate}]" in letter.reason
    assert f"index row size refused on {table}" in letter.reason
    assert database_errors == 0  # not an outage: never retried as one


async def test_two_poison_batches_do_not_stop_the_writing(
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
    """Both batches in flight hold a poison event; every other event is still written."""
    _install(migrated_url, POISON_FUNCTION, "ships", "refuse_poison", "54000", "too big")
    outgoing = [events.ship(f"AGENT-{n}", 1, fuel=(n, 100)) for n in range(40)]
    poisons = [events.ship("AGENT-POISONED-1", 1), events.ship("AGENT-POISONED-2", 1)]
    outgoing.insert(3, poisons[0])
    outgoing.insert(14, poisons[1])
    await publish(nats_url, outgoing)
    settings = make_settings(nats_url, migrated_url, batch={"size": 10, "concurrency": 2})
    async with start_persister(settings):
        await eventually(lambda: drained(nats_url), what="every event acked")
    assert await rows_in(migrated_url, "ships") == 40
    letters = await _dead_letters(nats_url, 2)
    assert sorted(letter.payload for letter in letters) == sorted(p.payload for p in poisons)


@pytest.mark.parametrize("sqlstate", ["53300", "57P01", "40P01"])
async def test_an_outage_retries_the_whole_batch_and_dead_letters_nothing(
    nats_url: str,
    migrated_url: str,
    events: Any,
    make_settings: Any,
    start_persister: Any,
    publish: Any,
    eventually: Any,
    drained: Any,
    rows_in: Any,
    sqlstate: str,
) -> None:
    """Too many connections, an admin shutdown, a deadlock: the database's state, not an
    event's — splitting the batch would dead-letter good events."""
    _install(migrated_url, OUTAGE_FUNCTION, "transactions", "stage_outage", sqlstate, "3")
    outgoing = [events.transaction(1, 10 + n) for n in range(20)]
    await publish(nats_url, outgoing)
    settings = make_settings(nats_url, migrated_url, batch={"size": 100})
    async with start_persister(settings) as running:
        await eventually(lambda: drained(nats_url), what="every event acked")
        database_errors = running.persister.stats.database_errors
        dead_letters = running.persister.stats.dead_letters
    assert await rows_in(migrated_url, "transactions") == 20
    assert database_errors == 3 and dead_letters == 0
    assert await _dead_letter_count(nats_url) == 0


def _error(sqlstate: str) -> Exception:
    return psycopg.errors.lookup(sqlstate)("staged")


OUTAGES = ["08006", "08001", "28P01", "53300", "53100", "53200", "58030", "57P01", "57P02"]
OUTAGES += ["57P03", "57014", "25006", "40001", "40P01", "55P03", "3D000", "42P01", "XX001"]
EVENTS_DOING = ["22001", "22P05", "23505", "23514", "54000", "54001", "P0001", "XX000"]
EVENTS_DOING += ["0A000", "42804", "2F005", "42601", "21000"]


@pytest.mark.parametrize("sqlstate", OUTAGES)
def test_these_sqlstates_are_outages(sqlstate: str) -> None:
    assert is_outage(_error(sqlstate))


@pytest.mark.parametrize("sqlstate", EVENTS_DOING)
def test_these_sqlstates_may_be_an_events_doing(sqlstate: str) -> None:
    assert not is_outage(_error(sqlstate))


def test_failures_without_a_sqlstate_are_outages_only_when_no_database_answered() -> None:
    assert is_outage(psycopg.OperationalError("connection failed: Connection refused"))
    assert is_outage(psycopg.InterfaceError("the connection is closed"))
    assert is_outage(ConnectionResetError("reset"))
    assert is_outage(TimeoutError())
    # Refused before sending (the driver cannot encode the value), or a bug in building rows.
    assert not is_outage(psycopg.DataError("PostgreSQL text fields cannot contain NUL bytes"))
    assert not is_outage(ValueError("bad value"))
