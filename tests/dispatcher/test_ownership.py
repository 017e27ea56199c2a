"""Ownership with real processes: three dispatcher nodes, the gateway and the simulator as
separate processes on a real NATS server, under churn (a node SIGKILLed, one started, one
SIGTERMed, one frozen with SIGSTOP past its lease and resumed) and scaling 1 → 3 → 1.

What is checked comes from the request log the gateway publishes to JetStream (one event per
call, with the sending node, the fencing token and the times), cross-checked against the
simulator's own count of the requests it answered, so that a fenced call that reached the API
would show:

- no ship is ever driven by two nodes: per ship, the spans of the tenures (node, token) whose
  calls went out never overlap;
- a frozen node's late calls are fenced, and none of its old tenure's calls goes out after the
  next owner has started;
- every ship is driven again (its new owner's first call reaches the gateway) within lease TTL
  + 2 s of its owner's death;
- scaling 1 → 3 → 1 spreads the ships by rendezvous and gathers them again.

The simulator runs with its rate limit off and a high time scale; the gateway's own limiter is
set low (a few requests per second for ten ships) on purpose, so that calls wait seconds in
its queue — as they do against the real API — and a dead or frozen node always has calls
queued there when its lease ends: those are the late actions fencing must stop.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats
import nats.js.errors
import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from dispatcher.kvops import is_tombstone
from dispatcher.rendezvous import owner
from flotilla import names
from flotilla.client import GatewayTransport, SpaceTradersClient
from flotilla.local_servers import free_port
from flotilla.topology import ensure_topology
from flotilla.v1.api_pb2 import CallOutcome
from flotilla.v1.cluster_pb2 import ShipLease
from flotilla.v1.events_pb2 import RequestLog
from flotilla.v1.fleet_pb2 import ShipAssignment

from .test_cluster import eventually
from .test_process import LEASE_TTL
from .test_process import _env as node_env

pytestmark = pytest.mark.slow

WAIT = 45.0
TAKEOVER = LEASE_TTL + 2.0  # the bound on "driven again after its owner's death"
SHIPS = 10
# The gateway's requests per second: ten ships queue for about three seconds each.
GATEWAY_RATE = 3

# The agent, and so the ship symbols (CHURN-2 … CHURN-B): every node of every membership the
# tests go through owns some of them by rendezvous, so no step's checks are left empty.
AGENT = "CHURN"

COMPLETED = CallOutcome.CALL_OUTCOME_COMPLETED
FENCED = CallOutcome.CALL_OUTCOME_FENCED


# --- processes --------------------------------------------------------------------------------


@dataclass
class Processes:
    """Child processes of the test, each logging to a file of its own."""

    folder: Path
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, module: str, env: dict[str, str], *args: str) -> None:
        log = (self.folder / f"{name}.log").open("ab")
        self.running[name] = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            env={**os.environ, "FLOTILLA_LOG_FORMAT": "text", "PYTHONUNBUFFERED": "1", **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def signal(self, name: str, sig: signal.Signals) -> None:
        self.running[name].send_signal(sig)

    def wait(self, name: str, within: float = WAIT) -> int:
        return self.running[name].wait(timeout=within)

    def close(self) -> None:
        for proc in self.running.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
                proc.wait()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(tmp_path)
    try:
        yield procs
    finally:
        procs.close()


async def until(condition: Callable[[], Any], what: str, within: float = WAIT) -> None:
    """Wait until `condition()` (or the awaitable it returns) is true, or fail."""
    await eventually(condition, within, what)


async def ready(procs: Processes, name: str, port: int) -> None:
    """Wait until the process answers `/readyz` with 200 on its probes port."""
    proc = procs.running[name]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:

        async def answered() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}:\n{procs.log(name)}")
            try:
                return (await client.get("/readyz")).status_code == 200
            except httpx.HTTPError:
                return False

        await until(answered, f"{name} ready")


# --- the request log --------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One request-log event, its times in wall-clock seconds."""

    ship: str
    node: str
    token: int
    outcome: int
    attempts: int
    arrived: float  # at the gateway
    sent: float  # the first byte on the wire (its arrival plus its queue wait)
    finished: float

    @property
    def went_out(self) -> bool:
        return self.attempts > 0


class RequestLogTap:
    """Every request-log event on JetStream, from the stream's start."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.attempts = 0

    async def start(self, js: JetStreamContext) -> None:
        await js.subscribe(names.REQUEST_LOG_SUBJECT, cb=self._on, ordered_consumer=True)

    async def _on(self, msg: Msg) -> None:
        event = RequestLog.FromString(msg.data)
        finished = event.timestamp.ToNanoseconds() / 1e9
        self.attempts += event.attempts
        self.calls.append(
            Call(
                ship=event.ship_symbol,
                node=event.node,
                token=event.fence_token,
                outcome=event.outcome,
                attempts=event.attempts,
                arrived=finished - (event.queued_ms + event.wire_ms) / 1000,
                sent=finished - event.wire_ms / 1000,
                finished=finished,
            )
        )

    def of(self, ship: str) -> list[Call]:
        return [c for c in self.calls if c.ship == ship and c.node]

    def driven_by(self, ship: str, node: str, after: float = 0.0) -> list[Call]:
        """The calls of `ship` that `node` sent and the API answered, arrived after `after`."""
        return [
            c
            for c in self.of(ship)
            if c.node == node and c.went_out and c.outcome == COMPLETED and c.arrived > after
        ]

    def first_arrival(self, ship: str, after: float, other_than: str) -> float | None:
        """When another node's first call for `ship` after `after` reached the gateway."""
        times = [c.arrived for c in self.of(ship) if c.node != other_than and c.arrived > after]
        return min(times, default=None)


def tenures(calls: list[Call]) -> dict[str, list[tuple[float, float, str, int]]]:
    """Per ship, the span of each tenure (node, token) from its first call on the wire to the
    end of its last, earliest first."""
    spans: dict[tuple[str, str, int], list[float]] = {}
    for c in calls:
        if not (c.node and c.went_out):
            continue
        span = spans.setdefault((c.ship, c.node, c.token), [c.sent, c.finished])
        span[0], span[1] = min(span[0], c.sent), max(span[1], c.finished)
    per_ship: dict[str, list[tuple[float, float, str, int]]] = defaultdict(list)
    for (ship, node, token), (start, end) in spans.items():
        per_ship[ship].append((start, end, node, token))
    return {ship: sorted(spans) for ship, spans in per_ship.items()}


def overlaps(calls: list[Call]) -> list[str]:
    """Every pair of tenures of one ship whose calls on the wire overlap in time."""
    found = []
    for ship, spans in tenures(calls).items():
        for (s1, e1, n1, t1), (s2, _, n2, t2) in itertools.pairwise(spans):
            if s2 < e1:
                found.append(f"{ship}: {n1}#{t1} [{s1:.3f}, {e1:.3f}] and {n2}#{t2} from {s2:.3f}")
    return found


# --- the cluster ------------------------------------------------------------------------------


@dataclass
class Cluster:
    """NATS, the simulator, the gateway and the dispatcher nodes of one test."""

    nats_url: str
    nc: NatsClient
    js: JetStreamContext
    procs: Processes
    tap: RequestLogTap
    simulator_probes: int
    ships: list[str] = field(default_factory=list)
    waypoint: str = ""

    def node_env(self, node: str) -> dict[str, str]:
        """A node's settings: test_process's fast ones, its probes off, short stop grace."""
        return {
            **node_env(self.nats_url, node, 0),
            "FLOTILLA_PROBES_PORT": "off",
            "FLOTILLA_DISPATCHER_SHIPS_RETRY_BASE_SECONDS": "0.1",
            "FLOTILLA_DISPATCHER_SHIPS_RETRY_MAX_SECONDS": "0.5",
            "FLOTILLA_DISPATCHER_SHIPS_STOP_GRACE_SECONDS": "1",
        }

    def start_node(self, node: str) -> None:
        self.procs.start(node, "dispatcher", self.node_env(node))

    async def holders(self) -> dict[str, str | None]:
        """Who holds each ship's lease now, read from the leases bucket."""
        held: dict[str, str | None] = {}
        for ship in self.ships:
            try:
                msg = await self.js.get_last_msg(
                    f"KV_{names.LEASES_BUCKET}", f"$KV.{names.LEASES_BUCKET}.{ship}"
                )
            except nats.js.errors.NotFoundError:
                held[ship] = None
                continue
            lease = ShipLease.FromString(msg.data or b"")
            held[ship] = None if is_tombstone(msg.headers) else lease.node
        return held

    async def tokens(self, node: str) -> dict[str, int]:
        """The token of each lease `node` holds now."""
        found: dict[str, int] = {}
        for ship in self.ships:
            msg = await self.js.get_last_msg(
                f"KV_{names.LEASES_BUCKET}", f"$KV.{names.LEASES_BUCKET}.{ship}"
            )
            if is_tombstone(msg.headers):
                continue
            lease = ShipLease.FromString(msg.data or b"")
            if lease.node == node:
                found[ship] = lease.token or int(msg.seq or 0)
        return found

    async def spread_over(self, nodes: set[str], since: float = 0.0) -> bool:
        """Every ship is held by its rendezvous owner among `nodes`, which has driven it since
        `since`."""
        held = await self.holders()
        return all(
            held[ship] == owner(ship, nodes)
            and self.tap.driven_by(ship, held[ship] or "", after=since)
            for ship in self.ships
        )

    async def simulator_requests(self) -> float:
        """Every request the simulator answered, from its own metrics."""
        async with httpx.AsyncClient(timeout=5) as client:
            text = (await client.get(f"http://127.0.0.1:{self.simulator_probes}/metrics")).text
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("flotilla_simulator_requests_total{")
        )


@pytest.fixture
async def cluster(nats_url: str, processes: Processes) -> AsyncIterator[Cluster]:
    """The simulator and the gateway running, SHIPS probes of the gateway's agent at one
    shipyard, each assigned to watch it; no dispatcher node yet."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await ensure_topology(js)
    tap = RequestLogTap()
    await tap.start(js)
    sim_port, sim_probes, gw_probes = free_port(), free_port(), free_port()
    processes.start(
        "simulator",
        "simulator",
        {
            "FLOTILLA_PROBES_HOST": "127.0.0.1",
            "FLOTILLA_PROBES_PORT": str(sim_probes),
            "FLOTILLA_SIMULATOR_PORT": str(sim_port),
            "FLOTILLA_SIMULATOR_RATE_LIMIT_ENABLED": "false",
            "FLOTILLA_SIMULATOR_TIME_SCALE": "100",
            "FLOTILLA_SIMULATOR_STARTING_CREDITS": "100000000",
        },
    )
    await ready(processes, "simulator", sim_probes)
    processes.start(
        "gateway",
        "gateway",
        {
            "FLOTILLA_NATS_URL": nats_url,
            "FLOTILLA_PROBES_HOST": "127.0.0.1",
            "FLOTILLA_PROBES_PORT": str(gw_probes),
            "FLOTILLA_SPACETRADERS_BASE_URL": f"http://127.0.0.1:{sim_port}/v2",
            "FLOTILLA_GATEWAY_RATE_LIMIT_STATIC": str(GATEWAY_RATE),
            "FLOTILLA_GATEWAY_RATE_LIMIT_BURST": "0",
            "FLOTILLA_GATEWAY_REGISTER_SYMBOL": AGENT,
        },
    )
    await ready(processes, "gateway", gw_probes)
    cluster = Cluster(nats_url, nc, js, processes, tap, sim_probes)
    try:
        await _buy_and_assign(cluster)
        yield cluster
    finally:
        await nc.close()


async def _buy_and_assign(cluster: Cluster) -> None:
    api = SpaceTradersClient(
        GatewayTransport(cluster.nc, reply_allowance_seconds=60), default_deadline_seconds=60
    )
    ships = await api.all_ships()
    # The starting probe is docked at a shipyard that sells probes: buy the rest there.
    probe = next(s for s in ships if s.registration.role == "SATELLITE")
    cluster.waypoint = probe.nav.waypoint_symbol
    bought = await asyncio.gather(
        *(api.buy_ship("SHIP_PROBE", cluster.waypoint) for _ in range(SHIPS - 1))
    )
    cluster.ships = [probe.symbol, *(b.ship.symbol for b in bought)]
    assert sorted(cluster.ships) == sorted(f"{AGENT}-{n:X}" for n in range(2, 2 + SHIPS))
    kv = await cluster.js.key_value(names.ASSIGNMENTS_BUCKET)
    for ship in cluster.ships:
        assignment = ShipAssignment(
            ship_symbol=ship, behaviour="probe", waypoint_symbol=cluster.waypoint
        )
        assignment.params["target"] = "shipyard"
        assignment.params["interval_seconds"] = "0.1"
        await kv.put(ship, assignment.SerializeToString())


async def _stop_all(cluster: Cluster, nodes: list[str]) -> None:
    """SIGTERM the nodes and the gateway (which flushes its request log), then wait until the
    request log accounts for every request the simulator answered."""
    for node in nodes:
        cluster.procs.signal(node, signal.SIGTERM)
    for node in nodes:
        assert cluster.procs.wait(node) == 0, cluster.procs.log(node)
    cluster.procs.signal("gateway", signal.SIGTERM)
    assert cluster.procs.wait("gateway") == 0, cluster.procs.log("gateway")

    async def accounted() -> bool:
        return cluster.tap.attempts == await cluster.simulator_requests()

    # A fenced call that was sent anyway would make the simulator's count the larger.
    await until(accounted, "every request the simulator answered is in the request log")


# --- the tests --------------------------------------------------------------------------------


async def test_no_ship_is_driven_by_two_nodes_under_churn(cluster: Cluster) -> None:
    tap = cluster.tap
    for node in ("U", "V", "W"):
        cluster.start_node(node)
    await until(lambda: cluster.spread_over({"U", "V", "W"}), "U, V and W drive their shares")

    # SIGKILL: no drain, no release; the ships are taken when the leases lapse.
    held = await cluster.holders()
    killed_ships = [s for s, n in held.items() if n == "U"]
    assert killed_ships
    cluster.procs.signal("U", signal.SIGKILL)
    killed = time.time()
    cluster.procs.wait("U")
    await until(lambda: cluster.spread_over({"V", "W"}, since=killed), "V and W take U's ships")
    for ship in killed_ships:
        taken = tap.first_arrival(ship, after=killed, other_than="U")
        assert taken is not None and taken - killed <= TAKEOVER, (ship, taken, killed)

    # A new node takes its share.
    cluster.start_node("X")
    await until(lambda: cluster.spread_over({"V", "W", "X"}, since=killed), "X takes its share")

    # SIGTERM: V drains, releases every lease, exits 0.
    held = await cluster.holders()
    drained_ships = [s for s, n in held.items() if n == "V"]
    assert drained_ships
    cluster.procs.signal("V", signal.SIGTERM)
    drained = time.time()
    assert cluster.procs.wait("V") == 0, cluster.procs.log("V")
    await until(lambda: cluster.spread_over({"W", "X"}, since=drained), "W and X take V's ships")
    for ship in drained_ships:
        taken = tap.first_arrival(ship, after=drained, other_than="V")
        assert taken is not None and taken - drained <= TAKEOVER, (ship, taken, drained)

    # SIGSTOP past the lease: W can neither renew nor notice; X takes everything, and W's
    # calls still queued at the gateway are refused as fenced.
    frozen_tokens = await cluster.tokens("W")
    assert frozen_tokens
    cluster.procs.signal("W", signal.SIGSTOP)
    frozen = time.time()
    await until(lambda: cluster.spread_over({"X"}, since=frozen), "X takes W's ships")
    for ship in frozen_tokens:
        taken = tap.first_arrival(ship, after=frozen, other_than="W")
        assert taken is not None and taken - frozen <= TAKEOVER, (ship, taken, frozen)

    def late(c: Call) -> bool:
        return c.node == "W" and frozen_tokens.get(c.ship) == c.token and c.arrived < frozen

    await until(
        lambda: any(late(c) and c.outcome == FENCED for c in tap.calls),
        "a call W queued before it froze is fenced",
    )
    cluster.procs.signal("W", signal.SIGCONT)
    resumed = time.time()
    await until(lambda: cluster.spread_over({"W", "X"}, since=resumed), "W takes its share back")

    await _stop_all(cluster, ["W", "X"])
    calls = tap.calls
    fenced = [c for c in calls if late(c) and c.outcome == FENCED]
    assert fenced and all(c.attempts == 0 for c in fenced)
    # None of W's old tenure's calls went out once X had started on the ship.
    for c in calls:
        if late(c) and c.went_out:
            taken = tap.first_arrival(c.ship, after=frozen, other_than="W")
            assert taken is not None and c.sent < taken, (c, taken)
    assert overlaps(calls) == []
    assert {c.node for c in calls if c.node} == {"U", "V", "W", "X"}


async def test_scaling_one_to_three_to_one_spreads_and_gathers_the_ships(cluster: Cluster) -> None:
    cluster.start_node("U")
    await until(lambda: cluster.spread_over({"U"}), "U drives every ship")

    scaled_up = time.time()
    cluster.start_node("V")
    cluster.start_node("W")
    await until(
        lambda: cluster.spread_over({"U", "V", "W"}, since=scaled_up), "the ships spread over 3"
    )
    shares = {node: sum(owner(s, {"U", "V", "W"}) == node for s in cluster.ships) for node in "UVW"}
    assert all(shares.values()), shares

    for node in ("V", "W"):
        cluster.procs.signal(node, signal.SIGTERM)
    scaled_down = time.time()
    for node in ("V", "W"):
        assert cluster.procs.wait(node) == 0, cluster.procs.log(node)
    await until(lambda: cluster.spread_over({"U"}, since=scaled_down), "U gathers every ship")

    await _stop_all(cluster, ["U"])
    assert overlaps(cluster.tap.calls) == []
