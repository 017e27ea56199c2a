"""The dispatcher's small parts on their own: node names and settings, rendezvous hashing, the
ship model's change tracking, the clocks and timers, the local run's two nodes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dispatcher.declaration import local_nodes
from dispatcher.rendezvous import owner
from dispatcher.settings import DispatcherSettings, node_name
from dispatcher.ship import ShipModel
from dispatcher.timing import ManualTimers, ServerClock
from flotilla import names
from flotilla.client import models
from flotilla.clock import ManualClock
from flotilla.kit import LocalStack
from flotilla.settings import SettingsError, load_settings
from flotilla.v1 import events_pb2
from persister.contract import decode_event


def test_a_statefulset_pod_name_gives_its_ordinal() -> None:
    assert node_name("flotilla-dispatcher-2") == "2"
    assert node_name("release-x-dispatcher-010") == "10"
    assert node_name("U") == "U"
    with pytest.raises(ValueError):
        node_name("a.b")
    with pytest.raises(ValueError):
        node_name(" ")


def test_settings_refuse_renewals_too_slow_for_the_lease() -> None:
    with pytest.raises(SettingsError, match="FLOTILLA_DISPATCHER_LEASES_"):
        load_settings(
            DispatcherSettings,
            node="U",
            leases={"ttl_seconds": 4, "renew_interval_seconds": 2, "safety_margin_seconds": 1},
        )
    with pytest.raises(SettingsError, match="FLOTILLA_DISPATCHER_MEMBERSHIP_"):
        load_settings(
            DispatcherSettings, node="U", membership={"heartbeat_seconds": 3, "ttl_seconds": 4}
        )
    settings = load_settings(DispatcherSettings, node="flotilla-dispatcher-7")
    assert settings.node == "7"
    usable = settings.leases.ttl_seconds - settings.leases.safety_margin_seconds
    assert settings.leases.renew_interval_seconds * 2 <= usable


def test_rendezvous_moves_only_the_ships_a_new_node_wins() -> None:
    ships = [f"S-{i}" for i in range(3000)]
    before = {s: owner(s, ["0", "1"]) for s in ships}
    after = {s: owner(s, ["0", "1", "2"]) for s in ships}
    moved = [s for s in ships if before[s] != after[s]]
    assert all(after[s] == "2" for s in moved)  # nothing moves between the old nodes
    assert 800 < len(moved) < 1200  # about a third
    assert owner("S-1", []) is None
    assert owner("S-1", ["1", "0"]) == owner("S-1", ["0", "1"])  # order does not matter


def _nav(status: str, waypoint: str, arrival: datetime) -> models.ShipNav:
    point = {"symbol": waypoint, "type": "PLANET", "systemSymbol": "X1-T1", "x": 1, "y": 2}
    return models.ShipNav.model_validate(
        {
            "systemSymbol": "X1-T1",
            "waypointSymbol": waypoint,
            "status": status,
            "flightMode": "CRUISE",
            "route": {
                "origin": point,
                "destination": point,
                "departureTime": arrival.isoformat(),
                "arrival": arrival.isoformat(),
            },
        }
    )


def test_every_ship_event_and_snapshot_meets_the_persisters_contract() -> None:
    """The persister's contract is the oracle: a behaviour change is no part of `changed` (it
    rides on every event), so a ship whose behaviour changed is not dead-lettered."""
    clock = ManualClock()
    ship = ShipModel(symbol="S-1", agent="A")
    ship.apply_nav(_nav("IN_ORBIT", "X1-T1-A", clock.now()))
    ship.set_behaviour("mine")
    first = ship.take_changes(clock.time(), clock.now())
    assert first is not None and list(first.changed) == ["nav"] and first.behaviour == "mine"
    ship.set_behaviour("sell")
    only_behaviour = ship.take_changes(clock.time(), clock.now())
    assert only_behaviour is not None and list(only_behaviour.changed) == []
    assert only_behaviour.behaviour == "sell" and only_behaviour.version > first.version
    for event in (first, only_behaviour, ship.snapshot(clock.now())):
        decoded = decode_event(names.SHIP_STATE_SUBJECT, event.SerializeToString())
        assert isinstance(decoded.message, events_pb2.ShipState)
        assert decoded.message.behaviour == event.behaviour


def test_the_ship_model_publishes_only_what_changed_with_growing_versions() -> None:
    clock = ManualClock()
    ship = ShipModel(symbol="S-1", agent="A")
    ship.apply_nav(_nav("IN_ORBIT", "X1-T1-A", clock.now()))
    ship.apply_fuel(models.ShipFuel(current=10, capacity=100))
    first = ship.take_changes(clock.time(), clock.now())
    assert first is not None and list(first.changed) == ["fuel", "nav"]
    assert ship.take_changes(clock.time(), clock.now()) is None  # nothing new
    ship.apply_fuel(models.ShipFuel(current=10, capacity=100))  # the same again
    assert ship.take_changes(clock.time(), clock.now()) is None
    ship.apply_cargo(
        models.ShipCargo(capacity=40, units=5, inventory=[models.CargoItem(symbol="ORE", units=5)])
    )
    second = ship.take_changes(clock.time(), clock.now())
    assert second is not None and list(second.changed) == ["cargo"]
    assert second.version > first.version
    # A new owner continues from the snapshot: its next version is higher still.
    restored = ShipModel.from_snapshot(ship.snapshot(clock.now()))
    assert (restored.waypoint, restored.fuel, restored.inventory) == ("X1-T1-A", 10, {"ORE": 5})
    restored.apply_fuel(models.ShipFuel(current=9, capacity=100))
    third = restored.take_changes(clock.time(), clock.now())
    assert third is not None and third.version > second.version


def test_the_server_clock_bound_wakes_late_never_early() -> None:
    clock = ManualClock()
    server = ServerClock(clock)
    # The server's clock is 3 s ahead of ours; an answer took 0.2 s to come back.
    true_offset = 3.0
    handled_at = datetime.fromtimestamp(clock.time() + true_offset, UTC)
    clock.advance(0.2)
    server.observe(handled_at, clock.time())
    micro = 1e-5  # datetimes hold microseconds
    assert true_offset - 0.2 - micro <= server.offset() <= true_offset + micro
    expiration = datetime.fromtimestamp(clock.time() + true_offset + 60, UTC)
    wake = server.to_monotonic(expiration)
    # The cooldown really ends 60 s from now; the wake is at or after it, by at most 0.2 s.
    assert clock.monotonic() + 60 - micro <= wake <= clock.monotonic() + 60.2 + micro
    # A sample outside the window replaces a stale bound.
    clock.advance(601)
    server.observe(datetime.fromtimestamp(clock.time() + 1.0, UTC), clock.time())
    assert server.offset() == pytest.approx(1.0)


def test_manual_timers_fire_in_order_as_the_clock_moves() -> None:
    clock = ManualClock()
    timers = ManualTimers(clock)
    fired: list[str] = []
    timers.call_at(5, lambda: fired.append("five"))
    cancelled = timers.call_at(3, lambda: fired.append("three"))
    timers.call_at(1, lambda: fired.append("one"))
    cancelled.cancel()
    timers.advance(4)
    assert fired == ["one"] and clock.monotonic() == 4
    timers.advance_to(10)
    assert fired == ["one", "five"]
    assert timers.next_instant() is None


def test_the_local_run_starts_nodes_u_and_v(tmp_path: Path) -> None:
    stack = LocalStack(data_dir=tmp_path, nats_url="nats://x", database_url="postgresql://x")
    specs = local_nodes(stack)
    assert [s.args for s in specs] == [["dispatcher", "--node", "U"], ["dispatcher", "--node", "V"]]
    assert len({s.name for s in specs}) == 2
    assert all("FLOTILLA_DISPATCHER_AGENT" not in s.env for s in specs)
    stack.endpoints["agent"] = "FLOT-ABC123"  # the symbol the gateway registers
    assert {s.env["FLOTILLA_DISPATCHER_AGENT"] for s in local_nodes(stack)} == {"FLOT-ABC123"}


def test_an_arrival_in_the_past_means_arrived() -> None:
    clock = ManualClock()
    ship = ShipModel(symbol="S-1")
    ship.apply_nav(_nav("IN_TRANSIT", "X1-T1-B", clock.now() + timedelta(seconds=30)))
    assert ship.in_transit(clock.now())
    clock.advance(31)
    ship.arrived(clock.now())
    assert ship.status == "IN_ORBIT"


def test_settling_the_heap_collects_then_freezes_what_is_alive() -> None:
    import gc
    import weakref

    from dispatcher.heap import settle_heap

    class Node:
        def __init__(self) -> None:
            self.me = self  # a reference cycle: only the collector frees it

    kept = Node()
    garbage = Node()
    gone = weakref.ref(garbage)
    del garbage
    try:
        collected, frozen = settle_heap()
        assert gone() is None and collected >= 1  # collected first
        assert frozen == gc.get_freeze_count() > 0
        # What is alive sits in the permanent generation: later collections do not walk it.
        assert not any(o is kept for o in gc.get_objects())
        gc.collect()
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


def test_the_heap_keeper_freezes_what_survives_each_full_collection_and_settles_the_rest() -> None:
    import gc
    import weakref

    from dispatcher.heap import HeapKeeper, settle_heap

    class Node:
        def __init__(self) -> None:
            self.me = self

    keeper = HeapKeeper(resettle_seconds=60.0)
    gc.unfreeze()
    keeper.start()
    try:
        survivor = Node()
        garbage = Node()
        gone = weakref.ref(garbage)
        del garbage
        gc.collect(1)  # not a full collection: nothing is frozen
        assert keeper.freezes == 0 and any(o is survivor for o in gc.get_objects())
        gc.collect()  # a full one: the garbage is collected, what survived it is frozen
        assert gone() is None and keeper.freezes == 1
        assert not any(o is survivor for o in gc.get_objects())
        # A frozen cycle that becomes garbage later waits for the next settle.
        later = weakref.ref(survivor)
        del survivor
        gc.collect()
        assert later() is not None
        settle_heap()
        assert later() is None
        keeper.stop()  # hands the frozen objects back, and freezes no more
        assert gc.get_freeze_count() == 0
        gc.collect()
        assert keeper.freezes == 3 and gc.get_freeze_count() == 0
    finally:
        keeper.stop()
        gc.unfreeze()


async def test_the_heap_keeper_settles_the_heap_every_interval_until_stopped() -> None:
    import asyncio
    import gc
    import weakref

    from dispatcher.heap import HeapKeeper

    class Node:
        def __init__(self) -> None:
            self.me = self

    frozen_cycle = Node()
    gc.freeze()  # as if it had survived a full collection while the keeper ran
    try:
        collected = asyncio.Event()  # only a settle collects a frozen cycle
        later = weakref.ref(frozen_cycle, lambda _: collected.set())
        del frozen_cycle
        keeper = HeapKeeper(resettle_seconds=0.05)
        stopping = asyncio.Event()
        task = asyncio.create_task(keeper.run(stopping))
        await asyncio.wait_for(collected.wait(), 10)
        assert later() is None
        stopping.set()
        await asyncio.wait_for(task, 5)
    finally:
        gc.unfreeze()
