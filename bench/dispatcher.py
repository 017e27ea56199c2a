"""Benchmark: one dispatcher node driving 1,000, 5,000 and 10,000 mining ships, next to the
operator's design (one blocking thread per ship) on the same workload, in the same run.

Per size, a fresh stack of processes started with the `flotilla <service>` commands: NATS, a
simulator (rate limit off, the seeding route on), a gateway (its limits lifted) and one
dispatcher node. The simulator seeds the agent with N mining drones, spread over the engineered
asteroid and the market that buys its ore (docked and empty, or in orbit at the asteroid with
0 to 12 units aboard, so that the ships do not all act in step); the bench writes a `mine`
assignment per ship and the market and the two waypoints into the shared world view (as the
conductor and a probe would), and the node does the rest. The baseline then plays the same
workload against a fresh simulator with one OS thread per ship: `time.sleep` until the
cooldown's end or the arrival, a "view ship" at the start of every cycle, blocking HTTP straight
to the simulator (no gateway), up to `--baseline-max-threads` threads.

The time scale is set per size so that the fleet asks for about `--rate` requests a second:
on a shared two-core machine the simulator and the gateway, not the node, bound what a second
can hold, and the figures below are per call and per ship, not per second. In a deployment a
node has its machine's cores to itself; here the processes it depends on (NATS, the simulator,
the gateway) run at niceness `--supporting-nice` (10), so that they take what the node leaves
of the two cores rather than hold the node up (0: all at the same priority).

Per side and size, measured over `--window` seconds after `--warmup`:

- resident memory per ship: RSS of the node's process with its ships, less RSS of a node with
  none (for the baseline, of its process before its threads start), over the ships;
- CPU milliseconds per API call: the node's user + system CPU time over the calls it sent in
  the window ("all"); and the same beyond the node's upkeep: after the window every ship is
  assigned `idle`, and once the calls have stopped the node's CPU over `--upkeep-window`
  seconds is its upkeep (leases renewed, membership, the views: what it costs to hold the
  ships, whatever they do), shown as CPU % per 1,000 ships; the mining window's CPU less the
  upkeep, over its calls, is what a call costs (the target is on that figure: on this
  machine the gateway and the simulator, not the node, bound the calls a second, so the
  "all" figure mostly divides a fixed upkeep by however many calls they let through);
- ready → request p50/p99: from a ship becoming ready (cooldown over, arrived) to its next
  request leaving (the node's `flotilla_dispatcher_ready_to_request_seconds`, interpolated in
  its buckets; the baseline's own timings);
- requests per mining cycle against the game's minimum: every request the simulator answered,
  against the calls a cycle cannot do without (each extraction that yielded, each sale, the two
  flights with the dock or orbit that changed the ship's state, and the refuels the fuel burnt
  needs: 12 of a 100-unit tank per flight here), per cycle (two flights).

    python bench/dispatcher.py                  # the full run: about 10 minutes
    python bench/dispatcher.py --sizes 1000     # a quick one
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

# Run as `python bench/dispatcher.py`, this file's folder comes first on the import path, and
# this file would shadow the `dispatcher` package it measures.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import httpx  # noqa: E402
import nats  # noqa: E402
from google.protobuf.message import Message  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from dispatcher.worldview import WorldView  # noqa: E402
from flotilla import names  # noqa: E402
from flotilla.client import CallRequest, GatewayTransport, models  # noqa: E402
from flotilla.clock import SystemClock  # noqa: E402
from flotilla.local_servers import NatsServer, free_port  # noqa: E402
from flotilla.topology import ensure_topology  # noqa: E402
from flotilla.v1.fleet_pb2 import ShipAssignment  # noqa: E402

SEED = 1
FACTION = "COSMIC"
SHIP_TYPE = "SHIP_MINING_DRONE"
# In universe seed 1, the COSMIC home X1-KS12: the engineered asteroid, and the outfitter
# station that buys every ore it yields (and sells fuel), 12 units of distance apart.
ASTEROID = "X1-KS12-B1"
MARKET = "X1-KS12-A3"
SYSTEM = "X1-KS12"
LEG_FUEL = 12
FUEL_CAPACITY = 100
# Requests per game second one ship of this workload asks for (a cycle: about three
# extractions of 70 s, two flights of 115 s, nine requests): what sets the time scale.
REQUESTS_PER_SHIP_GAME_SECOND = 9.3 / 440
TARGETS = {"kb_per_ship": 20.0, "cpu_ms_per_call": 1.0, "p99_ms": 50.0, "ratio": 1.05}


# --- processes ---------------------------------------------------------------------------------


def _flotilla(*args: str) -> list[str]:
    return [sys.executable, "-m", "flotilla.cli", *args]


@dataclass
class Process:
    """A service started as its `flotilla <service>` command, its output kept in `work`."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def check(self) -> None:
        if self.proc.poll() is not None:
            tail = self.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{self.name} exited ({self.proc.returncode}):\n{tail}")


# The niceness of the processes the measured side depends on (NATS, the simulator, the gateway):
# in a deployment a node has its machine's cores to itself, here it shares two with them.
SUPPORTING = {"nice": 10}  # `--supporting-nice`


def yield_cores(pid: int) -> None:
    """Lower every thread of process `pid` to the supporting niceness (threads it starts
    later inherit it), so that it runs on what the measured process leaves of the cores."""
    nice = SUPPORTING["nice"]
    if nice <= 0:
        return
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.setpriority(os.PRIO_PROCESS, int(task.name), nice)


@contextlib.contextmanager
def process(
    work: Path, name: str, args: list[str], env: dict[str, str], *, supporting: bool = False
) -> Iterator[Process]:
    log = work / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            args,
            env={**os.environ, "FLOTILLA_LOG_LEVEL": "WARNING", **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    if supporting:
        yield_cores(proc.pid)
    running = Process(name, proc, log)
    try:
        yield running
    finally:
        running.stop()


def wait_until_ok(url: str, proc: Process, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        proc.check()
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{proc.name} did not answer {url} in {timeout:.0f} s")
        time.sleep(0.1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` (and its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


@contextlib.contextmanager
def simulator(work: Path, name: str, time_scale: float) -> Iterator[tuple[str, str]]:
    """A simulator with the rate limit off and the seeding route on; yields its API base URL
    and its metrics URL."""
    port, probes = free_port(), free_port()
    args = _flotilla(
        "simulator",
        "--port",
        str(port),
        "--probes-port",
        str(probes),
        "--seed",
        str(SEED),
        "--time-scale",
        f"{time_scale:g}",
        "--no-rate-limit-enabled",
        "--admin-enabled",
    )
    with process(work, name, args, {}, supporting=True) as proc:
        root = f"http://127.0.0.1:{port}"
        wait_until_ok(f"{root}/health", proc)
        yield f"{root}/v2", f"http://127.0.0.1:{probes}/metrics"


def seed_fleet(api: str, agent: str, ships: int) -> list[str]:
    """Give `agent` the fleet: a sixth docked empty at the market, the rest in orbit at the
    asteroid with 0, 3, 6, 9 or 12 units of ore aboard (so that they do not act in step)."""
    loads = [{}, {"IRON_ORE": 3}, {"IRON_ORE": 6}, {"IRON_ORE": 6, "COPPER_ORE": 3}]
    loads += [{"IRON_ORE": 6, "COPPER_ORE": 6}]
    share = ships // (len(loads) + 1)
    groups: list[dict[str, Any]] = [
        {"waypoints": [MARKET], "status": "DOCKED", "cargo": {}, "count": ships - share * 5}
    ]
    groups += [
        {"waypoints": [ASTEROID], "status": "IN_ORBIT", "cargo": load, "count": share}
        for load in loads
    ]
    body = {"ships": [{"type": SHIP_TYPE, **g} for g in groups if g["count"]]}
    url = api.removesuffix("/v2") + f"/admin/agents/{agent}/ships"
    response = httpx.post(url, json=body, timeout=120)
    response.raise_for_status()
    created: list[list[str]] = response.json()["data"]["ships"]
    # Interleave the groups, so that any prefix of the list is a mix of them.
    longest = max(len(group) for group in created)
    return [group[i] for i in range(longest) for group in created if i < len(group)]


# --- reading metrics -----------------------------------------------------------------------------


def scrape(url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    text = httpx.get(url, timeout=30).text
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return samples


def total(samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **match: str) -> float:
    return sum(
        value
        for labels, value in samples.get(name, [])
        if all(labels.get(k) == v for k, v in match.items())
    )


def route_counts(metrics_url: str) -> Counter[str]:
    """Requests the simulator answered, by `route status` (and `all`)."""
    counts: Counter[str] = Counter()
    for labels, value in scrape(metrics_url).get("flotilla_simulator_requests_total", []):
        route = labels.get("route", "").rsplit("/", 1)[-1]
        counts[f"{route} {labels.get('status')}"] += int(value)
        counts["all"] += int(value)
    return counts


def histogram_quantile(buckets: list[tuple[float, float]], q: float) -> float:
    """The q-quantile of a cumulative histogram [(upper bound, count)], linear in a bucket."""
    buckets = sorted(buckets)
    count = buckets[-1][1] if buckets else 0
    if count <= 0:
        return math.nan
    rank = q * count
    lower, below = 0.0, 0.0
    for upper, cumulative in buckets:
        if cumulative >= rank:
            if math.isinf(upper):
                return lower
            inside = cumulative - below
            return lower + (upper - lower) * ((rank - below) / inside if inside else 0.0)
        lower, below = upper, cumulative
    return lower


def quantile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- one side's figures --------------------------------------------------------------------------


@dataclass
class Figures:
    """What one side reached at one size."""

    ships: int
    time_scale: float
    note: str = ""
    rss_per_ship: float = math.nan
    cpu_per_call: float = math.nan
    # CPU seconds per second the node spends on its ships with no calls (leases, membership,
    # views), and the CPU per call beyond that.
    upkeep_per_second: float = math.nan
    cpu_per_call_net: float = math.nan
    calls: int = 0
    seconds: float = 0.0
    p50: float = math.nan
    p99: float = math.nan
    per_cycle: float = math.nan
    minimum: float = math.nan
    extra: dict[str, Any] = field(default_factory=dict)

    def ratio(self) -> float:
        return self.per_cycle / self.minimum if self.minimum else math.nan


def cycle_figures(figures: Figures, before: Counter[str], after: Counter[str]) -> None:
    """Requests per cycle and the game's minimum for the same work, from the simulator's
    answers since the ships started (a cycle: two flights). The minimum: each extraction and
    sale, each flight with the dock or orbit that changed the ship's state, and the refuels the
    fuel burnt needs (those made, up to one per tank the flights emptied); reads, refused calls
    and extra refuels are above it."""
    delta = after - before
    flights = delta["navigate 200"]
    refuels = min(delta["refuel 200"], math.ceil(flights * LEG_FUEL / FUEL_CAPACITY))
    needed = (
        delta["extract 201"]
        + delta["sell 201"]
        + flights
        + delta["dock 200"]
        + delta["orbit 200"]
        + refuels
    )
    cycles = flights / 2
    figures.extra["calls by route"] = {k: v for k, v in sorted(delta.items()) if k != "all"}
    if cycles:
        figures.per_cycle = delta["all"] / cycles
        figures.minimum = needed / cycles


# --- the dispatcher side -------------------------------------------------------------------------


class _Collect:
    """A publisher that keeps what a `WorldView` would write, for the bench to put in KV."""

    def __init__(self) -> None:
        self.values: list[tuple[str, str, Message]] = []

    def event(self, subject: str, message: Message, event_id: str) -> None:
        pass

    def value(
        self, bucket: str, key: str, message: Message, *, ttl_seconds: int | None = None
    ) -> None:
        self.values.append((bucket, key, message))

    def delete(self, bucket: str, key: str) -> None:
        pass


async def prime(nats_url: str, ships: list[str], behaviour: str = "mine") -> None:
    """Assign every ship to mine the asteroid, and put the market and the two waypoints in the
    shared world view (as the conductor and a probe would)."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await ensure_topology(js)
        transport = GatewayTransport(nc)

        async def data(path: str) -> Any:
            result = await transport.send(CallRequest("GET", path, deadline_seconds=60))
            return json.loads(result.json_body)["data"]

        collect = _Collect()
        world = WorldView(None, collect, SystemClock(), node="bench")
        waypoints = [
            models.Waypoint.model_validate(await data(f"/systems/{SYSTEM}/waypoints/{w}"))
            for w in (ASTEROID, MARKET)
        ]
        world.record_waypoints(waypoints, "bench")
        market = models.Market.model_validate(
            await data(f"/systems/{SYSTEM}/waypoints/{MARKET}/market")
        )
        if not market.trade_goods:
            raise RuntimeError("the market shows no prices: no ship of the agent is there")
        world.record_market(market, SYSTEM)
        for bucket, key, message in collect.values:
            await (await js.key_value(bucket)).put(key, message.SerializeToString())
        await _assign(js, ships, behaviour)
    finally:
        await nc.drain()


async def _assign(js: Any, ships: list[str], behaviour: str) -> None:
    assignments = await js.key_value(names.ASSIGNMENTS_BUCKET)
    for start in range(0, len(ships), 500):
        await asyncio.gather(
            *(
                assignments.put(
                    ship,
                    ShipAssignment(
                        ship_symbol=ship, behaviour=behaviour, waypoint_symbol=ASTEROID
                    ).SerializeToString(),
                )
                for ship in ships[start : start + 500]
            )
        )


async def assign_all(nats_url: str, ships: list[str], behaviour: str) -> None:
    """Assign every ship `behaviour` (as the conductor would)."""
    nc = await nats.connect(nats_url)
    try:
        await _assign(nc.jetstream(), ships, behaviour)
    finally:
        await nc.drain()


async def agent_of(nats_url: str) -> str:
    nc = await nats.connect(nats_url)
    try:
        transport = GatewayTransport(nc)
        deadline = time.monotonic() + 60
        while True:
            result = await transport.send(CallRequest("GET", "/my/agent", deadline_seconds=30))
            if result.json_body:
                with contextlib.suppress(KeyError, ValueError):
                    return str(json.loads(result.json_body)["data"]["symbol"])
            if time.monotonic() > deadline:
                raise RuntimeError("the gateway does not answer /my/agent")
            await asyncio.sleep(0.2)
    finally:
        await nc.drain()


@contextlib.contextmanager
def gateway(work: Path, nats_url: str, api: str) -> Iterator[str]:
    """A gateway with its limits lifted; yields its metrics URL."""
    probes = free_port()
    args = _flotilla(
        "gateway",
        "--nats-url",
        nats_url,
        "--probes-port",
        str(probes),
        "--spacetraders-base-url",
        api,
        "--register-agent",
        "--register-symbol",
        "BENCH",
        "--register-faction",
        FACTION,
        # Limits off: the simulator enforces none, and the gateway's pools must not either.
        "--rate-limit-static",
        "1000000",
        "--rate-limit-burst",
        "0",
        "--rate-limit-burst-reserve",
        "0",
        "--http-max-in-flight",
        "64",
        "--queue-limit-cooldown-start",
        "50000",
        "--queue-limit-ship-unblock",
        "50000",
        "--queue-limit-background",
        "50000",
    )
    with process(work, "gateway", args, {}, supporting=True) as proc:
        wait_until_ok(f"http://127.0.0.1:{probes}/readyz", proc, timeout=90)
        yield f"http://127.0.0.1:{probes}/metrics"


@contextlib.contextmanager
def dispatcher_node(
    work: Path, nats_url: str, node: str, profile: Path | None = None
) -> Iterator[tuple[Process, str]]:
    probes = free_port()
    args = _flotilla("dispatcher", "--nats-url", nats_url, "--node", node)
    args += ["--probes-port", str(probes)]
    if profile is not None:
        # cProfile on CPU time (not wall time: the machine is shared), over the measured window
        # only: the first SIGUSR1 starts it, the second stops it and writes it out.
        code = (
            "import cProfile, runpy, signal, sys, time\n"
            f"sys.argv = {['flotilla', *args[3:]]!r}\n"
            "profile = cProfile.Profile(time.process_time)\n"
            "state = []\n"
            "import gc, json\n"
            "gc_times = {0: [0, 0.0, 0.0], 1: [0, 0.0, 0.0], 2: [0, 0.0, 0.0]}\n"
            "gc_start = [0.0]\n"
            "def on_gc(phase, info):\n"
            "    if phase == 'start':\n"
            "        gc_start[0] = time.perf_counter()\n"
            "    elif state:\n"
            "        spent = time.perf_counter() - gc_start[0]\n"
            "        row = gc_times[info['generation']]\n"
            "        row[0] += 1; row[1] += spent; row[2] = max(row[2], spent)\n"
            "gc.callbacks.append(on_gc)\n"
            "def toggle(*_):\n"
            "    if not state:\n"
            "        state.append(1)\n"
            "        profile.enable()\n"
            "    else:\n"
            "        profile.disable()\n"
            f"        profile.dump_stats({str(profile)!r})\n"
            f"        open({str(profile) + '.gc'!r}, 'w').write(json.dumps(gc_times))\n"
            "signal.signal(signal.SIGUSR1, toggle)\n"
            "runpy.run_module('flotilla.cli', run_name='__main__')\n"
        )
        args = [sys.executable, "-c", code]
    with process(work, f"dispatcher-{node}", args, {}) as proc:
        metrics = f"http://127.0.0.1:{probes}/metrics"
        wait_until_ok(f"http://127.0.0.1:{probes}/readyz", proc, timeout=90)
        yield proc, metrics


def _idle_rss(work: Path, nats_url: str, settle: float) -> int:
    """RSS of a node that owns no ships, once it serves."""
    with dispatcher_node(work, nats_url, "empty") as (proc, _):
        time.sleep(settle)
        return rss_bytes(proc.proc.pid)


def upkeep(
    figures: Figures,
    proc: Process,
    pid: int,
    metrics: str,
    gateway_metrics: str,
    symbols: list[str],
    nats_url: str,
    args: argparse.Namespace,
) -> None:
    """The node's own cost with the same ships: every ship assigned `idle` (no calls), then its
    CPU over a window once the calls have stopped and the gateway holds none of them any more
    (queued calls answered late, even as expired, would be counted as upkeep): leases renewed,
    membership, the views. What the mining window cost beyond that, over its calls, is the
    cost of a call."""
    sent_rate = figures.extra["dispatcher calls sent"] / figures.seconds
    asyncio.run(assign_all(nats_url, symbols, "idle"))
    deadline = time.monotonic() + 120
    last = total(scrape(metrics), "flotilla_dispatcher_requests_total")
    while time.monotonic() < deadline:  # until the calls have (almost) stopped
        proc.check()
        time.sleep(2.0)
        now = total(scrape(metrics), "flotilla_dispatcher_requests_total")
        quiet = (now - last) / 2.0 <= 0.01 * sent_rate
        last = now
        held = scrape(gateway_metrics)
        waiting = total(held, "flotilla_gateway_queue_depth") + total(
            held, "flotilla_gateway_in_flight"
        )
        if quiet and waiting == 0:
            break
    else:
        figures.note = "the calls had not stopped before the upkeep was measured"
    before = total(scrape(metrics), "flotilla_dispatcher_requests_total")
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(args.upkeep_window)
    cpu1, t1 = cpu_seconds(pid), time.monotonic()
    stray = total(scrape(metrics), "flotilla_dispatcher_requests_total") - before
    figures.upkeep_per_second = (cpu1 - cpu0) / (t1 - t0)
    figures.extra["calls during the upkeep window"] = stray
    mining = figures.extra["cpu seconds per second"]
    if sent_rate:
        figures.cpu_per_call_net = (mining - figures.upkeep_per_second) / sent_rate


def run_dispatcher(
    work: Path, ships: int, time_scale: float, args: argparse.Namespace, profile: Path | None
) -> Figures:
    figures = Figures(ships, time_scale)
    nats_server = NatsServer(work / "nats")
    nats_server.start()
    assert nats_server.proc is not None
    yield_cores(nats_server.proc.pid)
    try:
        with (
            simulator(work, "simulator", time_scale) as (api, sim_metrics),
            gateway(work, nats_server.url, api) as gateway_metrics,
        ):
            agent = asyncio.run(agent_of(nats_server.url))
            symbols = seed_fleet(api, agent, ships)
            idle = _idle_rss(work, nats_server.url, 2.0)
            asyncio.run(prime(nats_server.url, symbols, args.behaviour))
            with dispatcher_node(work, nats_server.url, "bench", profile) as (proc, metrics):
                pid = proc.proc.pid
                deadline = time.monotonic() + args.start_timeout
                started = time.monotonic()
                primed = route_counts(sim_metrics)["all"]
                while True:  # every ship owned, and as many calls answered as there are ships
                    proc.check()
                    owned = total(scrape(metrics), "flotilla_dispatcher_ships_owned")
                    answered = route_counts(sim_metrics)["all"] - primed
                    if owned >= ships and (answered >= ships or args.behaviour != "mine"):
                        break
                    if time.monotonic() > deadline:
                        figures.note = (
                            f"after {args.start_timeout:.0f} s only {owned:.0f} ships owned,"
                            f" {answered:.0f} calls answered"
                        )
                        break
                    time.sleep(1.0)
                figures.extra["start seconds"] = time.monotonic() - started
                started_sim = route_counts(sim_metrics)
                time.sleep(args.warmup)
                before_sim, before = route_counts(sim_metrics), scrape(metrics)
                if profile is not None:
                    proc.proc.send_signal(signal.SIGUSR1)
                cpu0, t0 = cpu_seconds(pid), time.monotonic()
                time.sleep(args.window)
                cpu1, t1 = cpu_seconds(pid), time.monotonic()
                if profile is not None:
                    proc.proc.send_signal(signal.SIGUSR1)
                after_sim, after = route_counts(sim_metrics), scrape(metrics)
                (work / "dispatcher-metrics.txt").write_text(httpx.get(metrics).text)
                (work / "simulator-metrics.txt").write_text(httpx.get(sim_metrics).text)
                rss = rss_bytes(pid)
                figures.seconds = t1 - t0
                figures.rss_per_ship = (rss - idle) / ships
                figures.extra["rss MB idle / with ships"] = (idle / 1e6, rss / 1e6)
                cycle_figures(figures, started_sim, after_sim)
                figures.calls = (after_sim - before_sim)["all"]
                sent = total(after, "flotilla_dispatcher_requests_total") - total(
                    before, "flotilla_dispatcher_requests_total"
                )
                figures.extra["dispatcher calls sent"] = sent
                figures.cpu_per_call = (cpu1 - cpu0) / sent if sent else math.nan
                figures.extra["cpu seconds per second"] = (cpu1 - cpu0) / (t1 - t0)
                name = "flotilla_dispatcher_ready_to_request_seconds_bucket"
                start = {lab["le"]: v for lab, v in before.get(name, [])}
                buckets = [
                    (float(lab["le"]), v - start.get(lab["le"], 0.0))
                    for lab, v in after.get(name, [])
                ]
                figures.p50 = histogram_quantile(buckets, 0.50)
                figures.p99 = histogram_quantile(buckets, 0.99)
                errors = {
                    f"{lab.get('code')}": v
                    for lab, v in after.get("flotilla_dispatcher_errors_total", [])
                    if v
                }
                figures.extra["dispatcher errors (whole run)"] = errors
                if args.behaviour == "mine" and not args.no_upkeep:
                    upkeep(
                        figures, proc, pid, metrics, gateway_metrics, symbols, nats_server.url, args
                    )
    finally:
        nats_server.stop()
    return figures


# --- the baseline: one blocking thread per ship --------------------------------------------------


def _parse(instant: str) -> float:
    return datetime.fromisoformat(instant.replace("Z", "+00:00")).timestamp()


class ThreadPerShip:
    """The operator's design: each ship is an OS thread that looks at its ship at the start of
    every cycle, mines until the hold is full (sleeping out each cooldown), flies to the market,
    docks, sells, refuels below half a tank, and flies back — blocking HTTP all the way."""

    def __init__(self, api: str, token: str) -> None:
        self.client = httpx.Client(
            base_url=api.rstrip("/") + "/",
            headers={"Authorization": f"Bearer {token}"},
            timeout=120.0,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=100),
        )
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.delays: list[tuple[float, float]] = []  # (sent at, delay)
        self.failures: Counter[str] = Counter()

    def _call(self, method: str, path: str, ready: float | None = None, **body: Any) -> Any:
        now = time.time()
        if ready is not None:
            with self.lock:
                self.delays.append((time.monotonic(), max(0.0, now - ready)))
        response = self.client.request(method, path, json=body or None)
        if response.status_code >= 400:
            with self.lock:
                self.failures[str(response.status_code)] += 1
            return None
        return response.json()["data"]

    def _sleep_until(self, instant: float) -> float:
        delay = instant - time.time()
        if delay > 0:
            time.sleep(delay)
        return instant

    def run(self, symbol: str) -> None:
        ship = f"my/ships/{symbol}"
        ready: float | None = None
        while not self.stop.is_set():
            data = self._call("GET", ship, ready)  # "view ship" at the start of every cycle
            ready = None
            if data is None:
                time.sleep(1)
                continue
            nav, cargo = data["nav"], data["cargo"]
            if nav["status"] == "IN_TRANSIT":
                ready = self._sleep_until(_parse(nav["route"]["arrival"]))
                continue
            if nav["waypointSymbol"] != ASTEROID:
                ready = self._fly(ship, nav["status"], ASTEROID, None)
                continue
            if (data.get("cooldown") or {}).get("remainingSeconds", 0) > 0:
                ready = self._sleep_until(_parse(data["cooldown"]["expiration"]))
            if nav["status"] != "IN_ORBIT":
                self._call("POST", f"{ship}/orbit", ready)
                ready = None
            while cargo["units"] < cargo["capacity"] and not self.stop.is_set():
                extracted = self._call("POST", f"{ship}/extract", ready)
                ready = None
                if extracted is None:
                    time.sleep(1)
                    continue
                cargo = extracted["cargo"]
                ready = self._sleep_until(_parse(extracted["cooldown"]["expiration"]))
            ready = self._fly(ship, "IN_ORBIT", MARKET, ready)
            self._call("POST", f"{ship}/dock", ready)
            for item in cargo["inventory"]:
                self._call("POST", f"{ship}/sell", symbol=item["symbol"], units=item["units"])
            fuel = data["fuel"]
            if (fuel["current"] - LEG_FUEL) * 2 < fuel["capacity"]:
                self._call("POST", f"{ship}/refuel")
            ready = self._fly(ship, "DOCKED", ASTEROID, None)

    def _fly(self, ship: str, status: str, destination: str, ready: float | None) -> float | None:
        if status != "IN_ORBIT":
            self._call("POST", f"{ship}/orbit", ready)
            ready = None
        flight = self._call("POST", f"{ship}/navigate", ready, waypointSymbol=destination)
        if flight is None:
            time.sleep(1)
            return None
        return self._sleep_until(_parse(flight["nav"]["route"]["arrival"]))


def baseline_worker(api: str, token: str, ships_file: Path, out: Path, max_threads: int) -> int:
    """Run the thread-per-ship baseline (in its own process) until SIGTERM; write its
    timings to `out`."""
    symbols = json.loads(ships_file.read_text())[:max_threads]
    fleet = ThreadPerShip(api, token)
    signal.signal(signal.SIGTERM, lambda *_: fleet.stop.set())
    threads: list[threading.Thread] = []
    stopped = ""
    for symbol in symbols:
        thread = threading.Thread(target=fleet.run, args=(symbol,), daemon=True)
        try:
            thread.start()
        except RuntimeError as exc:  # the system refuses more threads
            stopped = f"thread {len(threads) + 1}: {exc}"
            break
        threads.append(thread)
    print(json.dumps({"threads": len(threads), "stopped": stopped}), flush=True)
    fleet.stop.wait()
    with fleet.lock:
        result = {
            "threads": len(threads),
            "stopped": stopped,
            "delays": fleet.delays,
            "failures": dict(fleet.failures),
        }
    out.write_text(json.dumps(result))
    os._exit(0)  # the threads are blocked in sleeps and HTTP: do not wait for them


def run_baseline(work: Path, ships: int, time_scale: float, args: argparse.Namespace) -> Figures:
    figures = Figures(ships, time_scale)
    with simulator(work, "baseline-simulator", time_scale) as (api, sim_metrics):
        registered = httpx.post(
            f"{api}/register", json={"symbol": "BASELINE", "faction": FACTION}, timeout=30
        )
        registered.raise_for_status()
        token = registered.json()["data"]["token"]
        symbols = seed_fleet(api, "BASELINE", ships)
        ships_file, out = work / "baseline-ships.json", work / "baseline-out.json"
        ships_file.write_text(json.dumps(symbols))
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--baseline-worker",
            api,
            token,
            str(ships_file),
            str(out),
            str(args.baseline_max_threads),
        ]
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            pid = proc.pid
            time.sleep(0.5)
            idle = rss_bytes(pid)
            assert proc.stdout is not None
            started = json.loads(proc.stdout.readline() or "{}")
            threads = int(started.get("threads", 0))
            if started.get("stopped"):
                figures.note = f"stopped at {threads} threads ({started['stopped']})"
            elif threads < ships:
                figures.note = f"capped at {threads} threads"
            started_sim = route_counts(sim_metrics)
            deadline = time.monotonic() + args.start_timeout
            while route_counts(sim_metrics)["all"] - started_sim["all"] < threads:
                if time.monotonic() > deadline:
                    figures.note += f" (its first {threads} calls not answered in time)"
                    break
                time.sleep(1.0)
            time.sleep(args.warmup)
            before = route_counts(sim_metrics)
            cpu0, t0 = cpu_seconds(pid), time.monotonic()
            time.sleep(args.window)
            cpu1, t1 = cpu_seconds(pid), time.monotonic()
            after = route_counts(sim_metrics)
            rss = rss_bytes(pid)
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
            result = json.loads(out.read_text())
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        figures.seconds = t1 - t0
        figures.rss_per_ship = (rss - idle) / max(1, threads)
        figures.extra["rss MB idle / with ships"] = (idle / 1e6, rss / 1e6)
        figures.extra["threads"] = threads
        cycle_figures(figures, started_sim, after)
        figures.calls = (after - before)["all"]
        figures.cpu_per_call = (cpu1 - cpu0) / figures.calls if figures.calls else math.nan
        delays = [d for at, d in result["delays"] if t0 <= at <= t1]
        figures.p50, figures.p99 = quantile(delays, 0.50), quantile(delays, 0.99)
        figures.extra["failures (whole run)"] = result["failures"]
    return figures


# --- the table -----------------------------------------------------------------------------------


def _cell(value: float, fmt: str, target: float | None = None) -> str:
    if math.isnan(value):
        return "-"
    text = format(value, fmt)
    if target is not None:
        text += " ✓" if value <= target else " ✗"
    return text


def report(results: list[tuple[str, Figures]], rate: float) -> str:
    lines = [
        f"mining ships ({SHIP_TYPE}) between {ASTEROID} and {MARKET}; time scale set so the "
        f"fleet asks about {rate:.0f} requests/s; targets: ≤ {TARGETS['kb_per_ship']:.0f} KB "
        f"RSS/ship, ≤ {TARGETS['cpu_ms_per_call']:.0f} ms CPU/call, p99 ≤ "
        f"{TARGETS['p99_ms']:.0f} ms, ≤ {TARGETS['ratio']}× the minimum requests per cycle",
        "",
        "| side | ships | time scale | calls/s | RSS KB/ship | CPU ms/call (all)"
        " | CPU ms/call (beyond upkeep) | upkeep CPU % per 1,000 ships"
        " | ready→request p50 / p99 ms | requests/cycle (minimum) | × minimum | note |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for side, f in results:
        per_second = f.calls / f.seconds if f.seconds else math.nan
        lines.append(
            f"| {side} | {f.ships:,} | {f.time_scale:g} | {_cell(per_second, '.0f')} "
            f"| {_cell(f.rss_per_ship / 1024, '.1f', TARGETS['kb_per_ship'])} "
            f"| {_cell(f.cpu_per_call * 1000, '.2f')} "
            f"| {_cell(f.cpu_per_call_net * 1000, '.2f', TARGETS['cpu_ms_per_call'])} "
            f"| {_cell(f.upkeep_per_second * 100 * 1000 / f.ships, '.2f')} "
            f"| {_cell(f.p50 * 1000, '.1f')} / {_cell(f.p99 * 1000, '.1f', TARGETS['p99_ms'])} "
            f"| {_cell(f.per_cycle, '.2f')} ({_cell(f.minimum, '.2f')}) "
            f"| {_cell(f.ratio(), '.3f', TARGETS['ratio'])} | {f.note} |"
        )
    return "\n".join(lines)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--baseline-worker":
        api, token, ships_file, out, max_threads = sys.argv[2:7]
        return baseline_worker(api, token, Path(ships_file), Path(out), int(max_threads))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="1000,5000,10000", help="fleet sizes (default 1000,5000,10000)"
    )
    parser.add_argument(
        "--rate", type=float, default=200.0, help="requests/s the fleet asks for (default 200)"
    )
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds before measuring")
    parser.add_argument("--window", type=float, default=25.0, help="seconds measured per run")
    parser.add_argument(
        "--start-timeout",
        type=float,
        default=120.0,
        help="seconds for a node to start its ships (default 120)",
    )
    parser.add_argument(
        "--baseline-max-threads", type=int, default=10_000, help="cap of the baseline's threads"
    )
    parser.add_argument("--no-baseline", action="store_true", help="measure the node only")
    parser.add_argument("--no-dispatcher", action="store_true", help="measure the baseline only")
    parser.add_argument("--profile", type=Path, help="cProfile the node into this folder")
    parser.add_argument(
        "--behaviour", default="mine", help="the ships' behaviour (idle: the node's own cost)"
    )
    parser.add_argument(
        "--upkeep-window", type=float, default=10.0, help="seconds the idle upkeep is measured"
    )
    parser.add_argument("--no-upkeep", action="store_true", help="skip the upkeep phase")
    parser.add_argument(
        "--supporting-nice",
        type=int,
        default=SUPPORTING["nice"],
        help="niceness of NATS, the simulator and the gateway (default 10; 0: the node's)",
    )
    parser.add_argument("--keep", type=Path, help="keep logs and metrics in this folder")
    parser.add_argument("--details", action="store_true", help="print calls by route, errors")
    args = parser.parse_args()
    SUPPORTING["nice"] = args.supporting_nice
    results: list[tuple[str, Figures]] = []
    begun = time.monotonic()
    for size in [int(s) for s in args.sizes.split(",") if s.strip()]:
        scale = round(args.rate / (size * REQUESTS_PER_SHIP_GAME_SECOND), 2)
        with tempfile.TemporaryDirectory(prefix="flotilla-bench-") as tmp:
            work = Path(tmp)
            if args.keep is not None:
                work = args.keep / str(size)
                work.mkdir(parents=True, exist_ok=True)
            print(f"dispatcher, {size} ships, time scale {scale:g} ...", file=sys.stderr)
            profile = None
            if args.profile is not None:
                args.profile.mkdir(parents=True, exist_ok=True)
                profile = args.profile / f"dispatcher-{size}.prof"
            if not args.no_dispatcher:
                results.append(("dispatcher", run_dispatcher(work, size, scale, args, profile)))
            if not args.no_baseline:
                print(f"thread per ship, {size} ships ...", file=sys.stderr)
                results.append(("thread per ship", run_baseline(work, size, scale, args)))
        if args.details:
            for side, figures in results[-2:]:
                print(side, figures.ships, json.dumps(figures.extra, default=str), file=sys.stderr)
    print(report(results, args.rate))
    print(f"\n(run took {time.monotonic() - begun:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
