"""The full stack for the conductor's tests: real NATS and PostgreSQL (the fixtures of
tests/conftest.py), the simulator over real HTTP, the gateway and the conductor started by the
service kit (or as its own process, to be killed). No dispatcher runs: the ships stay where
they are, which is all purchasing needs (the starting probe is docked at a shipyard)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client as NatsClient

from flotilla import names
from flotilla.client import CallError, GatewayTransport, SpaceTradersClient
from flotilla.client.models import Ship
from flotilla.kit import RunningService, open_service
from flotilla.settings import load_settings
from flotilla.v1.fleet_pb2 import ShipAssignment

FAST = {
    "leader": {"ttl_seconds": 2, "renew_seconds": 0.5},
    "reconcile": {"interval_seconds": 0.3, "earnings_refresh_seconds": 0.5},
    "purchases": {"deadline_seconds": 5.0, "settle_seconds": 3.0, "list_deadline_seconds": 30.0},
}


async def wait_for(
    condition: Callable[[], Awaitable[bool]], within: float = 60.0, what: str = "condition"
) -> None:
    """Poll `condition` until it holds; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@dataclass
class Stack:
    """What a full-stack test talks to."""

    nats_url: str
    database_url: str
    nc: NatsClient
    api: SpaceTradersClient
    plan_dir: Path

    def conductor_settings(self, plan: str = "roles: []\n", **more: Any) -> Any:
        from conductor.settings import ConductorSettings

        path = self.plan_dir / f"plan-{time.monotonic_ns()}.yaml"
        path.write_text(plan)
        values: dict[str, Any] = {
            "nats_url": self.nats_url,
            "database": {"url": self.database_url},
            "probes": {"port": "off"},
            "plan": {"initial_file": str(path)},
            "api": {"port": 0},  # several conductors may run at once
            **FAST,
        }
        values.update(more)
        return load_settings(ConductorSettings, **values)

    @contextlib.asynccontextmanager
    async def conductor(
        self, plan: str = "roles: []\n", holder: str = "", **more: Any
    ) -> AsyncIterator[RunningService[Any, Any]]:
        from conductor.declaration import SERVICE as CONDUCTOR

        seams = {"holder": holder} if holder else {}
        async with open_service(CONDUCTOR, self.conductor_settings(plan, **more), seams=seams) as r:

            async def started() -> bool:
                return "conductor" in r.exposed and r.exposed["conductor"].agent != ""

            await wait_for(started, 60, "the conductor started")
            yield r

    async def ships(self) -> list[Ship]:
        """The fleet as the API lists it (through the gateway)."""
        return await self.api.all_ships(deadline=60)

    async def count(self, ship_type_frame: str) -> int:
        return sum(1 for s in await self.ships() if s.frame and s.frame.symbol == ship_type_frame)

    async def assignments(self) -> dict[str, ShipAssignment]:
        kv = await self.nc.jetstream().key_value(names.ASSIGNMENTS_BUCKET)
        out: dict[str, ShipAssignment] = {}
        try:
            keys = await kv.keys()
        except Exception:
            return out
        for key in keys:
            with contextlib.suppress(Exception):
                entry = await kv.get(key)
                if entry.value:
                    out[key] = ShipAssignment.FromString(entry.value)
        return out

    async def journal(self) -> bytes | None:
        kv = await self.nc.jetstream().key_value(names.CONDUCTOR_BUCKET)
        try:
            entry = await kv.get(names.CONDUCTOR_PURCHASE_KEY)
        except Exception:
            return None
        return entry.value or None


@contextlib.asynccontextmanager
async def full_stack(
    nats_url: str, database_url: str, plan_dir: Path, credits: int = 175_000, **faults: Any
) -> AsyncIterator[Stack]:
    """The simulator (with `faults`, agents starting with `credits`), a gateway against it and
    a NATS client."""
    from gateway.declaration import SERVICE as GATEWAY
    from gateway.settings import GatewaySettings
    from simulator.config import FaultSection, RateLimitSection, SimulatorConfig
    from simulator.server import running_simulator_async

    config = SimulatorConfig(
        time_scale=20,
        starting_credits=credits,
        rate_limit=RateLimitSection(enabled=False),
        faults=FaultSection(**faults),
    )
    async with running_simulator_async(config) as base_url:
        settings = load_settings(
            GatewaySettings,
            nats_url=nats_url,
            probes={"port": "off"},
            spacetraders={"base_url": base_url},
        )
        async with open_service(GATEWAY, settings) as gateway:
            nc = await nats.connect(nats_url)
            try:

                async def serving() -> bool:
                    return "service" in gateway.exposed

                await wait_for(serving, 30, "the gateway")
                api = SpaceTradersClient(GatewayTransport(nc))

                async def answering() -> bool:
                    try:
                        await api.get_agent(deadline=10)
                    except CallError:
                        return False
                    return True

                await wait_for(answering, 60, "the gateway answering for its agent")
                yield Stack(nats_url, database_url, nc, api, plan_dir)
            finally:
                await nc.drain()


async def start_process(stack: Stack, plan: str, holder: str) -> asyncio.subprocess.Process:
    """`python -m conductor` as production runs it, in its own process (to be killed)."""
    from conductor.settings import ConductorSettings
    from flotilla.settings import env_name

    path = stack.plan_dir / f"plan-{holder}.yaml"
    path.write_text(plan)
    env = {
        **os.environ,
        "FLOTILLA_NATS_URL": stack.nats_url,
        "FLOTILLA_DATABASE_URL": stack.database_url,
        "FLOTILLA_PROBES_PORT": "off",
        env_name(ConductorSettings, "plan", "initial_file"): str(path),
        env_name(ConductorSettings, "api", "port"): "0",
    }
    for section, values in FAST.items():
        for field, value in values.items():
            env[env_name(ConductorSettings, section, field)] = str(value)
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "conductor",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


def kill(process: asyncio.subprocess.Process) -> None:
    """SIGKILL: no drain, no lease released, nothing flushed."""
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGKILL)
