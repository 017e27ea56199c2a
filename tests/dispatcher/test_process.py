"""`python -m dispatcher` as a real process on real NATS: its help, a bad setting, its probes,
SIGTERM (every lease released, exit 0) and SIGKILL (its ships taken over by another node once
their leases lapse, with no manual reset).

No gateway runs here (these checks are about leases, membership and probes, which do not depend
on one), so the process's ship calls fail and are retried. The node that takes over runs in this
process on the FAKE API of `conftest.FakeGame`, which records who sent what; the same hand-over
with real processes, the gateway and the simulator is in `test_ownership.py`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import nats
import pytest
from nats.js import JetStreamContext

from dispatcher.declaration import SERVICE
from dispatcher.kvops import is_tombstone
from dispatcher.rendezvous import owner
from dispatcher.settings import DispatcherSettings
from flotilla import names
from flotilla.clock import SystemClock
from flotilla.kit import open_service
from flotilla.local_servers import free_port
from flotilla.settings import leaves
from flotilla.topology import ensure_topology
from flotilla.v1.cluster_pb2 import ShipLease
from flotilla.v1.fleet_pb2 import ShipAssignment

WAIT = 30.0
LEASE_TTL = 2  # as in conftest.fast_settings


def _dispatcher(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dispatcher", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_help_lists_every_setting() -> None:
    result = _dispatcher("--help")
    assert result.returncode == 0, result.stderr
    for leaf in leaves(DispatcherSettings):
        assert leaf.env in result.stdout.replace("\n", "").replace(" ", ""), leaf.env


def test_a_bad_value_names_its_variable() -> None:
    env = {**os.environ, "FLOTILLA_DISPATCHER_LEASES_TTL_SECONDS": "soon"}
    result = _dispatcher(env=env)
    assert result.returncode == 2
    assert "FLOTILLA_DISPATCHER_LEASES_TTL_SECONDS" in result.stderr
    assert "Traceback" not in result.stderr
    result = _dispatcher("--node", "a.b")
    assert result.returncode == 2 and "--node" in result.stderr and "Traceback" not in result.stderr


def _env(nats_url: str, node: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "FLOTILLA_NATS_URL": nats_url,
        "FLOTILLA_DISPATCHER_NODE": node,
        "FLOTILLA_PROBES_HOST": "127.0.0.1",
        "FLOTILLA_PROBES_PORT": str(port),
        "FLOTILLA_LOG_FORMAT": "text",
        "FLOTILLA_DISPATCHER_MEMBERSHIP_HEARTBEAT_SECONDS": "0.2",
        "FLOTILLA_DISPATCHER_MEMBERSHIP_TTL_SECONDS": "1",
        "FLOTILLA_DISPATCHER_LEASES_TTL_SECONDS": str(LEASE_TTL),
        "FLOTILLA_DISPATCHER_LEASES_RENEW_INTERVAL_SECONDS": "0.5",
        "FLOTILLA_DISPATCHER_LEASES_SAFETY_MARGIN_SECONDS": "0.5",
        "FLOTILLA_DISPATCHER_LEASES_ACQUIRE_INTERVAL_SECONDS": "0.2",
        "FLOTILLA_DISPATCHER_SHIPS_RETRY_MAX_SECONDS": "1",
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture
def process_factory() -> Iterator[Callable[[dict[str, str]], subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []

    def start(env: dict[str, str]) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dispatcher"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


async def _ready(port: int, proc: subprocess.Popen[str]) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"exited with {proc.returncode}: {proc.communicate()[0]}")
            try:
                answer = await client.get("/readyz")
                if answer.status_code == 200:
                    return dict(answer.json())
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("/readyz never answered 200")


async def _holder(js: JetStreamContext, ship: str) -> str | None:
    try:
        msg = await js.get_last_msg(
            f"KV_{names.LEASES_BUCKET}", f"$KV.{names.LEASES_BUCKET}.{ship}"
        )
    except nats.js.errors.NotFoundError:
        return None
    return None if is_tombstone(msg.headers) else ShipLease.FromString(msg.data or b"").node


async def _holders(js: JetStreamContext, ships: list[str]) -> list[str | None]:
    return [await _holder(js, ship) for ship in ships]


async def _until(check: Callable[[], Any], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within}s: {what}")
        await asyncio.sleep(0.05)


async def _assign(js: JetStreamContext, ships: list[str]) -> None:
    kv = await js.key_value(names.ASSIGNMENTS_BUCKET)
    for ship in ships:
        message = ShipAssignment(ship_symbol=ship, behaviour="probe", waypoint_symbol="X1-T1-MKT")
        await kv.put(ship, message.SerializeToString())


@pytest.mark.slow
async def test_probes_answer_and_sigterm_releases_every_lease(
    nats_url: str, process_factory: Any
) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await ensure_topology(js)
    ships = [f"P-{i}" for i in range(5)]
    await _assign(js, ships)
    port = free_port()
    proc = process_factory(_env(nats_url, "flotilla-dispatcher-3", port))
    try:
        ready = await _ready(port, proc)
        assert set(SERVICE.checks) <= set(ready["checks"])
        async with httpx.AsyncClient() as client:
            metrics = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
        assert "flotilla_dispatcher_ships_owned" in metrics
        # The pod name gave the node its ordinal: the leases are held by node "3".
        await _until(lambda: _all_held_by(js, ships, "3"), WAIT, "node 3 holds every lease")
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=WAIT)
        assert proc.returncode == 0, out
        assert "dispatcher stopped" in out and "Traceback" not in out
        # Released, not left to lapse: nobody holds them right after the exit.
        assert await _holders(js, ships) == [None] * len(ships)
        kv = await js.key_value(names.NODES_BUCKET)
        with pytest.raises(nats.js.errors.KeyNotFoundError):
            await kv.get("3")
    finally:
        await nc.close()


async def _all_held_by(js: JetStreamContext, ships: list[str], node: str) -> bool:
    return await _holders(js, ships) == [node] * len(ships)


@pytest.mark.slow
async def test_a_killed_nodes_ships_are_taken_over_when_its_leases_lapse(
    nats_url: str, process_factory: Any, fake_game_factory: Any, node_settings: Any
) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await ensure_topology(js)
    ships = [f"P-{i}" for i in range(12)]
    game = fake_game_factory(SystemClock())
    for ship in ships:
        game.add_ship(ship, waypoint="X1-T1-MKT", fuel=0, fuel_capacity=0, mounts=[])
    await _assign(js, ships)
    port = free_port()
    proc = process_factory(_env(nats_url, "K", port))
    try:
        await _ready(port, proc)
        async with open_service(
            SERVICE, node_settings(nats_url, "U"), seams={"transport": game}
        ) as u:
            both = {"K", "U"}
            k_share = [s for s in ships if owner(s, both) == "K"]
            assert k_share
            await _until(lambda: _all_held_by(js, k_share, "K"), WAIT, "K holds its share")
            proc.kill()  # no drain, no release: its leases must lapse by themselves
            killed = time.monotonic()
            proc.communicate()
            await _until(lambda: _all_held_by(js, k_share, "U"), LEASE_TTL + 2, "U takes K's ships")
            assert time.monotonic() - killed <= LEASE_TTL + 2
            await _until(lambda: _driven(game, k_share), WAIT, "U drives K's ships")
            assert set(u.exposed["ownership"].runners) == set(ships)
    finally:
        await nc.close()


async def _driven(game: Any, ships: list[str]) -> bool:
    return all(any(c.ship == s and c.node == "U" for c in game.calls) for s in ships)
