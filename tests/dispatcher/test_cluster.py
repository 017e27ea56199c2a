"""Dispatcher nodes together on a real NATS server: membership, rendezvous ownership, lease
exclusivity, hand-over on stop, take-over after a partition, and assignment changes.

Each node is started through `flotilla.kit.open_service`, as in production, several in one
process. The API side is the FAKE of `conftest.FakeGame`, so the many-node cases run in
seconds on one event loop: it records every call with the node that sent it, the fencing token
and the time, which is what the exclusivity checks read. `test_ownership.py` runs the same
properties with real processes, the gateway and the simulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import nats
import pytest
from nats.js import JetStreamContext

from dispatcher.declaration import SERVICE
from dispatcher.kvops import is_tombstone
from dispatcher.rendezvous import owner
from flotilla import names
from flotilla.clock import SystemClock
from flotilla.kit import RunningService, open_service
from flotilla.topology import ensure_topology
from flotilla.v1.cluster_pb2 import DeadLetter, ShipLease
from flotilla.v1.fleet_pb2 import ShipAssignment

MARKET = "X1-T1-MKT"
LEASE_TTL = 2  # as in conftest.fast_settings
WAIT = 15.0


async def eventually(condition: Callable[[], Any], within: float = WAIT, what: str = "") -> None:
    """Wait until `condition()` (or the awaitable it returns) is true, or fail."""
    deadline = time.monotonic() + within
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within}s: {what}")
        await asyncio.sleep(0.02)


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(nats_url)
    context = nc.jetstream()
    await ensure_topology(context)
    try:
        yield context
    finally:
        await nc.close()


async def assign(js: JetStreamContext, ship: str, behaviour: str, **params: str) -> None:
    kv = await js.key_value(names.ASSIGNMENTS_BUCKET)
    message = ShipAssignment(
        ship_symbol=ship, behaviour=behaviour, waypoint_symbol=MARKET, params=params
    )
    await kv.put(ship, message.SerializeToString())


async def lease_holder(js: JetStreamContext, ship: str) -> str | None:
    try:
        msg = await js.get_last_msg(
            f"KV_{names.LEASES_BUCKET}", f"$KV.{names.LEASES_BUCKET}.{ship}"
        )
    except nats.js.errors.NotFoundError:
        return None
    if is_tombstone(msg.headers):
        return None
    return ShipLease.FromString(msg.data or b"").node


async def _released(js: JetStreamContext, ship: str) -> bool:
    return await lease_holder(js, ship) is None


def owned(node: RunningService[Any, Any]) -> set[str]:
    return set(node.exposed["ownership"].runners)


def probes(game: Any, count: int) -> list[str]:
    ships = [f"P-{i}" for i in range(count)]
    for ship in ships:
        game.add_ship(ship, waypoint=MARKET, fuel=0, fuel_capacity=0, mounts=[])
    return ships


@pytest.fixture
def nodes(node_settings: Any) -> Callable[..., Any]:
    """`async with nodes(nats_url, game, "U", "V") as cluster`: nodes started by the kit."""
    return functools.partial(_nodes, node_settings)


@contextlib.asynccontextmanager
async def _nodes(
    node_settings: Any, nats_url: str, game: Any, *names_: str
) -> AsyncIterator[dict[str, RunningService[Any, Any]]]:
    async with contextlib.AsyncExitStack() as stack:
        running = {}
        for name in names_:
            running[name] = await stack.enter_async_context(
                open_service(SERVICE, node_settings(nats_url, name), seams={"transport": game})
            )
        for node in running.values():

            def started(node: Any = node) -> bool:
                return "ownership" in node.exposed

            await eventually(started, what="node started")
        yield running


def lease_changes(node: RunningService[Any, Any], change: str) -> float:
    """How many lease changes of kind `change` the node's metrics counted."""
    registry = node.ctx.registry.registry
    value = registry.get_sample_value("flotilla_dispatcher_leases_total", {"change": change})
    return float(value or 0.0)


def gauge(node: RunningService[Any, Any], name: str) -> float:
    """A gauge of the node's metrics, as a scrape would read it."""
    node.ctx.registry.exposition()  # runs the refreshers, as a scrape does
    value = node.ctx.registry.registry.get_sample_value(f"flotilla_dispatcher_{name}")
    return float(value or 0.0)


def turns(game: Any, ship: str) -> list[tuple[str, int, float, float]]:
    """The ship's tenures as the API saw them: (node, fencing token, first call, last call)."""
    out: list[tuple[str, int, float, float]] = []
    for call in (c for c in game.calls if c.ship == ship):
        if out and out[-1][:2] == (call.node, call.fence_token):
            out[-1] = (*out[-1][:3], call.at)
        else:
            out.append((call.node, call.fence_token, call.at, call.at))
    return out


def check_no_overlap(game: Any, ships: list[str]) -> dict[str, list[str]]:
    """No ship was ever driven by two nodes at once: its calls form tenures that never
    interleave (a tenure, once another began, never calls again) and whose fencing tokens
    strictly increase. Returns each ship's sequence of nodes."""
    sequences: dict[str, list[str]] = {}
    for ship in ships:
        tenures = turns(game, ship)
        tokens = [t[1] for t in tenures]
        assert len(set(tokens)) == len(tokens), (
            f"{ship}: a tenure came back after another: {tenures}"
        )
        assert tokens == sorted(tokens), (
            f"{ship}: a lower token acted after a higher one: {tenures}"
        )
        for before, after in itertools.pairwise(tenures):
            assert before[3] < after[2], f"{ship}: {before[0]} and {after[0]} overlapped"
        sequences[ship] = [t[0] for t in tenures]
    return sequences


async def test_three_nodes_share_the_ships_by_rendezvous(
    nats_url: str, js: JetStreamContext, fake_game_factory: Any, nodes: Any
) -> None:
    game = fake_game_factory(SystemClock())
    ships = probes(game, 30)
    for ship in ships:
        await assign(js, ship, "probe", interval_seconds="0.2")
    async with nodes(nats_url, game, "U", "V", "W") as cluster:
        live = {"U", "V", "W"}
        await eventually(
            lambda: all(n.exposed["membership"].live_nodes() == live for n in cluster.values()),
            what="every node sees three live nodes",
        )
        expected = {name: {s for s in ships if owner(s, live) == name} for name in live}
        await eventually(
            lambda: all(owned(cluster[name]) == expected[name] for name in live),
            what="each node owns exactly its rendezvous share",
        )
        assert all(expected[name] for name in live)  # 30 ships spread over all three
        for ship in ships[:5]:
            assert await lease_holder(js, ship) == owner(ship, live)
        await eventually(
            lambda: all(any(c.ship == s for c in game.calls) for s in ships),
            what="every ship driven",
        )
        # Nodes started one after the other, so early ships may have moved once; never back,
        # and each ends with its rendezvous owner.
        sequences = check_no_overlap(game, ships)
        assert all(order[-1] == owner(s, live) for s, order in sequences.items())
        # The ships' states came from one paged listing by one node (30 ships: 2 pages), not
        # from a look at each ship.
        listings = [c for c in game.calls if c.path == "/my/ships"]
        assert len(listings) == 2 and len({c.node for c in listings}) == 1
        looks = [(c.node, c.ship) for c in game.calls if c.action == "get_ship"]
        assert looks == []


async def test_a_stopped_node_hands_its_ships_over_within_an_acquire_interval(
    nats_url: str, js: JetStreamContext, fake_game_factory: Any, nodes: Any
) -> None:
    game = fake_game_factory(SystemClock())
    ships = probes(game, 12)
    for ship in ships:
        await assign(js, ship, "probe", interval_seconds="0.2")
    async with nodes(nats_url, game, "U") as first:
        u = first["U"]
        await eventually(lambda: owned(u) == set(ships), what="U owns every ship alone")
        async with nodes(nats_url, game, "V") as second:
            v = second["V"]
            both = {"U", "V"}
            share = {s for s in ships if owner(s, both) == "V"}
            assert share
            # Scaling out: U finishes each of V's ships' current step and releases it.
            await eventually(
                lambda: owned(v) == share and owned(u) == set(ships) - share,
                what="V takes its share",
            )
            before = time.monotonic()
        # V stopped (as on SIGTERM): it released every lease, so U has them back at once,
        # without waiting for any lease to lapse.
        released_within = time.monotonic() - before
        await eventually(
            lambda: owned(u) == set(ships), within=LEASE_TTL, what="U gets V's ships back"
        )
        assert time.monotonic() - before - released_within < LEASE_TTL
        for ship in share:
            assert await lease_holder(js, ship) == "U"
        await eventually(
            lambda: all(game.calls_of(s) and game.calls[-1] for s in share), what="driven again"
        )
    check_no_overlap(game, ships)


async def test_a_partitioned_node_stops_before_its_leases_lapse_and_is_taken_over(
    nats_url: str, js: JetStreamContext, fake_game_factory: Any, nodes: Any
) -> None:
    game = fake_game_factory(SystemClock())
    ships = probes(game, 10)
    for ship in ships:
        await assign(js, ship, "probe", interval_seconds="0.1")
    async with nodes(nats_url, game, "U", "V") as cluster:
        u, v = cluster["U"], cluster["V"]
        both = {"U", "V"}
        await eventually(
            lambda: owned(u) | owned(v) == set(ships) and not owned(u) & owned(v),
            what="the ships are shared",
        )
        u_share = {s for s in ships if owner(s, both) == "U"}
        await eventually(lambda: all(game.calls_of(s) for s in ships), what="every ship driven")
        # Cut U off from NATS, as a partition would: no heartbeat, no renewal reaches it.
        cut = time.monotonic()
        connection = await u.ctx.nats()
        await connection.close()
        # U stops driving its ships on its own, before its leases can lapse on the server.
        await eventually(lambda: not owned(u), within=LEASE_TTL, what="U stops its ships")
        u_last = max(c.at for c in game.calls if c.node == "U")
        assert u_last - cut < LEASE_TTL - 0.5 + 0.2  # the safety margin, give or take a tick
        # V sees U gone, takes U's ships once their leases lapse, within TTL + 2 s.
        await eventually(lambda: owned(v) == set(ships), within=LEASE_TTL + 2, what="V takes over")
        assert time.monotonic() - cut <= LEASE_TTL + 2
        await eventually(
            lambda: all(any(c.node == "V" and c.ship == s for c in game.calls) for s in u_share),
            what="V drives U's ships",
        )
        sequences = check_no_overlap(game, ships)
        assert all(sequences[s][-2:] == ["U", "V"] for s in u_share)
        # The metrics tell the same story: U lost each of its leases once, V acquired them all.
        assert lease_changes(u, "lost") == len(u_share)
        assert lease_changes(u, "released") == 0
        assert lease_changes(v, "acquired") == len(ships)
        assert gauge(v, "ships_owned") == len(ships)


async def test_assignments_change_what_a_ship_does(
    nats_url: str, js: JetStreamContext, fake_game_factory: Any, nodes: Any
) -> None:
    game = fake_game_factory(SystemClock())
    [ship] = probes(game, 1)
    async with nodes(nats_url, game, "U") as cluster:
        u = cluster["U"]
        await eventually(lambda: u.exposed["assignments"].synced.is_set())
        assert owned(u) == set()  # unassigned: not driven, no calls
        assert game.calls == []
        await assign(js, ship, "probe", interval_seconds="0.05")
        await eventually(lambda: len(game.calls_of(ship)) >= 3, what="the probe refreshes")
        await assign(js, ship, "idle")
        await eventually(lambda: u.exposed["ownership"].runners[ship].behaviour.name == "idle")
        quiet = len(game.calls)
        await assign(js, ship, "idle")  # the same work again changes nothing
        await asyncio.sleep(0)
        assert len(game.calls) == quiet
        kv = await js.key_value(names.ASSIGNMENTS_BUCKET)
        await kv.delete(ship)
        await eventually(lambda: owned(u) == set(), what="unassigned ship no longer driven")
        await eventually(lambda: _released(js, ship), what="and its lease released")
        # A bad assignment is refused with a reason, as a dead letter.
        await assign(js, ship, "dance")
        dead = await js.subscribe(
            names.dead_letter_subject(names.DISPATCHER_SOURCE),
            stream=names.DEAD_LETTER_STREAM,
            deliver_policy=nats.js.api.DeliverPolicy.ALL,
        )
        letter = DeadLetter.FromString((await dead.next_msg(timeout=WAIT)).data)
        assert "unknown behaviour 'dance'" in letter.reason
        assert owned(u) == set()
