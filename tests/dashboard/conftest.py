"""The dashboard's browser tests: a whole stack against the simulator (gateway, persister, a
dispatcher node and the conductor, all started through the kit on the tests' real NATS and
PostgreSQL), the pages the conductor serves beside its API, and headless Chromium (Debian's
`chromium` package) driven by Playwright. Every page records the requests it makes to any host
other than localhost; the tests assert there are none.

`bare_dashboard` is the dashboard on an app of its own over the shared stores, with no other
service: for empty states, an unreachable database and a fleet of 2,000 ships written straight
into the ships table.
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
    source: SharedSource | None = None  # the standalone dashboard's own source
    api_url: str = ""  # the conductor's REST API, where the conductor serves the pages
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
async def connections(
    nats_url: str, database_url: str
) -> AsyncIterator[tuple[NatsClient, JetStreamContext, ConnectionPool]]:
    """A NATS client (with the topology in place) and a database pool, for the tests' checks."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await ensure_topology(js)
    pool = await open_pool(database_url, PoolSection(size=4), application_name="dashboard-test")
    try:
        yield nc, js, pool
    finally:
        await pool.close()
        await nc.drain()


@contextlib.asynccontextmanager
async def dashboard_over(nats_url: str, database_url: str) -> AsyncIterator[Dashboard]:
    """The dashboard on an app of its own (a free port) over the shared stores, no conductor."""
    async with connections(nats_url, database_url) as (nc, js, pool):
        source = SharedSource(pool, js)
        await source.start()
        try:
            async with serving(dashboard_app(source, write_token=TOKEN)) as base:
                yield Dashboard(f"{base}/dashboard", nc, js, pool, source)
        finally:
            await source.stop()


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


PLAN = """\
reserve: 100000
roles:
  - name: mines
    ship_type: SHIP_COMMAND_FRIGATE
    count: 1
    behaviour: mine
    waypoint: {asteroid}
  - name: probes
    ship_type: SHIP_PROBE
    count: 1
    behaviour: probe
    waypoint: {market}
    params: {{target: market, interval_seconds: "20"}}
"""


@pytest.fixture
async def dashboard(nats_url: str, database_url: str, tmp_path: Path) -> AsyncIterator[Dashboard]:
    """The whole stack against the simulator — gateway, persister, a dispatcher node and the
    conductor with a plan that sets the starting ships to work (the frigate mines the asteroid
    near headquarters and sells at the market the probe watches) — and the dashboard that the
    conductor serves beside its API."""
    _require_browser()
    from conductor.declaration import SERVICE as CONDUCTOR
    from conductor.settings import ConductorSettings
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
            connections(nats_url, database_url) as (nc, js, pool),
        ):
            api = SpaceTradersClient(GatewayTransport(nc, agent=""), default_deadline_seconds=60)

            async def listed() -> Any:
                try:
                    return await api.all_ships()
                except GatewayUnavailable:  # not subscribed yet
                    return None

            fleet = await eventually(listed, what="the gateway lists the fleet")
            hq_system = fleet[0].nav.system_symbol
            asteroids = await api.list_waypoints(hq_system, type="ENGINEERED_ASTEROID")
            plan = tmp_path / "plan.yaml"
            plan.write_text(
                PLAN.format(
                    asteroid=asteroids.items[0].symbol, market=await _ore_market(api, hq_system)
                )
            )
            conductor = load_settings(
                ConductorSettings,
                nats_url=nats_url,
                database={"url": database_url},
                probes={"port": "off"},
                plan={"initial_file": str(plan)},
                api={"host": "127.0.0.1", "port": 0, "token": TOKEN},
                reconcile={"interval_seconds": 0.5},
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
            async with (
                open_service(CONDUCTOR, conductor) as running,
                open_service(DISPATCHER, dispatcher),
            ):

                async def served() -> Any:
                    return running.exposed.get("api_url")

                api_url = await eventually(served, what="the conductor serves its API")
                board = Dashboard(f"{api_url}/dashboard", nc, js, pool, api_url=api_url)
                board.ships = sorted(ship.symbol for ship in fleet)
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
