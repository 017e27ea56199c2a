"""Decoding checks every event against the contract and names the reason when it rejects one."""

from __future__ import annotations

import math

import pytest

from flotilla import names
from flotilla.v1 import api_pb2, events_pb2
from persister.contract import Rejected, decode_event


def _ship(**fields: object) -> events_pb2.ShipState:
    m = events_pb2.ShipState(
        event_id="6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b",
        agent="AGENT",
        ship_symbol="AGENT-1",
        version=3,
        changed=["fuel"],
    )
    m.fuel.current, m.fuel.capacity = 10, 100
    m.observed_at.seconds = 1_767_614_400
    for name, value in fields.items():
        setattr(m, name, value)
    return m


def _rejection(subject: str, payload: bytes) -> Rejected:
    with pytest.raises(Rejected) as caught:
        decode_event(subject, payload)
    return caught.value


def test_a_valid_ship_state_decodes_with_its_kind_and_id() -> None:
    event = decode_event(names.SHIP_STATE_SUBJECT, _ship().SerializeToString())
    assert event.kind == "ship"
    assert event.event_id == "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"


def test_an_event_id_in_another_uuid_spelling_is_made_canonical() -> None:
    m = _ship(event_id="{6F1C2A3B-4D5E-4F60-8A7B-9C0D1E2F3A4B}")
    event = decode_event(names.SHIP_STATE_SUBJECT, m.SerializeToString())
    assert event.event_id == "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"


def test_an_unknown_subject_is_rejected() -> None:
    rejected = _rejection("flotilla.events.weather", b"")
    assert rejected.category == "unknown_subject"
    assert "flotilla.events.weather" in rejected.reason


def test_bytes_that_are_not_the_message_are_undecodable() -> None:
    rejected = _rejection(names.SHIP_STATE_SUBJECT, b"\xff\xff\xff\xff not protobuf")
    assert rejected.category == "undecodable"
    assert "flotilla.v1.ShipState" in rejected.reason


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (_ship(event_id="not-a-uuid"), "is not a UUID"),
        (_ship(event_id=""), "is not a UUID"),
        (_ship(ship_symbol=""), "ship_symbol is empty"),
        (_ship(version=0), "version must be positive"),
    ],
)
def test_ship_states_that_break_the_contract_are_rejected(
    message: events_pb2.ShipState, reason: str
) -> None:
    rejected = _rejection(names.SHIP_STATE_SUBJECT, message.SerializeToString())
    assert rejected.category == "contract"
    assert reason in rejected.reason


def test_a_part_named_in_changed_but_not_sent_is_rejected() -> None:
    m = _ship()
    m.changed.append("nav")
    rejected = _rejection(names.SHIP_STATE_SUBJECT, m.SerializeToString())
    assert "changed names nav but nav is not set" in rejected.reason


def test_an_unknown_part_is_rejected() -> None:
    m = _ship()
    m.changed.append("shields")
    assert (
        "unknown part 'shields'"
        in _rejection(names.SHIP_STATE_SUBJECT, m.SerializeToString()).reason
    )


def test_a_changed_behaviour_is_accepted_as_the_dispatcher_sends_it() -> None:
    m = _ship(behaviour="mine")
    m.changed.append("behaviour")
    assert decode_event(names.SHIP_STATE_SUBJECT, m.SerializeToString()).kind == "ship"


def test_a_missing_timestamp_is_rejected() -> None:
    m = _ship()
    m.ClearField("observed_at")
    assert (
        "observed_at is not set"
        in _rejection(names.SHIP_STATE_SUBJECT, m.SerializeToString()).reason
    )


def test_a_timestamp_outside_the_representable_range_is_rejected() -> None:
    m = _ship()
    m.observed_at.seconds = 10**12
    assert "out of range" in _rejection(names.SHIP_STATE_SUBJECT, m.SerializeToString()).reason


def test_a_transaction_needs_a_known_kind_and_a_non_negative_total() -> None:
    t = events_pb2.Transaction(
        event_id="6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b", agent="AGENT", total_price=10
    )
    t.timestamp.seconds = 1_767_614_400
    assert (
        "not a known transaction kind"
        in _rejection(names.TRANSACTION_SUBJECT, t.SerializeToString()).reason
    )
    t.kind = events_pb2.TRANSACTION_KIND_SELL
    t.total_price = -5
    assert (
        "total_price is negative"
        in _rejection(names.TRANSACTION_SUBJECT, t.SerializeToString()).reason
    )


@pytest.mark.parametrize("bad", [math.nan, math.inf, -1.0])
def test_a_request_log_with_an_impossible_duration_is_rejected(bad: float) -> None:
    r = events_pb2.RequestLog(
        event_id="6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b",
        agent="AGENT",
        endpoint="/my/agent",
        method="GET",
        priority=api_pb2.PRIORITY_CLASS_BACKGROUND,
        status=200,
        attempts=1,
        queued_ms=bad,
        outcome=api_pb2.CALL_OUTCOME_COMPLETED,
    )
    r.timestamp.seconds = 1_767_614_400
    assert (
        "queued_ms must be a finite"
        in _rejection(names.REQUEST_LOG_SUBJECT, r.SerializeToString()).reason
    )


def test_a_market_listing_a_good_twice_is_rejected() -> None:
    m = events_pb2.MarketObservation(
        event_id="6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b", waypoint_symbol="X1-AA-A1"
    )
    m.observed_at.seconds = 1_767_614_400
    m.goods.add(symbol="IRON_ORE")
    m.goods.add(symbol="IRON_ORE")
    assert "listed twice" in _rejection(names.MARKET_SUBJECT, m.SerializeToString()).reason
