"""Benchmark: the gateway against a typical bot's client, side by side, on the same workload.

Two simulators run with the real rate limit (2 requests/s plus 30 per minute, per address and
account: 150 a minute at most), each in its own process. One is played through the gateway
(over NATS, with its priority scheduler and two-pool limiter); the other through a baseline
that queues every call first-in-first-out behind `aiolimiter.AsyncLimiter(2, 1)`, as typical
bots do. Both get the same mixed workload at the same time: calls arriving at random (Poisson)
at about twice what the limit allows, for `--duration` seconds (default 180), every call with
a deadline (a call still waiting when its deadline passes is dropped without a request).

The table: requests per minute answered (against the 150 the limit allows), 429s, queue wait
p50/p99 per priority class, and expired calls.

    python bench/gateway.py               # the full run: about 3.5 minutes
    python bench/gateway.py --duration 20 # a quick smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Run as `python bench/gateway.py`, this file's folder comes first on the import path, and this
# file would shadow the `gateway` package it measures.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import httpx  # noqa: E402
import nats  # noqa: E402
from aiolimiter import AsyncLimiter  # noqa: E402

from flotilla.client import CallRequest, GatewayTransport  # noqa: E402
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
from gateway.service import SEAM_TRANSPORT_FACTORY  # noqa: E402
from gateway.settings import GatewaySettings  # noqa: E402
from gateway.upstream import default_transport  # noqa: E402

LIMIT_PER_MINUTE = 150.0
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

    def requests_per_minute(self, start: float, end: float) -> float:
        answered = [s for t, s in self.sends if start <= t < end and s not in (0, 429)]
        return len(answered) / ((end - start) / 60.0)

    def rate_limited(self) -> int:
        return sum(1 for _, status in self.sends if status == 429)


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


# --- the servers -------------------------------------------------------------------------------


@contextlib.contextmanager
def simulator_process(work: Path, name: str, seed: int) -> Iterator[str]:
    """A simulator with the real rate limit in its own process; yields its …/v2 URL."""
    port = free_port()
    env = {**os.environ, "FLOTILLA_LOG_LEVEL": "WARNING", "FLOTILLA_LOG_FORMAT": "text"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulator",
            "--port",
            str(port),
            "--seed",
            str(seed),
            "--probes-port",
            "off",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        url = f"http://127.0.0.1:{port}/v2"
        health = url.removesuffix("/v2") + "/health"
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"simulator {name} exited at start")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(health, timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"simulator {name} does not answer")
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- the gateway side --------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def gateway_side(nats_url: str, base_url: str, tally: Tally) -> AsyncIterator[Any]:
    """The gateway service as deployed (defaults: the real limits), started by the service kit
    on NATS in front of the simulator, its requests counted on the way out; yields a function
    that plays one arrival."""
    settings = GatewaySettings(
        nats_url=nats_url,
        spacetraders={"base_url": base_url},  # type: ignore[arg-type]
        registration={"symbol": "BENCH-GW"},  # type: ignore[arg-type]
        probes={"port": "off"},  # type: ignore[arg-type]
    )

    def counting(limits: httpx.Limits, local_address: str | None) -> httpx.AsyncBaseTransport:
        return CountingTransport(default_transport(limits, local_address), tally)

    async with open_service(SERVICE, settings, seams={SEAM_TRANSPORT_FACTORY: counting}) as running:
        # It serves calls once its agent is registered.
        deadline = time.monotonic() + 60
        while "service" not in running.exposed:
            if running.task.done():
                running.task.result()
                raise RuntimeError("the gateway stopped before it served calls")
            if time.monotonic() > deadline:
                raise RuntimeError("the gateway did not start serving calls")
            await asyncio.sleep(0.02)
        nc = await nats.connect(nats_url)
        try:
            transport = GatewayTransport(nc)
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
                if result.outcome == CallOutcome.CALL_OUTCOME_EXPIRED:
                    tally.expired[arrival.priority] += 1
                elif result.outcome == CallOutcome.CALL_OUTCOME_OVERLOADED:
                    tally.overloaded[arrival.priority] += 1
                else:
                    tally.answered[arrival.priority] += 1
                    tally.waits[arrival.priority].append(result.queued_ms / 1000)

            yield play
        finally:
            await nc.drain()


async def _symbols_via_gateway(transport: GatewayTransport) -> dict[str, str]:
    async def data(path: str) -> Any:
        result = await transport.send(CallRequest("GET", path, deadline_seconds=60))
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


# --- the baseline side -------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def baseline_side(base_url: str, tally: Tally) -> AsyncIterator[Any]:
    """A typical bot's client: one FIFO queue behind `AsyncLimiter(2, 1)`; a 429 is retried
    once after its `retry-after`."""
    limiter = AsyncLimiter(2, 1)
    client = httpx.AsyncClient(
        base_url=base_url.rstrip("/") + "/",
        timeout=20.0,
        transport=CountingTransport(httpx.AsyncHTTPTransport(), tally),
    )
    try:
        async with limiter:
            registered = await client.post(
                "register", json={"symbol": "BENCH-BASE", "faction": "COSMIC"}
            )
        client.headers["Authorization"] = f"Bearer {registered.json()['data']['token']}"

        async def data(path: str) -> Any:
            async with limiter:
                return (await client.get(path.lstrip("/"))).json()["data"]

        symbols = _symbols(
            await data("/my/agent"), await data("/my/ships"), await data("/my/contracts")
        )

        async def play(arrival: Arrival) -> None:
            path, body = arrival.resolve(symbols)
            arrived = time.monotonic()
            deadline = arrived + DEADLINE_SECONDS[arrival.priority]
            for attempt in range(2):
                try:
                    async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                        await limiter.acquire()
                except TimeoutError:
                    tally.expired[arrival.priority] += 1
                    return
                if attempt == 0:
                    tally.waits[arrival.priority].append(time.monotonic() - arrived)
                response = await client.request(arrival.method, path.lstrip("/"), json=body)
                if response.status_code != 429:
                    break
                await asyncio.sleep(float(response.headers.get("retry-after", "1")))
            tally.answered[arrival.priority] += 1

        yield play
    finally:
        await client.aclose()


# --- running and reporting ---------------------------------------------------------------------


async def play_workload(play: Any, arrivals: list[Arrival], start: float, end: float) -> None:
    """Launch every arrival at its time; at `end`, abandon the calls still waiting."""
    tasks: list[asyncio.Task[None]] = []
    for arrival in arrivals:
        delay = start + arrival.at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(play(arrival)))
    remaining = end - time.monotonic()
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


def report(
    arrivals: list[Arrival], duration: float, tallies: dict[str, Tally], start: float
) -> str:
    end = start + duration
    demand = Counter(a.priority for a in arrivals)
    lines = [
        f"workload: {len(arrivals)} calls in {duration:.0f} s "
        f"({len(arrivals) / duration * 60:.0f}/min asked, {LIMIT_PER_MINUTE:.0f}/min allowed): "
        + ", ".join(f"{priority_name(c)} {demand[c]}" for c in CLASSES),
        "",
    ]
    names = list(tallies)
    header = f"| {'':<34} | " + " | ".join(f"{n:<24}" for n in names) + " |"
    lines.append(header)
    lines.append("|" + "-" * 36 + "|" + "|".join("-" * 26 for _ in names) + "|")

    def row(label: str, cells: list[str]) -> None:
        lines.append(f"| {label:<34} | " + " | ".join(f"{c:<24}" for c in cells) + " |")

    row(
        "requests/min answered (of 150)",
        [
            f"{t.requests_per_minute(start, end):.1f} "
            f"({t.requests_per_minute(start, end) / LIMIT_PER_MINUTE:.1%})"
            for t in tallies.values()
        ],
    )
    row("429 answers", [str(t.rate_limited()) for t in tallies.values()])
    for c in CLASSES:
        row(
            f"queue wait p50 / p99, {priority_name(c)}",
            [
                f"{percentile(t.waits[c], 50):.2f} s / {percentile(t.waits[c], 99):.2f} s"
                if t.waits[c]
                else "- (none sent)"
                for t in tallies.values()
            ],
        )
    for c in CLASSES:
        row(
            f"expired calls, {priority_name(c)}",
            [f"{t.expired[c]} of {demand[c]}" for t in tallies.values()],
        )
    row("calls answered", [str(sum(t.answered.values())) for t in tallies.values()])
    return "\n".join(lines)


async def run(duration: float, per_second: float, seed: int, settle: float) -> str:
    arrivals = build_workload(duration, per_second, seed)
    gateway_tally, baseline_tally = Tally(), Tally()
    with tempfile.TemporaryDirectory(prefix="flotilla-bench-") as tmp:
        work = Path(tmp)
        nats_server = NatsServer(work / "nats")
        nats_server.start()
        try:
            with (
                simulator_process(work, "gateway", seed) as gateway_url,
                simulator_process(work, "baseline", seed) as baseline_url,
            ):
                async with (
                    gateway_side(nats_server.url, gateway_url, gateway_tally) as via_gateway,
                    baseline_side(baseline_url, baseline_tally) as via_baseline,
                ):
                    # Start with full pools on both sides (the set-up calls opened windows), so
                    # that over whole minutes the limit allows exactly 150 a minute.
                    if settle:
                        print(f"letting the pools refill ({settle:.0f} s) ...", file=sys.stderr)
                        await asyncio.sleep(settle)
                    start = time.monotonic()
                    end = start + duration
                    print(f"running {duration:.0f} s ...", file=sys.stderr, flush=True)
                    await asyncio.gather(
                        play_workload(via_gateway, arrivals, start, end),
                        play_workload(via_baseline, arrivals, start, end),
                    )
        finally:
            nats_server.stop()
    tallies = {
        "gateway": gateway_tally,
        "baseline (FIFO + aiolimiter)": baseline_tally,
    }
    return report(arrivals, duration, tallies, start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=180.0, help="seconds (default 180)")
    parser.add_argument(
        "--rate",
        type=float,
        default=5.0,
        help="calls per second asked for (default 5: twice the 2.5/s the limit allows)",
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the workload (default 7)")
    parser.add_argument(
        "--settle",
        type=float,
        default=None,
        help="seconds to let the rate-limit pools refill before the run (default: 61, or 1.2 "
        "for runs shorter than 2 minutes)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    settle = args.settle if args.settle is not None else (61.0 if args.duration >= 120 else 1.2)
    print(asyncio.run(run(args.duration, args.rate, args.seed, settle)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
