"""The world view's events in PostgreSQL: `WaypointObservation`s into `waypoints` (traits, the
body it orbits, charted — newest observation wins, charted only turns on, route sightings and
market flags never erased), `SurveyObservation`s into `surveys` (once per signature, whoever
made it); the contract refuses what the tables cannot hold; and the service writes both from
the events stream."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from flotilla import names
from flotilla.v1 import events_pb2
from persister.coalesce import coalesce_batch
from persister.contract import Rejected, decode_event
from persister.writes import BatchWriter, WriteResult

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
WAYPOINT = "X1-AA-W0"


async def _write(
    url: str, outgoing: Sequence[Any], writer: BatchWriter | None = None
) -> WriteResult:
    batch = coalesce_batch(decode_event(o.subject, o.payload) for o in outgoing)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        return await (writer or BatchWriter()).write(conn, batch)


def _rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return [tuple(row) for row in conn.execute(sql).fetchall()]


WAYPOINT_ROW = "SELECT type, x, y, has_market, has_shipyard, traits, orbits, charted FROM waypoints"


async def test_a_waypoint_observation_writes_what_it_says(migrated_url: str, events: Any) -> None:
    seen = events.waypoint(
        "X1-AA-A3",
        type="ORBITAL_STATION",
        xy=(13, 6),
        traits=["MARKETPLACE", "SHIPYARD"],
        orbits="X1-AA-A1",
    )
    result = await _write(migrated_url, [seen])
    assert result.rows["waypoints"] == 1 and result.rows["systems"] == 1
    assert _rows(migrated_url, WAYPOINT_ROW) == [
        ("ORBITAL_STATION", 13, 6, True, True, ["MARKETPLACE", "SHIPYARD"], "X1-AA-A1", True)
    ]
    assert _rows(migrated_url, "SELECT symbol, sector_symbol FROM systems") == [("X1-AA", "X1")]


async def test_an_older_observation_never_overwrites_a_newer_one_and_charted_stays(
    migrated_url: str, events: Any
) -> None:
    newer = events.waypoint(WAYPOINT, at=T0 + timedelta(minutes=5), traits=["SHIPYARD"])
    older = events.waypoint(WAYPOINT, at=T0, traits=["UNCHARTED"], charted=False)
    await _write(migrated_url, [newer])
    result = await _write(migrated_url, [older])
    assert result.rows["waypoints"] == 0
    assert _rows(migrated_url, "SELECT traits, charted, observed_at FROM waypoints") == [
        (["SHIPYARD"], True, T0 + timedelta(minutes=5))
    ]
    # A later observation that says "uncharted" (a listing that lags) does not uncharted it;
    # its traits are the newest.
    later = events.waypoint(WAYPOINT, at=T0 + timedelta(minutes=9), traits=[], charted=False)
    await _write(migrated_url, [later])
    assert _rows(migrated_url, "SELECT traits, charted, has_shipyard FROM waypoints") == [
        ([], True, True)
    ]


async def test_route_sightings_and_markets_keep_what_observations_wrote(
    migrated_url: str, events: Any
) -> None:
    writer = BatchWriter()
    await _write(migrated_url, [events.waypoint(WAYPOINT, traits=["MARKETPLACE"])], writer)
    # A route that mentions the waypoint, and a market seen there, in later batches.
    ship = events.ship("AGENT-1", 1, nav={"waypoint": WAYPOINT, "destination": WAYPOINT})
    await _write(migrated_url, [ship, events.market(WAYPOINT, goods=[("FUEL", 70, 65)])])
    assert _rows(migrated_url, "SELECT type, traits, charted, has_market FROM waypoints") == [
        ("ASTEROID", ["MARKETPLACE"], True, True)
    ]
    # The other way round: a waypoint first known from a route, then observed.
    other = "X1-AA-B1"
    route = events.ship("AGENT-2", 1, nav={"waypoint": other, "destination": other})
    await _write(migrated_url, [route], writer)
    await _write(migrated_url, [events.waypoint(other, traits=["SHIPYARD"])], writer)
    assert _rows(
        migrated_url, f"SELECT traits, has_shipyard FROM waypoints WHERE symbol = '{other}'"
    ) == [(["SHIPYARD"], True)]


async def test_an_observation_already_written_by_this_writer_is_not_sent_again(
    migrated_url: str, events: Any
) -> None:
    writer = BatchWriter()
    seen = events.waypoint(WAYPOINT)
    await _write(migrated_url, [seen], writer)
    again = await _write(migrated_url, [seen], writer)
    assert again.rows["waypoints"] == 0 and again.statements == 2  # BEGIN, COMMIT only
    newer = await _write(migrated_url, [events.waypoint(WAYPOINT, at=T0 + timedelta(1))], writer)
    assert newer.rows["waypoints"] == 1


async def test_a_survey_is_written_once_with_who_made_it(migrated_url: str, events: Any) -> None:
    survey = events.survey("X1-AA-W0-SIG1", deposits=["IRON_ORE", "IRON_ORE", "QUARTZ_SAND"])
    seen_again = events.survey("X1-AA-W0-SIG1", ship="AGENT-9")  # another event, same survey
    result = await _write(migrated_url, [survey, seen_again])
    assert result.rows["surveys"] == 1
    assert _rows(
        migrated_url,
        "SELECT signature, waypoint_symbol, size, deposits, expiration, observed_at, agent,"
        " ship_symbol FROM surveys",
    ) == [
        (
            "X1-AA-W0-SIG1",
            WAYPOINT,
            "SMALL",
            ["IRON_ORE", "IRON_ORE", "QUARTZ_SAND"],
            T0 + timedelta(minutes=30),
            T0,
            "AGENT",
            "AGENT-1",
        )
    ]
    replay = await _write(migrated_url, [seen_again, survey])
    assert replay.rows["surveys"] == 0


def _survey(**fields: Any) -> bytes:
    m = events_pb2.SurveyObservation(
        event_id="00000000-0000-4000-8000-000000000001",
        waypoint_symbol=WAYPOINT,
        signature="SIG",
        size="SMALL",
    )
    m.expiration.FromDatetime(T0)
    m.observed_at.FromDatetime(T0)
    for name, value in fields.items():
        if value is None:
            m.ClearField(name)
        else:
            setattr(m, name, value)
    return m.SerializeToString()


def _waypoint(**fields: Any) -> bytes:
    m = events_pb2.WaypointObservation(
        event_id="00000000-0000-4000-8000-000000000002", waypoint_symbol=WAYPOINT, type="PLANET"
    )
    m.observed_at.FromDatetime(T0)
    for name, value in fields.items():
        if value is None:
            m.ClearField(name)
        else:
            setattr(m, name, value)
    return m.SerializeToString()


@pytest.mark.parametrize(
    ("subject", "payload", "reason"),
    [
        (names.SURVEY_SUBJECT, _survey(signature=""), "signature is empty"),
        (names.SURVEY_SUBJECT, _survey(expiration=None), "expiration is not set"),
        (names.SURVEY_SUBJECT, _survey(signature="S" * 65), "surveys.signature"),
        (names.SURVEY_SUBJECT, _survey(size="\x00"), "NUL"),
        (names.WAYPOINT_SUBJECT, _waypoint(type=""), "type is empty"),
        (names.WAYPOINT_SUBJECT, _waypoint(observed_at=None), "observed_at is not set"),
        (names.WAYPOINT_SUBJECT, _waypoint(orbits="O" * 65), "waypoints.orbits"),
    ],
)
def test_the_contract_refuses_what_the_tables_cannot_hold(
    subject: str, payload: bytes, reason: str
) -> None:
    decode_event(subject, _survey() if subject == names.SURVEY_SUBJECT else _waypoint())
    with pytest.raises(Rejected) as refused:
        decode_event(subject, payload)
    assert reason in refused.value.reason


@pytest.mark.slow
async def test_the_service_writes_the_world_view_from_the_events_stream(
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
        events.waypoint(f"X1-AA-P{n}", at=T0 + timedelta(seconds=s), traits=[f"T{s}"])
        for n in range(3)
        for s in range(4)
    ]
    outgoing += [events.survey(f"SIG-{n}", at=T0) for n in range(5)]
    await publish(nats_url, outgoing)
    async with start_persister(make_settings(nats_url, migrated_url)) as running:
        await eventually(lambda: drained(nats_url), what="every event acked")
        assert running.sample("flotilla_persister_events_total", type="waypoint") == 12
        assert running.sample("flotilla_persister_events_total", type="survey") == 5
    assert await rows_in(migrated_url, "surveys") == 5
    assert _rows(migrated_url, "SELECT DISTINCT traits FROM waypoints") == [(["T3"],)]
    assert await rows_in(migrated_url, "waypoints") == 3


async def test_what_only_turns_on_is_kept_from_every_observation_in_any_batching(
    migrated_url: str, reference_url: str, events: Any, dump: Any
) -> None:
    """An older observation that says "charted" or lists a market still counts, whether it
    comes in the same batch as a newer one or after it (through this writer's cache too)."""
    older = events.waypoint(WAYPOINT, at=T0, traits=["ROCKY"], charted=True)
    newer = events.waypoint(WAYPOINT, at=T0 + timedelta(minutes=1), traits=[], charted=False)
    await _write(reference_url, [older, newer])
    writer = BatchWriter()
    await _write(migrated_url, [newer], writer)
    await _write(migrated_url, [older], writer)
    assert await dump(migrated_url) == await dump(reference_url)
    assert _rows(migrated_url, "SELECT traits, charted FROM waypoints") == [([], True)]
    # And a market listed only by the older observation, in one batch with the newer.
    listed = events.waypoint("X1-AA-C1", at=T0, traits=["MARKETPLACE"], charted=False)
    later = events.waypoint("X1-AA-C1", at=T0 + timedelta(minutes=1), traits=[], charted=False)
    await _write(migrated_url, [listed, later], writer)
    assert _rows(migrated_url, "SELECT has_market FROM waypoints WHERE symbol = 'X1-AA-C1'") == [
        (True,)
    ]
