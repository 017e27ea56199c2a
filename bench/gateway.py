"""Benchmark: the gateway beside two baselines, in several network conditions, side by side.

Every scenario runs at once, each in a process of its own (as a gateway is deployed: not
sharing its event loop with the other scenarios' gateways and baselines), each contender
against its own simulator process (the real rate limit: 2 requests/s plus 30 per minute, per
address and account: 150 a minute at most):

* scenarios: one-way latency 20 ms, 100±30 ms and 300±90 ms (each way, drawn per request);
  a start on spent pools (another client emptied the address's pools just before); the
  gateway's wall clock stepped +1 s halfway; 2 % of requests faulted after the action ran
  (500, 502, 504 or the connection dropped, half each way) — the last three at 100±30 ms.
* contenders: the gateway (over NATS, priority scheduler, arrival-planned two-pool limiter);
  a FIFO queue behind `aiolimiter.AsyncLimiter(2, 1)`; a priority queue behind a token bucket
  of 2/s with a burst of 30. The baselines retry a 429 after its `retry-after`, nothing else.

All get the same workload at the same time: calls arriving at random (Poisson) at twice what
the limit allows, every call with a deadline. Per scenario and contender: requests per minute
the server allowed over the whole cycles of its limit the workload spanned (from its first
burst window opened to its last: where a fixed span cuts a burst window would decide how many
of its points count), answers per minute over the workload (but 429s), 429s, queue wait
p50/p99 per class, and writes applied twice (requests of state-changing writes the simulator
applied, from its own request counter, less the state-changing write calls the client may
have had applied once; must be 0).

    python bench/gateway.py            # the full run: about 7 minutes
    python bench/gateway.py --quick    # 45 s, to check it works
    python bench/gateway.py --minutes 10
    python bench/gateway.py --only 100± --only 300±
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import heapq
import json
import logging
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# Run as `python bench/gateway.py`, this file's folder comes first on the import path, and this
# file would shadow the `gateway` package it measures.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import httpx  # noqa: E402
import nats  # noqa: E402
from aiolimiter import AsyncLimiter  # noqa: E402

from flotilla.client import CallRequest, GatewayTransport  # noqa: E402
from flotilla.clock import SystemClock  # noqa: E402
from flotilla.kit import open_service  # noqa: E402
from flotilla.local_servers import NatsServer, free_port  # noqa: E402
from flotilla.semconv import (  # noqa: E402
    BACKGROUND,
    COOLDOWN_START,
    FLEET,
    SHIP_UNBLOCK,
    priority_name,
)
from flotilla.v1.api_pb2 import CallOutcome  # noqa: E402
from gateway.declaration import SERVICE  # noqa: E402
from gateway.endpoints import resolve  # noqa: E402
from gateway.service import SEAM_TRANSPORT_FACTORY  # noqa: E402
from gateway.settings import GatewaySettings  # noqa: E402
from gateway.upstream import default_transport  # noqa: E402

LIMIT_PER_MINUTE = 150.0
THIS_FILE = str(Path(__file__).resolve())
CLASSES = (COOLDOWN_START, SHIP_UNBLOCK, FLEET, BACKGROUND)
# Share of arrivals per class, and how long a call of that class may wait in a queue.
MIX = {COOLDOWN_START: 0.10, SHIP_UNBLOCK: 0.10, FLEET: 0.05, BACKGROUND: 0.75}
DEADLINE_SECONDS: dict[int, float] = {
    COOLDOWN_START: 30.0,
    SHIP_UNBLOCK: 30.0,
    FLEET: 60.0,
    BACKGROUND: 60.0,
}

# --- the workload ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Arrival:
    """One call of the workload: when it arrives, its class, and its request (with
    placeholders for the symbols each side's agent has)."""

    at: float
    priority: int
    method: str
    path: str
    body: dict[str, Any] | None = None
    query: dict[str, str] = field(default_factory=dict)

    def resolve(self, symbols: dict[str, str]) -> tuple[str, dict[str, Any] | None]:
        path = self.path.format(**symbols)
        if self.body is None:
            return path, None
        return path, json.loads(json.dumps(self.body).replace("{hq}", symbols["hq"]))


_CALLS: dict[int, list[tuple[str, str, dict[str, Any] | None]]] = {
    COOLDOWN_START: [
        ("POST", "/my/ships/{ship}/extract", None),
        ("POST", "/my/ships/{ship}/survey", None),
        ("POST", "/my/ships/{probe}/navigate", {"waypointSymbol": "{hq}"}),
    ],
    SHIP_UNBLOCK: [
        ("POST", "/my/ships/{ship}/orbit", None),
        ("POST", "/my/ships/{ship}/dock", None),
        ("POST", "/my/ships/{ship}/refuel", None),
        ("PATCH", "/my/ships/{ship}/nav", {"flightMode": "CRUISE"}),
    ],
    FLEET: [
        ("POST", "/my/contracts/{contract}/accept", None),
        ("POST", "/my/ships/{ship}/mounts/install", {"symbol": "MOUNT_MINING_LASER_I"}),
    ],
    BACKGROUND: [
        ("GET", "/my/agent", None),
        ("GET", "/my/ships", None),
        ("GET", "/systems/{system}/waypoints", None),
        ("GET", "/systems/{system}/waypoints/{hq}/market", None),
        ("GET", "/systems/{system}/waypoints/{yard}/shipyard", None),
        ("GET", "/my/ships/{ship}", None),
    ],
}


def build_workload(duration: float, per_second: float, seed: int) -> list[Arrival]:
    """Poisson arrivals at `per_second` for `duration` seconds, classes drawn from `MIX`."""
    rng = random.Random(seed)
    arrivals = []
    at = rng.expovariate(per_second)
    classes = list(MIX)
    weights = [MIX[c] for c in classes]
    while at < duration:
        priority = rng.choices(classes, weights)[0]
        method, path, body = rng.choice(_CALLS[priority])
        arrivals.append(Arrival(at, priority, method, path, body))
        at += rng.expovariate(per_second)
    return arrivals


# --- what each side measures -------------------------------------------------------------------


@dataclass
class Tally:
    """Per side: the requests on the wire and how each call fared."""

    sends: list[tuple[float, int]] = field(default_factory=list)  # (started, status)
    waits: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    expired: Counter[int] = field(default_factory=Counter)
    overloaded: Counter[int] = field(default_factory=Counter)
    answered: Counter[int] = field(default_factory=Counter)
    writes_sent: int = 0  # write calls that reached the API (at least one attempt not a 429)
    applied_writes: int = 0  # write requests the simulator applied (from its metrics)
    start: float = 0.0  # when the workload started on this side

    # The server's burst windows of this side's address: (opened, requests allowed until the
    # next one opened), on the simulator's monotonic clock (the machine's, as `start`).
    windows: list[tuple[float, int]] = field(default_factory=list)

    def requests_per_minute(self, start: float, end: float) -> float:
        answered = [s for t, s in self.sends if start <= t < end and s not in (0, 429)]
        return len(answered) / ((end - start) / 60.0)

    def whole_windows_per_minute(self, start: float, end: float) -> float | None:
        """Requests the server allowed a minute over the whole cycles of its limit that the
        workload spanned: from the first burst window opened after `start` to the last
        opened before `end` (None: fewer than two). Unlike a count over a fixed span, this
        does not depend on where the span cuts a burst window (a client that spends its burst
        points late in the window would lose them all to a cut just before)."""
        opened = [(t, n) for t, n in self.windows if start <= t <= end]
        if len(opened) < 2:
            return None
        span = opened[-1][0] - opened[0][0]
        return sum(n for _, n in opened[:-1]) / (span / 60.0)

    def rate_limited(self) -> int:
        return sum(1 for _, status in self.sends if status == 429)

    def to_json(self) -> dict[str, Any]:
        """What a scenario's process hands back to the one that prints the table."""
        return {
            "sends": self.sends,
            "waits": {str(c): v for c, v in self.waits.items()},
            "expired": {str(c): n for c, n in self.expired.items()},
            "overloaded": {str(c): n for c, n in self.overloaded.items()},
            "answered": {str(c): n for c, n in self.answered.items()},
            "writes_sent": self.writes_sent,
            "applied_writes": self.applied_writes,
            "start": self.start,
            "windows": self.windows,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Tally:
        def counts(key: str) -> Counter[int]:
            return Counter({int(c): int(n) for c, n in data[key].items()})

        tally = cls(
            sends=[(float(t), int(s)) for t, s in data["sends"]],
            expired=counts("expired"),
            overloaded=counts("overloaded"),
            answered=counts("answered"),
            writes_sent=int(data["writes_sent"]),
            applied_writes=int(data["applied_writes"]),
            start=float(data["start"]),
            windows=[(float(t), int(n)) for t, n in data["windows"]],
        )
        for c, waits in data["waits"].items():
            tally.waits[int(c)] = [float(w) for w in waits]
        return tally


class CountingTransport(httpx.AsyncBaseTransport):
    """Wraps a transport and records when each request went out and how it was answered."""

    def __init__(self, inner: httpx.AsyncBaseTransport, tally: Tally) -> None:
        self.inner = inner
        self.tally = tally

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        started = time.monotonic()
        try:
            response = await self.inner.handle_async_request(request)
        except httpx.TransportError:
            self.tally.sends.append((started, 0))
            raise
        self.tally.sends.append((started, response.status_code))
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


# --- the scenarios ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """A network condition: one-way latency (ms, ± a fraction), pools spent at the start, a
    wall-clock step of the gateway halfway, faults after the action."""

    name: str
    one_way_ms: float
    jitter: float = 0.3
    spent: bool = False
    clock_step: float = 0.0
    faulted: float = 0.0

    def simulator_args(self) -> list[str]:
        args = [
            f"--network-latency-in-ms={self.one_way_ms}",
            f"--network-latency-in-jitter={self.jitter}",
            f"--network-latency-out-ms={self.one_way_ms}",
            f"--network-latency-out-jitter={self.jitter}",
        ]
        if self.faulted:
            share = self.faulted / 4
            for kind in ("error-500", "error-502", "error-504", "drop"):
                args.append(f"--faults-after-{kind}-rate={share}")
        return args


SCENARIOS = (
    Scenario("20 ms", 20.0, jitter=0.0),
    Scenario("100±30 ms", 100.0),
    Scenario("300±90 ms", 300.0),
    Scenario("restart on spent pools", 100.0, spent=True),
    Scenario("clock step +1 s", 100.0, clock_step=1.0),
    Scenario("2 % faulted after the action", 100.0, faulted=0.02),
)
CONTENDERS = ("gateway", "FIFO + aiolimiter(2, 1)", "priority + bucket 2/s, 30")
WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")


# --- the servers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Simulator:
    """A simulator process: its API and its metrics."""

    url: str
    metrics_url: str

    def applied_writes(self) -> int:
        """Requests of state-changing writes the simulator applied: every one it answered but
        with 429 (the after-the-action faults ran the action, dropped ones included),
        registration left out. Orbit, dock and the flight mode are left out too: they are
        idempotent, and the gateway resends them like reads."""
        text = httpx.get(self.metrics_url, timeout=10).text
        total = 0
        for line in text.splitlines():
            if not line.startswith("flotilla_simulator_requests_total{"):
                continue
            labels, value = line.rsplit(" ", 1)
            method = re.search(r'method="([A-Z]+)"', labels)
            route = re.search(r'route="([^"]*)"', labels)
            if method is None or route is None or 'status="429"' in labels:
                continue
            path = re.sub(r"\{[^}]+\}", "x", route.group(1).removeprefix("/v2"))
            if path != "/register" and _changes_state(method.group(1), path):
                total += int(float(value))
        return total

    def burst_windows(self) -> list[tuple[float, int]]:
        """The burst windows of the address that sent the most requests (see `Tally`)."""
        answer = httpx.get(self.url.removesuffix("/v2") + "/admin/rate-limit", timeout=10)
        answer.raise_for_status()
        addresses: list[list[dict[str, Any]]] = list(answer.json()["data"]["addresses"].values())
        busiest = max(addresses, key=lambda ws: sum(w["requests"] for w in ws), default=[])
        return [(float(w["openedAt"]), int(w["requests"])) for w in busiest]

    async def spend_pools(self) -> None:
        """Empty the address's pools, as another client would (requests without a token,
        all at once: one after the other, the static pool would refill meanwhile)."""
        limits = httpx.Limits(max_connections=60)
        async with httpx.AsyncClient(timeout=10, limits=limits) as client:
            answers = await asyncio.gather(*(client.get(f"{self.url}/my/agent") for _ in range(60)))
        if 429 not in [a.status_code for a in answers]:
            raise RuntimeError("spending the pools got no 429")


@contextlib.contextmanager
def simulator_process(seed: int, args: list[str]) -> Iterator[Simulator]:
    """A simulator with the real rate limit in its own process."""
    port, probes = free_port(), free_port()
    env = {**os.environ, "FLOTILLA_LOG_LEVEL": "WARNING", "FLOTILLA_LOG_FORMAT": "text"}
    command = [sys.executable, "-m", "simulator", "--port", str(port), "--seed", str(seed)]
    command += ["--probes-host", "127.0.0.1", "--probes-port", str(probes), "--admin-enabled"]
    command += args
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        url = f"http://127.0.0.1:{port}/v2"
        health = url.removesuffix("/v2") + "/health"
        while True:
            if proc.poll() is not None:
                raise RuntimeError("a simulator exited at start")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(health, timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("a simulator does not answer")
            time.sleep(0.05)
        yield Simulator(url, f"http://127.0.0.1:{probes}/metrics")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- the gateway side --------------------------------------------------------------------------


class SteppedClock(SystemClock):
    """The machine's clocks, the wall clock stepped by `step` seconds once it is set."""

    def __init__(self) -> None:
        self.step = 0.0

    def time(self) -> float:
        return time.time() + self.step

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.step)


def _changes_state(method: str, path: str) -> bool:
    """A write that repeating would apply twice (the gateway's own endpoint table says which)."""
    return method in WRITE_METHODS and resolve(method, path).endpoint.changes_state


def _sent_write(arrival: Arrival, sent: bool) -> int:
    """1 for a state-changing write that may have reached the API once: the oracle allows it
    one application."""
    return int(sent and _changes_state(arrival.method, arrival.path))


@contextlib.asynccontextmanager
async def gateway_side(
    nats_url: str, base_url: str, tally: Tally, clock: SteppedClock, name: str
) -> AsyncIterator[Any]:
    """The gateway service as deployed (defaults: the real limits), started by the service kit
    on NATS in front of the simulator, its requests counted on the way out; yields a function
    that plays one arrival."""
    settings = GatewaySettings(
        nats_url=nats_url,
        spacetraders={"base_url": base_url},  # type: ignore[arg-type]
        registration={"symbol": name},  # type: ignore[arg-type]
        probes={"port": "off"},  # type: ignore[arg-type]
    )

    def counting(limits: httpx.Limits, local_address: str | None) -> httpx.AsyncBaseTransport:
        return CountingTransport(default_transport(limits, local_address), tally)

    seams = {SEAM_TRANSPORT_FACTORY: counting}
    async with open_service(SERVICE, settings, seams=seams, clock=clock) as running:
        # It serves calls once its agent is registered.
        deadline = time.monotonic() + 90
        while "service" not in running.exposed:
            if running.task.done():
                running.task.result()
                raise RuntimeError("the gateway stopped before it served calls")
            if time.monotonic() > deadline:
                raise RuntimeError("the gateway did not start serving calls")
            await asyncio.sleep(0.02)
        nc = await nats.connect(nats_url)
        try:
            transport = GatewayTransport(nc, agent=name)
            symbols = await _symbols_via_gateway(transport)

            async def play(arrival: Arrival) -> None:
                path, body = arrival.resolve(symbols)
                result = await transport.send(
                    CallRequest(
                        arrival.method,
                        path,
                        body=body,
                        query=arrival.query,
                        priority=arrival.priority,
                        deadline_seconds=DEADLINE_SECONDS[arrival.priority],
                    )
                )
                # A call whose last attempt died on the wire (status 0, outcome unknown) may
                # have been applied: it counts as sent.
                maybe = result.outcome == CallOutcome.CALL_OUTCOME_UNKNOWN
                if result.outcome == CallOutcome.CALL_OUTCOME_EXPIRED:
                    tally.expired[arrival.priority] += 1
                    sent = result.attempts > 0 and result.status not in (0, 429)
                elif result.outcome == CallOutcome.CALL_OUTCOME_OVERLOADED:
                    tally.overloaded[arrival.priority] += 1
                    sent = False
                else:
                    tally.answered[arrival.priority] += 1
                    tally.waits[arrival.priority].append(result.queued_ms / 1000)
                    sent = result.attempts > 0 and (result.status not in (0, 429) or maybe)
                tally.writes_sent += _sent_write(arrival, sent)

            yield play
        finally:
            await nc.drain()


async def _symbols_via_gateway(transport: GatewayTransport) -> dict[str, str]:
    async def data(path: str) -> Any:
        result = await transport.send(CallRequest("GET", path, deadline_seconds=120))
        return json.loads(result.json_body)["data"]

    return _symbols(await data("/my/agent"), await data("/my/ships"), await data("/my/contracts"))


def _symbols(agent: dict[str, Any], ships: list[Any], contracts: list[Any]) -> dict[str, str]:
    hq = agent["headquarters"]
    command = next(s for s in ships if s["registration"]["role"] == "COMMAND")
    probe = next((s for s in ships if s["symbol"] != command["symbol"]), command)
    return {
        "ship": command["symbol"],
        "probe": probe["symbol"],
        "hq": hq,
        "system": "-".join(hq.split("-")[:2]),
        "yard": probe["nav"]["waypointSymbol"],
        "contract": contracts[0]["id"] if contracts else "none",
    }


# --- the baselines -----------------------------------------------------------------------------


class TokenBucketQueue:
    """A priority queue behind a token bucket (2 tokens a second, at most 30 saved): the most
    urgent waiting call takes the next token."""

    def __init__(self, rate: float = 2.0, burst: int = 30) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._stamp = time.monotonic()
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def acquire(self, priority: int) -> None:
        """Wait for a token, served by priority then arrival."""
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        heapq.heappush(self._waiting, (priority, self._seq, future))
        self._wake.set()
        await future

    async def _run(self) -> None:
        while True:
            now = time.monotonic()
            self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now
            while self._waiting and self._waiting[0][2].done():
                heapq.heappop(self._waiting)
            if not self._waiting:
                self._wake.clear()
                await self._wake.wait()
                continue
            if self._tokens >= 1:
                self._tokens -= 1
                heapq.heappop(self._waiting)[2].set_result(None)
                continue
            await asyncio.sleep((1 - self._tokens) / self._rate)

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()


@contextlib.asynccontextmanager
async def baseline_side(base_url: str, tally: Tally, kind: str, name: str) -> AsyncIterator[Any]:
    """A typical bot's client: FIFO behind `AsyncLimiter(2, 1)` (`kind` "fifo"), or a priority
    queue behind a 2/s token bucket with a burst of 30 ("bucket"); a 429 is retried after its
    `retry-after`."""
    fifo = AsyncLimiter(2, 1)
    bucket = TokenBucketQueue()

    async def permit(priority: int) -> None:
        if kind == "fifo":
            await fifo.acquire()
        else:
            await bucket.acquire(priority)

    client = httpx.AsyncClient(
        base_url=base_url.rstrip("/") + "/",
        timeout=20.0,
        transport=CountingTransport(httpx.AsyncHTTPTransport(), tally),
    )
    try:
        for _ in range(10):
            await permit(0)
            registered = await client.post("register", json={"symbol": name, "faction": "COSMIC"})
            if registered.status_code != 429:
                break
            await asyncio.sleep(float(registered.headers.get("retry-after", "1")))
        client.headers["Authorization"] = f"Bearer {registered.json()['data']['token']}"

        async def data(path: str) -> Any:
            while True:
                await permit(0)
                response = await client.get(path.lstrip("/"))
                if response.status_code != 429:
                    return response.json()["data"]
                await asyncio.sleep(float(response.headers.get("retry-after", "1")))

        symbols = _symbols(
            await data("/my/agent"), await data("/my/ships"), await data("/my/contracts")
        )

        async def play(arrival: Arrival) -> None:
            path, body = arrival.resolve(symbols)
            arrived = time.monotonic()
            deadline = arrived + DEADLINE_SECONDS[arrival.priority]
            sent = False
            try:
                for attempt in range(6):
                    try:
                        async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                            await permit(arrival.priority)
                    except TimeoutError:
                        tally.expired[arrival.priority] += 1
                        return
                    if attempt == 0:
                        tally.waits[arrival.priority].append(time.monotonic() - arrived)
                    try:
                        response = await client.request(arrival.method, path.lstrip("/"), json=body)
                    except httpx.TransportError:
                        sent = True
                        break
                    if response.status_code != 429:
                        sent = True
                        break
                    await asyncio.sleep(float(response.headers.get("retry-after", "1")))
                tally.answered[arrival.priority] += 1
            finally:
                tally.writes_sent += _sent_write(arrival, sent)

        yield play
    finally:
        bucket.close()
        await client.aclose()


# --- running and reporting ---------------------------------------------------------------------


async def play_workload(
    play: Any, arrivals: list[Arrival], start: float, end: float, drain: float
) -> None:
    """Launch every arrival at its time; after `end`, let the calls still going finish (their
    deadlines end them) for up to `drain` seconds, so that every write sent is counted."""
    tasks: list[asyncio.Task[None]] = []
    for arrival in arrivals:
        delay = start + arrival.at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(play(arrival)))
    remaining = end + drain - time.monotonic()
    if remaining > 0:
        await asyncio.wait(tasks, timeout=remaining)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def report(arrivals: list[Arrival], duration: float, results: dict[tuple[str, str], Tally]) -> str:
    """One table: a row per scenario and contender."""
    demand = Counter(a.priority for a in arrivals)
    lines = [
        f"workload per contender: {len(arrivals)} calls in {duration:.0f} s "
        f"({len(arrivals) / duration * 60:.0f}/min asked, {LIMIT_PER_MINUTE:.0f}/min allowed): "
        + ", ".join(f"{priority_name(c)} {demand[c]}" for c in CLASSES),
        "req/min: requests the server allowed over the whole burst windows the workload spanned"
        " (from the first opened to the last: whole cycles of the limit); answered/min: answers"
        " to requests sent during the workload, but 429s, over its length",
        "queue wait p50/p99 in seconds, per class: " + ", ".join(priority_name(c) for c in CLASSES),
        "",
    ]
    columns = ["scenario", "contender", "req/min (of 150)", f"answered/min in {duration:.0f} s"]
    columns += ["429s"]
    columns += [f"wait {priority_name(c)}" for c in CLASSES] + ["writes applied twice"]
    rows = []
    for (scenario, contender), t in results.items():
        whole = t.whole_windows_per_minute(t.start, t.start + duration)
        per_minute = t.requests_per_minute(t.start, t.start + duration)
        cells = [scenario, contender, "-" if whole is None else f"{whole:.1f}"]
        cells += [f"{per_minute:.1f}", str(t.rate_limited())]
        cells += [
            f"{percentile(t.waits[c], 50):.2f}/{percentile(t.waits[c], 99):.2f}"
            if t.waits[c]
            else "-"
            for c in CLASSES
        ]
        cells.append(str(max(0, t.applied_writes - t.writes_sent)))
        rows.append(cells)
    widths = [max(len(r[i]) for r in [columns, *rows]) for i in range(len(columns))]
    lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)) + " |")
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines += [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows
    ]
    return "\n".join(lines)


async def run_scenario(
    scenario: Scenario,
    index: int,
    nats_url: str,
    arrivals: list[Arrival],
    plan: tuple[float, float, float],
    seed: int,
    results: dict[tuple[str, str], Tally],
) -> None:
    """The three contenders of one scenario, each on its own simulator, at the same time."""
    duration, drain, go = plan
    args = scenario.simulator_args()
    with contextlib.ExitStack() as stack:
        sims = [stack.enter_context(simulator_process(seed, args)) for _ in CONTENDERS]
        tallies = [Tally() for _ in CONTENDERS]
        clock = SteppedClock()
        if scenario.spent:
            # Another client empties the pools just before the contenders start (and set up:
            # registering is the first request each sends).
            await asyncio.sleep(max(0.0, go - time.monotonic()))
            for sim in sims:
                await sim.spend_pools()
        async with contextlib.AsyncExitStack() as sides:
            plays = [
                await sides.enter_async_context(
                    gateway_side(nats_url, sims[0].url, tallies[0], clock, f"GW-{index}")
                ),
                await sides.enter_async_context(
                    baseline_side(sims[1].url, tallies[1], "fifo", f"FIFO-{index}")
                ),
                await sides.enter_async_context(
                    baseline_side(sims[2].url, tallies[2], "bucket", f"PRIO-{index}")
                ),
            ]
            # The other scenarios start at the same instant, `go`, after the slowest set-up
            # and the pools' refill.
            await asyncio.sleep(max(0.0, go - time.monotonic()))
            start = time.monotonic()
            for tally in tallies:
                tally.start = start

            async def step_clock() -> None:
                await asyncio.sleep(duration / 2)
                clock.step = scenario.clock_step

            stepping = asyncio.create_task(step_clock())
            await asyncio.gather(
                *(play_workload(p, arrivals, start, start + duration, drain) for p in plays)
            )
            stepping.cancel()
        for sim, tally, contender in zip(sims, tallies, CONTENDERS, strict=True):
            tally.applied_writes = await asyncio.to_thread(sim.applied_writes)
            tally.windows = await asyncio.to_thread(sim.burst_windows)
            results[(scenario.name, contender)] = tally


async def scenario_process(
    index: int, duration: float, per_second: float, seed: int, go: float
) -> dict[str, dict[str, Any]]:
    """One scenario in this process (a process of its own, as the gateway is deployed): its
    own NATS server, its contenders' tallies as JSON."""
    arrivals = build_workload(duration, per_second, seed)
    results: dict[tuple[str, str], Tally] = {}
    drain = max(DEADLINE_SECONDS.values()) + 5
    scenario = SCENARIOS[index]
    with tempfile.TemporaryDirectory(prefix="flotilla-bench-") as tmp:
        # A NATS server per scenario: gateways on one server would share the call subject.
        server = NatsServer(Path(tmp) / "nats")
        server.start()
        try:
            await run_scenario(
                scenario, index, server.url, arrivals, (duration, drain, go), seed, results
            )
        finally:
            server.stop()
    return {contender: results[(scenario.name, contender)].to_json() for contender in CONTENDERS}


async def run(
    duration: float,
    per_second: float,
    seed: int,
    settle: float,
    scenarios: tuple[Scenario, ...] = SCENARIOS,
) -> str:
    """Every scenario in a process of its own, all at once (the monotonic clock is the
    machine's, so they share `go`); the table from what they hand back."""
    # Set-up (processes, registration) takes a while on a loaded machine: every scenario
    # starts its workload at the same moment, once the pools have refilled.
    go = time.monotonic() + 30.0 + settle
    print(
        f"{len(scenarios)} scenarios × {len(CONTENDERS)} contenders, {duration:.0f} s each, "
        f"a process per scenario, starting in {go - time.monotonic():.0f} s ...",
        file=sys.stderr,
        flush=True,
    )
    options = ["--duration", repr(duration), "--rate", repr(per_second), "--seed", str(seed)]
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            THIS_FILE,
            "--scenario-process",
            str(SCENARIOS.index(s)),
            "--go",
            repr(go),
            *options,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for s in scenarios
    ]
    try:
        outputs = await asyncio.gather(*(p.communicate() for p in procs))
    finally:
        for p in procs:
            if p.returncode is None:
                p.kill()
                await p.wait()
    results: dict[tuple[str, str], Tally] = {}
    for scenario, proc, (out, err) in zip(scenarios, procs, outputs, strict=True):
        if proc.returncode != 0:
            tail = err.decode(errors="replace").strip().splitlines()[-20:]
            raise RuntimeError(
                f"scenario {scenario.name!r} failed (exit {proc.returncode}):\n" + "\n".join(tail)
            )
        tallies = json.loads(out.decode().strip().splitlines()[-1])
        for contender in CONTENDERS:
            results[(scenario.name, contender)] = Tally.from_json(tallies[contender])
    return report(build_workload(duration, per_second, seed), duration, results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--minutes",
        type=float,
        default=4.0,
        help="minutes of workload (default 4: three whole burst windows)",
    )
    parser.add_argument("--quick", action="store_true", help="45 s of workload, no settling")
    parser.add_argument(
        "--rate",
        type=float,
        default=5.0,
        help="calls per second asked for (default 5: twice the 2.5/s the limit allows)",
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the workload (default 7)")
    parser.add_argument(
        "--only",
        metavar="TEXT",
        action="append",
        default=[],
        help="run only the scenarios whose name contains TEXT (repeatable; default: all of "
        + ", ".join(s.name.replace("%", "%%") for s in SCENARIOS)  # argparse formats help
        + ")",
    )
    # Internal: one scenario, run by the invocation above in a process of its own.
    parser.add_argument("--scenario-process", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--go", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--duration", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.scenario_process is not None:
        tallies = asyncio.run(
            scenario_process(args.scenario_process, args.duration, args.rate, args.seed, args.go)
        )
        print(json.dumps(tallies))
        return 0
    chosen = tuple(s for s in SCENARIOS if not args.only or any(t in s.name for t in args.only))
    if not chosen:
        parser.error(f"--only {' '.join(args.only)}: no scenario has that in its name")
    duration = 45.0 if args.quick else args.minutes * 60.0
    settle = 0.0 if args.quick else 61.0
    print(asyncio.run(run(duration, args.rate, args.seed, settle, chosen)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
