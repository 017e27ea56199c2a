"""The conductor's body: NATS, a database pool, the mirrored view, the leader lease and the
reconcile loop; `ctx.exposed["conductor"]` is the `Conductor` the REST API serves.

Readiness: `nats` (kept by the kit), `database` (a session answers and the schema has the
conductor's tables), `view` (every bucket mirrored). `flotilla up` runs one conductor with
`DEFAULT_PLAN` (`FLOTILLA_CONDUCTOR_PLAN_SIMULATOR_DEFAULT`); nothing is written to the data
folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from conductor.core import Conductor
from conductor.leader import LeaderLease
from conductor.metrics import ConductorMetrics
from conductor.plan import FleetPlan
from conductor.purchasing import Buyer
from conductor.saturation import SaturationLoop
from conductor.settings import ConductorSettings
from conductor.store import PlanStore
from conductor.view import FleetView
from flotilla.client import GatewayTransport, SpaceTradersClient, Transport
from flotilla.db.pool import ConnectionPool, open_pool
from flotilla.kit import NATS_CHECK, ChildSpec, LocalStack, ServiceContext, ServiceFailed
from flotilla.settings import env_name

__all__ = ["CHECKS", "DATABASE_CHECK", "DEFAULT_PLAN", "VIEW_CHECK", "local_processes", "run"]

log = logging.getLogger("conductor")

DATABASE_CHECK: Final = "database"
VIEW_CHECK: Final = "view"
CHECKS = (NATS_CHECK, DATABASE_CHECK, VIEW_CHECK)
_DATABASE_PROBE_SECONDS = 5.0

# The simulator's starting agent has a command frigate and a probe (docked at a shipyard of its
# home system) and 175 000 credits: the plan keeps the probe watching that shipyard (where the
# new ships are bought), sends the frigate mining, and buys three mining drones (about 32 000
# each) that mine the system's asteroid and sell their loads, keeping 40 000 in reserve.
DEFAULT_PLAN: Final = """\
reserve: 40000
roles:
  - name: command
    ship_type: SHIP_COMMAND_FRIGATE
    count: 1
    behaviour: mine
    priority: 0
  - name: miners
    ship_type: SHIP_MINING_DRONE
    count: 3
    behaviour: mine
    priority: 1
  - name: watch
    ship_type: SHIP_PROBE
    count: 1
    behaviour: probe
    params: {target: shipyard}
    priority: 2
"""


def local_processes(stack: LocalStack) -> Sequence[ChildSpec]:
    """One conductor for `flotilla up`, applying `DEFAULT_PLAN` when the database holds no
    plan (playing the real game, the plan stays empty until one is put)."""
    env: dict[str, str] = {}
    if not stack.real_game:
        env[env_name(ConductorSettings, "plan", "simulator_default")] = "true"
    return [ChildSpec(name="conductor", args=["conductor"], env=env)]


def _initial_plan(settings: ConductorSettings) -> FleetPlan:
    if settings.plan.initial_file:
        return FleetPlan.from_yaml(Path(settings.plan.initial_file).read_text())
    if settings.plan.simulator_default:
        return FleetPlan.from_yaml(DEFAULT_PLAN)
    return FleetPlan()


async def _watch_database(
    ctx: ServiceContext[ConductorSettings, ConductorMetrics], pool: ConnectionPool
) -> None:
    """Keep the `database` check: a session answers and the conductor's tables exist."""
    while not ctx.stopping.is_set():
        try:
            async with pool.connection() as conn:
                cur = await conn.execute("SELECT to_regclass('conductor_plans') IS NOT NULL")
                row = await cur.fetchone()
            ok = bool(row and row[0])
            ctx.health.set(DATABASE_CHECK, ok, "connected" if ok else "schema not migrated")
        except Exception as exc:
            ctx.health.set(DATABASE_CHECK, False, f"unreachable: {exc.__class__.__name__}")
        if await ctx.stopped_within(_DATABASE_PROBE_SECONDS):
            return


async def _serve_api(
    ctx: ServiceContext[ConductorSettings, ConductorMetrics],
    conductor: Conductor,
    saturation: SaturationLoop,
    pool: ConnectionPool,
) -> str:
    """Serve the REST API on the `api` settings until the service stops; its base URL."""
    from conductor.api import create_app
    from flotilla.serving import bind_socket, serving, socket_address

    api = ctx.settings.api
    # uvicorn's start/stop lines add nothing to the line below and carry colour codes.
    logging.getLogger("uvicorn.error").setLevel(max(logging.WARNING, ctx.log.getEffectiveLevel()))
    try:
        sock = bind_socket(api.host, api.port)
    except OSError as exc:
        raise ServiceFailed(
            f"the API cannot listen on {api.host}:{api.port} ({exc.strerror or exc}); free it or"
            f" set {env_name(ConductorSettings, 'api', 'port')} (0: a free port)"
        ) from None
    ctx.stack.callback(sock.close)
    app = create_app(
        conductor=conductor, saturation=saturation, pool=pool, token=api.token, clock=ctx.clock
    )
    await ctx.stack.enter_async_context(serving(app, sock))
    url = socket_address(sock)
    log.info("API on %s (OpenAPI at %s/docs)", url, url)
    return url


async def run(ctx: ServiceContext[ConductorSettings, ConductorMetrics]) -> None:
    """Serve as one conductor replica until asked to stop."""
    settings = ctx.settings
    initial = _initial_plan(settings)
    nc = await ctx.nats()
    js = nc.jetstream()
    pool = await open_pool(settings.database.url, settings.pool, application_name="conductor")
    ctx.stack.push_async_callback(pool.close)
    transport: Transport = ctx.seams.get("transport") or GatewayTransport(
        nc, agent=settings.agent, clock=ctx.clock
    )
    api = SpaceTradersClient(transport)
    holder = ctx.seams.get("holder") or f"{socket.gethostname()}-{id(ctx):x}"
    leader = LeaderLease(
        js,
        ctx.clock,
        ttl_seconds=settings.leader.ttl_seconds,
        renew_seconds=settings.leader.renew_seconds,
        holder=holder,
    )
    view = FleetView(js)
    buyer = Buyer(
        js,
        api,
        ctx.clock,
        holder=holder,
        deadline_seconds=settings.purchases.deadline_seconds,
        settle_seconds=settings.purchases.settle_seconds,
        list_deadline_seconds=settings.purchases.list_deadline_seconds,
    )
    store = PlanStore(pool, ctx.clock)
    conductor = Conductor(
        js=js,
        pool=pool,
        clock=ctx.clock,
        api=api,
        store=store,
        view=view,
        leader=leader,
        buyer=buyer,
        metrics=ctx.metrics,
        earnings_window_seconds=settings.reconcile.earnings_window_seconds,
        earnings_refresh_seconds=settings.reconcile.earnings_refresh_seconds,
    )
    saturation = SaturationLoop(settings.saturation, conductor, ctx.clock)
    await saturation.feed.start(nc)
    ctx.stack.push_async_callback(saturation.feed.stop)
    api_url = await _serve_api(ctx, conductor, saturation, pool)
    ctx.exposed.update(
        conductor=conductor,
        leader=leader,
        view=view,
        buyer=buyer,
        store=store,
        saturation=saturation,
        api_url=api_url,
    )
    ctx.health.watch(
        VIEW_CHECK,
        lambda: (view.synced, f"{len(view.ships())} ship(s) known" if view.synced else "syncing"),
    )
    ctx.registry.on_scrape(lambda: ctx.metrics.leader.set(1 if leader.is_leader else 0))

    stop_tasks = asyncio.Event()
    tasks = [*view.tasks(stop_tasks), asyncio.create_task(_watch_database(ctx, pool))]
    loop: asyncio.Task[None] | None = None
    lease: asyncio.Task[None] | None = None
    try:
        await view.wait_synced()
        while not ctx.stopping.is_set():
            try:
                await conductor.start(initial, author="conductor")
                break
            except Exception as exc:
                log.warning("conductor not started yet (%r): retrying", exc)
                if await ctx.stopped_within(2.0):
                    return
        if ctx.stopping.is_set():
            return
        if not view.registry.values:
            # Nothing known of the fleet yet (a first start): list it once.
            with contextlib.suppress(Exception):
                await buyer.list_fleet()
        lease = asyncio.create_task(leader.run(ctx.stopping), name="leader")
        loop = asyncio.create_task(
            conductor.run(ctx.stopping, settings.reconcile.interval_seconds), name="reconcile"
        )
        tasks.append(asyncio.create_task(saturation.run(ctx.stopping), name="saturation"))
        log.info("conductor %s serving (agent %s)", holder, conductor.agent)
        await ctx.stopping.wait()
    finally:
        for task in (loop, lease):
            if task is not None:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.wait_for(task, settings.shutdown_grace_seconds)
        stop_tasks.set()
        for task in tasks:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(task, 5.0)
