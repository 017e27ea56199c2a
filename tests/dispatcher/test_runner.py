"""A ship's task on the injected clock (`ManualClock` with `ManualTimers`: the task sleeps on
timers the test fires), against the FAKE API of `conftest.FakeGame`: API errors are handled by
type and never end the task; the ready → request delay is measured; a lapsed lease stops it."""

from __future__ import annotations

import asyncio
from typing import Any

from dispatcher.assignments import Assignment
from dispatcher.leases import Lease
from dispatcher.metrics import DispatcherMetrics
from dispatcher.runner import LOADS_AT_ONCE, FleetServices, ShipRunner
from dispatcher.timing import ServerClock
from flotilla.backoff import Backoff
from flotilla.metrics import MetricsRegistry
from flotilla.v1.api_pb2 import ApiResult, CallOutcome, ShipFence
from flotilla.v1.events_pb2 import ShipState

ASTEROID = "X1-T1-AST"


def _services(bench: Any, metrics: DispatcherMetrics, transport: Any = None) -> FleetServices:
    async def no_snapshot(symbol: str) -> None:
        return None

    return FleetServices(
        node="T",
        agent="FAKE",
        transport=transport or bench.game,
        world=bench.world,
        publisher=bench.recorder,
        clock=bench.clock,
        timers=bench.timers,
        server_clock=ServerClock(bench.clock),
        metrics=metrics,
        backoff=Backoff(1.0, 8.0),
        action_deadline=60,
        read_deadline=60,
        load_snapshot=no_snapshot,
        on_fenced=lambda ship: None,
    )


def _lease(ship: str, valid_until: float = float("inf")) -> Lease:
    return Lease(ship, 11, 11, valid_until, ShipFence(key=ship, token=11, epoch=5), b"")


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def _advance(bench: Any, seconds: float, step: float = 1.0) -> None:
    """Move the manual clock forward in steps, letting woken tasks run in between."""
    target = bench.clock.monotonic() + seconds
    while bench.clock.monotonic() < target:
        bench.timers.advance_to(min(target, bench.clock.monotonic() + step))
        await _settle()


def _metrics() -> DispatcherMetrics:
    return DispatcherMetrics(MetricsRegistry())


async def test_errors_are_handled_by_type_and_never_end_the_task(bench: Any) -> None:
    game = bench.game
    game.add_ship("M-1", waypoint=ASTEROID, status="DOCKED", cargo_capacity=1000)
    metrics = _metrics()
    runner = ShipRunner(
        _lease("M-1"), Assignment("M-1", "mine", ASTEROID), _services(bench, metrics)
    )
    expiration = "2025-01-01T00:00:30Z"
    game.fail_next(
        "extract",
        4000,
        {
            "cooldown": {
                "shipSymbol": "M-1",
                "totalSeconds": 70,
                "remainingSeconds": 30,
                "expiration": expiration,
            }
        },
        409,
    )
    runner.start()
    await _settle()
    # It looked at the ship once (no snapshot), orbited (it was docked), and met the cooldown.
    assert game.calls_of("M-1") == ["get_ship", "orbit", "extract"]
    await _advance(bench, 29)
    assert game.calls_of("M-1").count("extract") == 1  # waits the cooldown out
    await _advance(bench, 2)
    assert game.calls_of("M-1").count("extract") == 2
    # A call with no answer from the gateway, an unknown error, a ship the task thought in
    # orbit that was docked: each is handled and the ship goes on.
    game.fail_next("extract", 4236)  # not in orbit
    game.fail_next("extract", 4999)  # an error no behaviour knows
    await _advance(bench, 75)
    await _advance(bench, 75)
    await _advance(bench, 75)
    actions = game.calls_of("M-1")
    assert actions.count("extract") >= 5
    assert not runner.task.done()  # type: ignore[union-attr]
    errors = {s.labels["code"] for s in next(iter(metrics.errors.collect())).samples if s.value > 0}
    assert {"4000", "4236", "4999"} <= errors
    runner.request_stop()
    await _settle()
    assert runner.task.done()  # type: ignore[union-attr]


async def test_an_unknown_outcome_is_followed_by_one_look_at_the_ship(bench: Any) -> None:
    game = bench.game
    game.add_ship("M-1", waypoint=ASTEROID, cargo_capacity=1000)
    metrics = _metrics()
    calls: list[str] = []

    class Flaky:
        """Answers the second extract as the gateway does when it cannot know the outcome."""

        async def send(self, request: Any) -> ApiResult:
            calls.append(request.path)
            if request.path.endswith("/extract") and calls.count(request.path) == 2:
                return ApiResult(outcome=CallOutcome.CALL_OUTCOME_UNKNOWN, error_message="dropped")
            answer: ApiResult = await game.send(request)
            return answer

    runner = ShipRunner(
        _lease("M-1"), Assignment("M-1", "mine", ASTEROID), _services(bench, metrics, Flaky())
    )
    runner.start()
    await _settle()
    await _advance(bench, 71)
    await _settle()
    # get_ship at start; extract; the lost extract; a look at the ship, which shows that the
    # lost call never took effect (no cooldown), so it extracts again at once.
    assert [p.rsplit("/", 1)[-1] for p in calls] == ["M-1", "extract", "extract", "M-1", "extract"]
    runner.request_stop()
    await _settle()


async def test_the_ready_to_request_delay_is_measured_from_the_wake_instant(bench: Any) -> None:
    bench.game.add_ship("M-1", waypoint=ASTEROID, cargo_capacity=1000)
    metrics = _metrics()
    runner = ShipRunner(
        _lease("M-1"), Assignment("M-1", "mine", ASTEROID), _services(bench, metrics)
    )
    runner.start()
    await _settle()
    await _advance(bench, 70 * 3, step=70)
    samples = {s.name: s.value for s in next(iter(metrics.ready_delay.collect())).samples}
    assert samples["flotilla_dispatcher_ready_to_request_seconds_count"] >= 3
    # On the manual clock the request goes out at the very instant the ship became ready.
    assert samples["flotilla_dispatcher_ready_to_request_seconds_sum"] == 0
    runner.request_stop()
    await _settle()


async def test_a_ship_stops_before_its_lease_can_lapse(bench: Any) -> None:
    bench.game.add_ship("M-1", waypoint=ASTEROID, cargo_capacity=1000)
    lease = _lease("M-1", valid_until=bench.clock.monotonic() + 100)
    runner = ShipRunner(lease, Assignment("M-1", "mine", ASTEROID), _services(bench, _metrics()))
    runner.start()
    await _settle()
    await _advance(bench, 150, step=70)
    # Extractions at 0 and 70; at 140 the lease's local deadline (100) has passed: no call.
    assert bench.game.calls_of("M-1").count("extract") == 2
    assert runner.task.done()  # type: ignore[union-attr]


async def test_a_new_assignment_takes_effect_at_the_next_safe_point(bench: Any) -> None:
    bench.game.add_ship("M-1", waypoint=ASTEROID, cargo_capacity=1000)
    runner = ShipRunner(_lease("M-1"), None, _services(bench, _metrics()))
    runner.start()
    await _settle()
    assert bench.game.calls_of("M-1") == ["get_ship"]  # unassigned: idle, no calls after the look
    runner.assign(Assignment("M-1", "mine", ASTEROID))
    await _settle()
    assert bench.game.calls_of("M-1") == ["get_ship", "extract"]
    assert runner.behaviour.name == "mine"
    runner.assign(Assignment("M-1", "idle"))
    await _settle()
    await _advance(bench, 300, step=70)
    assert bench.game.calls_of("M-1") == ["get_ship", "extract"]
    runner.request_stop()
    await _settle()


async def test_a_fenced_call_stops_the_ship_at_once(bench: Any) -> None:
    bench.game.add_ship("M-1", waypoint=ASTEROID, cargo_capacity=1000)
    metrics = _metrics()
    told: list[str] = []

    class Fencing:
        """Answers as the gateway does once another node's higher token has been seen."""

        async def send(self, request: Any) -> ApiResult:
            if request.path.endswith("/extract"):
                return ApiResult(outcome=CallOutcome.CALL_OUTCOME_FENCED, error_message="fenced")
            answer: ApiResult = await bench.game.send(request)
            return answer

    services = _services(bench, metrics, Fencing())
    services.on_fenced = told.append
    runner = ShipRunner(_lease("M-1"), Assignment("M-1", "mine", ASTEROID), services)
    runner.start()
    await _settle()
    assert runner.task.done()  # type: ignore[union-attr]
    assert told == ["M-1"]
    fenced = [
        s.value
        for s in next(iter(metrics.leases.collect())).samples
        if s.labels.get("change") == "fenced" and s.name.endswith("_total")
    ]
    assert fenced == [1.0]


async def test_a_node_taking_many_ships_loads_them_a_few_at_a_time(bench: Any) -> None:
    in_flight: list[str] = []
    most = 0
    release = asyncio.Event()

    async def slow_snapshot(symbol: str) -> ShipState:
        nonlocal most
        in_flight.append(symbol)
        most = max(most, len(in_flight))
        await release.wait()
        in_flight.remove(symbol)
        return ShipState(ship_symbol=symbol, agent="FAKE", role="LOADED")

    services = _services(bench, _metrics())
    services.load_snapshot = slow_snapshot
    runners = [ShipRunner(_lease(f"S-{i}"), None, services) for i in range(3 * LOADS_AT_ONCE)]
    for runner in runners:
        runner.start()
    await _settle()
    assert most == LOADS_AT_ONCE == len(in_flight)
    assert not any(r.loaded for r in runners)
    release.set()
    for _ in range(20):
        await _settle()
        if all(r.control.ship.role == "LOADED" for r in runners) and not in_flight:
            break
    assert not in_flight and most == LOADS_AT_ONCE
    assert all(r.control.ship.role == "LOADED" and r.loaded for r in runners)  # all loaded
    assert all(not r.task.done() for r in runners)  # type: ignore[union-attr]
    for runner in runners:
        runner.request_stop()
    await _settle()
