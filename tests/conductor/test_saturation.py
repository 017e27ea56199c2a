"""Saturation control on a manual clock: the load from request-log calls, the sustained
saturation that pauses purchases and parks the lowest earners, the hold once the top class is
served again, and the headroom (below lower thresholds: hysteresis) that unparks them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from conductor.saturation import (
    Action,
    CallSample,
    Load,
    LoadMonitor,
    SaturationController,
    SaturationSection,
    sample_from_event,
)
from flotilla.clock import ManualClock
from flotilla.v1 import api_pb2, events_pb2

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
SETTINGS = SaturationSection(
    wait_threshold_seconds=2.0,
    utilisation_threshold=0.9,
    resume_wait_seconds=0.5,
    resume_utilisation=0.75,
    sustain_seconds=60,
    headroom_seconds=120,
    settle_seconds=30,
    park_step=1,
    park_fraction=0.0,
    min_running=1,
)
SATURATED = Load(top_class_wait=5.0, top_class_calls=40, requests=148, utilisation=0.99)
SERVED = Load(top_class_wait=1.0, top_class_calls=40, requests=140, utilisation=0.93)
HEADROOM = Load(top_class_wait=0.2, top_class_calls=20, requests=90, utilisation=0.6)
EARNINGS = {"S-1": 900.0, "S-2": 100.0, "S-3": 500.0, "S-4": 50.0}


def _running(controller: SaturationController) -> dict[str, float]:
    return {ship: cph for ship, cph in EARNINGS.items() if ship not in controller.parked}


def _step(
    controller: SaturationController, clock: ManualClock, load: Load, seconds: float
) -> list[Action]:
    """Advance `seconds` in steps of 5 s, deciding at each; the actions taken."""
    actions = []
    for _ in range(int(seconds // 5)):
        clock.advance(5)
        actions += [d.action for d in controller.decide(load, _running(controller))]
    return actions


def test_the_load_is_the_latest_windows_calls() -> None:
    monitor = LoadMonitor(SaturationSection(window_seconds=60, requests_per_minute=150))
    monitor.record(CallSample(at=0.0, priority="cooldown_start", queued_seconds=9.0, attempts=1))
    monitor.record(CallSample(at=50.0, priority="cooldown_start", queued_seconds=1.0, attempts=2))
    monitor.record(CallSample(at=70.0, priority="cooldown_start", queued_seconds=3.0, attempts=1))
    monitor.record(CallSample(at=80.0, priority="background", queued_seconds=30.0, attempts=72))
    load = monitor.load(100.0)  # the window is [40, 100]: the first call is out
    assert load.top_class_wait == pytest.approx(2.0)
    assert load.top_class_calls == 2
    assert load.requests == 75
    assert load.utilisation == pytest.approx(0.5)
    empty = monitor.load(1000.0)
    assert (empty.top_class_wait, empty.requests, empty.utilisation) == (None, 0, 0.0)


def test_a_request_log_event_becomes_a_sample() -> None:
    event = events_pb2.RequestLog(
        priority=api_pb2.PRIORITY_CLASS_COOLDOWN_START, queued_ms=2500.0, attempts=3
    )
    event.timestamp.FromSeconds(1_700_000_000)
    assert sample_from_event(event) == CallSample(1_700_000_000.0, "cooldown_start", 2.5, 3)


def test_brief_saturation_does_nothing() -> None:
    clock = ManualClock(START)
    controller = SaturationController(SETTINGS, clock)
    assert _step(controller, clock, SATURATED, 55) == []
    assert _step(controller, clock, SERVED, 10) == []  # the run of saturation is broken
    assert _step(controller, clock, SATURATED, 55) == []
    assert not controller.purchases_paused and controller.parked == {}


def test_a_high_wait_without_a_full_limit_is_not_saturation() -> None:
    clock = ManualClock(START)
    controller = SaturationController(SETTINGS, clock)
    slow_but_idle = Load(top_class_wait=10.0, top_class_calls=3, requests=30, utilisation=0.2)
    assert _step(controller, clock, slow_but_idle, 300) == []


def test_sustained_saturation_pauses_purchases_and_parks_the_lowest_earners_in_steps() -> None:
    clock = ManualClock(START)
    controller = SaturationController(SETTINGS, clock)
    # Saturated from the first decision (5 s) on: 60 s later, at 65 s, it has lasted long enough.
    assert _step(controller, clock, SATURATED, 60) == []
    actions = _step(controller, clock, SATURATED, 5)
    assert actions == [Action.PAUSE_PURCHASES, Action.PARK]
    assert controller.purchases_paused
    assert list(controller.parked) == ["S-4"]
    assert "50 credits per hour" in controller.parked["S-4"]
    # The next step waits until the first has settled (30 s), then takes the next lowest.
    assert _step(controller, clock, SATURATED, 25) == []
    assert _step(controller, clock, SATURATED, 5) == [Action.PARK]
    assert list(controller.parked) == ["S-4", "S-2"]
    # Never below min_running: S-1 keeps running however long saturation lasts.
    _step(controller, clock, SATURATED, 300)
    assert set(controller.parked) == {"S-4", "S-2", "S-3"}
    park = next(d for d in controller.decisions if d.action is Action.PARK)
    assert park.ships == ("S-4",)
    assert "top class wait 5.00 s" in park.reason and "utilisation 0.99" in park.reason
    assert (park.top_class_wait, park.utilisation) == (5.0, 0.99)
    assert park.at == START + timedelta(seconds=65)


def test_a_fraction_of_the_fleet_is_parked_per_step_when_that_is_more() -> None:
    clock = ManualClock(START)
    settings = SETTINGS.model_copy(update={"park_fraction": 0.5})
    controller = SaturationController(settings, clock)
    _step(controller, clock, SATURATED, 65)
    assert set(controller.parked) == {"S-4", "S-2"}  # half of four running ships


def test_once_the_top_class_is_served_parking_stops_and_parked_ships_stay() -> None:
    clock = ManualClock(START)
    controller = SaturationController(SETTINGS, clock)
    _step(controller, clock, SATURATED, 65)
    assert _step(controller, clock, SERVED, 600) == []
    assert list(controller.parked) == ["S-4"] and controller.purchases_paused


def test_headroom_unparks_the_best_earner_first_then_resumes_purchases() -> None:
    clock = ManualClock(START)
    controller = SaturationController(SETTINGS, clock)
    _step(controller, clock, SATURATED, 95)  # S-4 at 65 s, S-2 at 95 s
    assert list(controller.parked) == ["S-4", "S-2"]
    # Headroom must last 120 s from its first sight: a dip back to merely "served" restarts it.
    assert _step(controller, clock, HEADROOM, 120) == []
    assert _step(controller, clock, SERVED, 5) == []
    assert _step(controller, clock, HEADROOM, 120) == []
    assert _step(controller, clock, HEADROOM, 5) == [Action.UNPARK]
    assert list(controller.parked) == ["S-4"]  # S-2 earned more than S-4: out first
    assert _step(controller, clock, HEADROOM, 30) == [Action.UNPARK, Action.RESUME_PURCHASES]
    assert controller.parked == {} and not controller.purchases_paused
    assert [d.action for d in controller.decisions] == [
        Action.PAUSE_PURCHASES,
        Action.PARK,
        Action.PARK,
        Action.UNPARK,
        Action.UNPARK,
        Action.RESUME_PURCHASES,
    ]
    assert "headroom for 1" in controller.decisions[-1].reason


def test_forgotten_ships_leave_the_parked_set() -> None:
    clock = ManualClock(START)
    controller = SaturationController(SETTINGS, clock)
    _step(controller, clock, SATURATED, 65)
    controller.forget(["S-4", "S-9"])
    assert controller.parked == {}


def test_decisions_are_bounded_and_disabled_control_decides_nothing() -> None:
    clock = ManualClock(START)
    settings = SETTINGS.model_copy(update={"decisions_kept": 2, "settle_seconds": 0})
    controller = SaturationController(settings, clock)
    _step(controller, clock, SATURATED, 100)
    assert len(controller.decisions) == 2
    off = SaturationController(SETTINGS.model_copy(update={"enabled": False}), clock)
    assert _step(off, clock, SATURATED, 300) == []


def test_thresholds_must_leave_a_gap_for_hysteresis() -> None:
    with pytest.raises(ValidationError, match="resume_wait_seconds must be below"):
        SaturationSection(wait_threshold_seconds=1.0, resume_wait_seconds=1.0)
    with pytest.raises(ValidationError, match="resume_utilisation must be below"):
        SaturationSection(utilisation_threshold=0.8, resume_utilisation=0.9)


async def test_the_feed_reads_the_gateways_request_log_events(
    nats_url: str, eventually: Any
) -> None:
    import nats

    from conductor.saturation import RequestLogFeed
    from flotilla.names import REQUEST_LOG_SUBJECT
    from flotilla.topology import ensure_topology

    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await ensure_topology(js)
        monitor = LoadMonitor(SaturationSection())
        feed = RequestLogFeed(monitor)
        await feed.start(nc)
        for queued_ms in (1000.0, 3000.0):
            event = events_pb2.RequestLog(
                priority=api_pb2.PRIORITY_CLASS_COOLDOWN_START, queued_ms=queued_ms, attempts=1
            )
            event.timestamp.FromSeconds(1_000)
            await js.publish(REQUEST_LOG_SUBJECT, event.SerializeToString())
        await js.publish(REQUEST_LOG_SUBJECT, b"\xff not a message")
        await eventually(lambda: feed.received + feed.undecodable == 3, what="three events")
        assert (feed.received, feed.undecodable) == (2, 1)
        load = monitor.load(1_000.0)
        assert (load.top_class_wait, load.requests) == (2.0, 2)
        await feed.stop()
        await feed.stop()
    finally:
        await nc.close()
