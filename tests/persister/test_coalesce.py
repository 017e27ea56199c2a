"""Coalescing keeps the newest state per key (per part for ships) and every record once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from flotilla.v1 import events_pb2
from persister.coalesce import CoalescedBatch, coalesce_batch, system_of
from persister.contract import decode_event

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)  # the event factory's default time


def _batch(events_: Sequence[tuple[str, bytes, str]]) -> CoalescedBatch:
    return coalesce_batch(decode_event(subject, payload) for subject, payload, _ in events_)


def test_each_ship_part_comes_from_the_newest_event_that_changed_it(events: Any) -> None:
    batch = _batch(
        [
            events.ship("AGENT-1", 3, nav={"waypoint": "X1-AA-C3"}),
            events.ship("AGENT-1", 1, nav={"waypoint": "X1-AA-A1"}, fuel=(10, 100)),
            events.ship("AGENT-1", 2, fuel=(20, 100), behaviour="mine"),
        ]
    )
    merge = batch.ships["AGENT-1"]
    assert merge.newest.version == 3
    assert merge.parts["nav"].nav.waypoint_symbol == "X1-AA-C3"
    assert merge.parts["fuel"].fuel.current == 20
    assert merge.parts["behaviour"].behaviour == "mine"
    assert "cargo" not in merge.parts
    assert (batch.state_events, batch.state_rows) == (3, 1)


def test_each_market_good_comes_from_the_newest_observation_that_listed_it(events: Any) -> None:
    old = events.market("X1-AA-A1", goods=[("IRON_ORE", 10, 9), ("COPPER_ORE", 20, 19)])
    new = events.market(
        "X1-AA-A1", at=T0 + timedelta(seconds=1), goods=[("IRON_ORE", 12, 11)], exports=["IRON_ORE"]
    )
    batch = _batch([new, old])
    assert batch.markets["X1-AA-A1"].event_id == new.event_id
    assert batch.market_goods[("X1-AA-A1", "IRON_ORE")].listing.sell_price == 11
    assert batch.market_goods[("X1-AA-A1", "COPPER_ORE")].listing.sell_price == 19


def test_observations_at_the_same_instant_are_ordered_by_event_uuid(events: Any) -> None:
    a = events.agent(100)
    b = events.agent(200)
    winner = max(a, b, key=lambda o: o.event_id)
    assert _batch([a, b]).agents["AGENT"].event_id == winner.event_id
    assert _batch([b, a]).agents["AGENT"].event_id == winner.event_id


def test_a_duplicate_record_is_kept_once_and_simultaneous_records_are_all_kept(events: Any) -> None:
    sale = events.transaction(events_pb2.TRANSACTION_KIND_SELL, 100, ship="AGENT-1")
    same_instant = events.transaction(events_pb2.TRANSACTION_KIND_SELL, 100, ship="AGENT-1")
    batch = _batch([sale, sale, same_instant])
    assert sorted(batch.transactions) == sorted([sale.event_id, same_instant.event_id])
    assert batch.events["transaction"] == 3


def test_waypoints_are_seen_with_what_the_batch_reveals(events: Any) -> None:
    batch = _batch(
        [
            events.ship("AGENT-1", 1, nav={"waypoint": "X1-AA-A1", "destination": "X1-AA-B2"}),
            events.market("X1-AA-A1"),
        ]
    )
    sightings = batch.waypoint_sightings()
    assert sightings["X1-AA-A1"].has_market
    assert sightings["X1-AA-B2"].type == "ASTEROID"
    assert (sightings["X1-AA-B2"].x, sightings["X1-AA-B2"].y) == (3, 4)
    assert system_of("X1-AA-B2") == "X1-AA"
