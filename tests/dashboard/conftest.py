"""The dashboard's browser tests: a whole stack against the simulator (gateway, persister, a
dispatcher node, all started through the kit on the tests' real NATS and PostgreSQL), the
dashboard served on a free local port, and headless Chromium (Debian's `chromium` package)
driven by Playwright. Every page records the requests it makes to any host other than
localhost; the tests assert there are none.

Until the conductor assigns ships, the stack fixture does what it would: it writes one
assignment per ship to the assignments bucket (the frigate mines the asteroid near
headquarters, the probe watches the market that buys ores, where the frigate sells), so that
the ships move, cool down and earn.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from conductor.web.app import dashboard_app, serving
from conductor.web.shared import SharedSource
from flotilla import names
from flotilla.client import GatewayTransport, GatewayUnavailable, SpaceTradersClient
from flotilla.db import migrate
from flotilla.db.pool import ConnectionPool, PoolSection, open_pool
from flotilla.kit import open_service
from flotilla.settings import load_settings
from flotilla.topology import ensure_topology
from flotilla.v1 import fleet_pb2

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = (
    "the dashboard's browser tests need Debian's Chromium at /usr/bin/chromium: "
    "apt-get install -y chromium chromium-driver"
)
TOKEN = "dashboard-test-token"
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "dashboard"
TIME_SCALE = 20.0  # cooldowns and flights 20 times faster than the game's


def _require_browser() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(INSTALL_HINT + " (.ci/run installs it)")
    pytest.skip(INSTALL_HINT)


async def eventually(
    condition: Callable[[], Awaitable[Any]], within: float = 60.0, what: str = ""
) -> Any:
    """Wait until `await condition()` is truthy (and answer it), or fail after `within`."""
    deadline = time.monotonic() + within
    while True:
        result = await condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within}s: {what}")
        await asyncio.sleep(0.1)


@dataclass
class Dashboard:
    """The dashboard under test and what stands behind it."""

    url: str  # the dashboard's base, e.g. http://127.0.0.1:PORT/dashboard
    nc: NatsClient
    js: JetStreamContext
    pool: ConnectionPool
    source: SharedSource
    ships: list[str] = field(default_factory=list)

    async def assignment(self, ship: str) -> fleet_pb2.ShipAssignment | None:
        """The ship's assignment as stored in the assignments bucket."""
        kv = await self.js.key_value(names.ASSIGNMENTS_BUCKET)
        try:
            entry = await kv.get(ship)
        except Exception:
            return None
        if not entry.value:
            return None
        assignment = fleet_pb2.ShipAssignment()
        assignment.ParseFromString(entry.value)
        return assignment


@contextlib.asynccontextmanager
async def dashboard_over(nats_url: str, database_url: str) -> AsyncIterator[Dashboard]:
    """The dashboard (its own app, on a free port) over the database and NATS."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await ensure_topology(js)
    pool = await open_pool(database_url, PoolSection(size=4), application_name="dashboard-test")
    source = SharedSource(pool, js)
    await source.start()
    try:
        async with serving(dashboard_app(source, write_token=TOKEN)) as base:
            yield Dashboard(f"{base}/dashboard", nc, js, pool, source)
    finally:
        await source.stop()
        await pool.close()
        await nc.drain()


@pytest.fixture
async def bare_dashboard(nats_url: str, database_url: str) -> AsyncIterator[Dashboard]:
    """The dashboard over a migrated, empty database and NATS (no other service)."""
    _require_browser()
    migrate.upgrade(database_url)
    async with dashboard_over(nats_url, database_url) as board:
        yield board


ORES = {"IRON_ORE", "COPPER_ORE", "ALUMINUM_ORE", "SILVER_ORE", "QUARTZ_SAND", "ICE_WATER"}
ORES |= {"SILICON_CRYSTALS", "PRECIOUS_STONES", "AMMONIA_ICE", "GOLD_ORE", "PLATINUM_ORE"}


async def _ore_market(api: SpaceTradersClient, system: str) -> str:
    """The market of `system` that buys the most kinds of what an asteroid yields."""
    listed = await api.list_waypoints(system, traits="MARKETPLACE")
    best, most = "", -1
    for waypoint in listed.items:
        market = await api.get_market(waypoint.symbol)
        buys = {g.symbol for g in [*market.imports, *market.exchange]} & ORES
        if len(buys) > most:
            best, most = waypoint.symbol, len(buys)
    return best


async def _assign(
    js: JetStreamContext,
    ship: str,
    behaviour: str,
    waypoint: str = "",
    params: dict[str, str] | None = None,
) -> None:
    kv = await js.key_value(names.ASSIGNMENTS_BUCKET)
    assignment = fleet_pb2.ShipAssignment(
        ship_symbol=ship,
        role=behaviour + "s",
        behaviour=behaviour,
        waypoint_symbol=waypoint,
        params=params or {},
    )
    assignment.assigned_at.GetCurrentTime()
    await kv.put(ship, assignment.SerializeToString())


@pytest.fixture
async def dashboard(nats_url: str, database_url: str) -> AsyncIterator[Dashboard]:
    """The whole stack against the simulator, its ships at work, and the dashboard over it."""
    _require_browser()
    from dispatcher.declaration import SERVICE as DISPATCHER
    from dispatcher.settings import DispatcherSettings
    from gateway.declaration import SERVICE as GATEWAY
    from gateway.settings import GatewaySettings
    from persister.declaration import SERVICE as PERSISTER
    from persister.settings import PersisterSettings
    from simulator.config import SimulatorConfig
    from simulator.server import running_simulator_async

    migrate.upgrade(database_url)
    config = SimulatorConfig(time_scale=TIME_SCALE)
    async with running_simulator_async(config) as base_url:
        gateway = load_settings(
            GatewaySettings,
            nats_url=nats_url,
            probes={"port": "off"},
            spacetraders={"base_url": base_url},
        )
        persister = load_settings(
            PersisterSettings,
            nats_url=nats_url,
            database={"url": database_url},
            batch={"size": 100, "max_wait_seconds": 0.1},
            probes={"port": "off"},
        )
        async with (
            open_service(GATEWAY, gateway),
            open_service(PERSISTER, persister),
            dashboard_over(nats_url, database_url) as board,
        ):
            api = SpaceTradersClient(
                GatewayTransport(board.nc, agent=""), default_deadline_seconds=60
            )

            async def listed() -> Any:
                try:
                    return await api.all_ships()
                except GatewayUnavailable:  # not subscribed yet
                    return None

            fleet = await eventually(listed, what="the gateway lists the fleet")
            board.ships = sorted(ship.symbol for ship in fleet)
            hq_system = fleet[0].nav.system_symbol
            asteroids = await api.list_waypoints(hq_system, type="ENGINEERED_ASTEROID")
            asteroid = asteroids.items[0]
            market = await _ore_market(api, hq_system)
            for ship in fleet:
                if any(m.symbol.startswith("MOUNT_MINING") for m in ship.mounts):
                    await _assign(board.js, ship.symbol, "mine", asteroid.symbol)
                else:  # the probe watches the market the miner sells at
                    await _assign(
                        board.js, ship.symbol, "probe", market, {"interval_seconds": "20"}
                    )
            # The agent by name: a node left to pick "the gateway's first" publishes events
            # with an empty agent, which the persister refuses.
            agent = await api.get_agent()
            dispatcher = load_settings(
                DispatcherSettings,
                node="U",
                agent=agent.symbol,
                nats_url=nats_url,
                probes={"port": "off"},
            )
            async with open_service(DISPATCHER, dispatcher):
                yield board


@dataclass
class Browser:
    """One Chromium page; `outside` lists every request it tried to a host not local."""

    page: Any
    outside: list[str]
    name: str

    async def screenshot(self, label: str = "", *, full_page: bool = True) -> Path:
        """Save a screenshot (of the whole page by default) under test-output/dashboard/."""
        OUTPUT.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.name + (f"-{label}" if label else ""))
        path = OUTPUT / f"{safe}.png"
        await self.page.screenshot(path=str(path), full_page=full_page)
        return path


@pytest.fixture
async def browser(request: pytest.FixtureRequest) -> AsyncIterator[Browser]:
    """Headless Chromium at laptop width; requests off localhost are recorded and refused."""
    _require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        context = await chromium.new_context(viewport={"width": 1280, "height": 900})
        outside: list[str] = []

        async def guard(route: Any) -> None:
            url = route.request.url
            host = urlsplit(url).hostname or ""
            if url.startswith(("data:", "blob:", "about:")) or host in LOCAL_HOSTS:
                await route.continue_()
            else:
                outside.append(url)
                await route.abort()

        await context.route("**/*", guard)
        page = await context.new_page()
        page.set_default_timeout(30_000)
        try:
            yield Browser(page, outside, request.node.name)
        finally:
            await context.close()
            await chromium.close()
