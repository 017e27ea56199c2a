"""The whole stack for the dispatcher's behaviour tests: real NATS, the simulator and the gateway
started by the kit's `open_service` in this process (as in production), and one real
dispatcher node driving the ships the test gives the agent.

The test reads the simulator's game state as the oracle (credits, cargo, mounts, contracts) and
the gateway's request log (the `RequestLog` events on NATS) to count what each ship asked for.
To provoke errors that only a changed game can produce (a cooldown, a flight, a full hold, an
empty tank the node does not know about), a test changes the simulator's game state directly,
as another client of the same agent would, and says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from dispatcher.declaration import SERVICE as DISPATCHER
from dispatcher.ship import ShipModel
from flotilla import names
from flotilla.client import models
from flotilla.kit import RunningService, open_service
from flotilla.settings import load_settings
from flotilla.topology import ensure_topology
from flotilla.v1.events_pb2 import RequestLog
from flotilla.v1.fleet_pb2 import ShipAssignment
from gateway.declaration import SERVICE as GATEWAY
from gateway.settings import GatewaySettings
from simulator.config import SimulatorConfig, SimulatorSettings
from simulator.declaration import SERVICE as SIMULATOR
from simulator.game import Game
from simulator.state import Agent, Ship
from simulator.views import ship_view

from .conftest import fast_settings

# Hours of game in seconds: a 70 s extraction cooldown takes 0.35 s, a short flight well under
# a second.
TIME_SCALE = 200.0
WAIT = 60.0


async def eventually(
    condition: Callable[[], Any], within: float = WAIT, what: str | Callable[[], str] = ""
) -> None:
    """Wait until `condition()` holds (polling a cheap in-memory check), or fail saying `what`
    (or what `what()` says then)."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            said = what() if callable(what) else what
            raise AssertionError(f"not within {within}s: {said}")
        await asyncio.sleep(0.02)


@dataclass
class Stack:
    """The running stack: the simulator's game, the gateway's agent, the dispatcher node and
    every request the gateway answered (from its request log)."""

    nc: NatsClient
    game: Game
    agent: Agent
    simulator: RunningService[Any, Any]
    node: RunningService[Any, Any] | None = None
    requests: list[RequestLog] = field(default_factory=list)

    @property
    def home(self) -> str:
        """The agent's system."""
        return self.game.waypoint(self.agent.headquarters).system_symbol

    def at(self, suffix: str) -> str:
        """The waypoint `suffix` (`A3`) of the agent's home system."""
        return f"{self.home}-{suffix}"

    def ship(self, ship_type: str, where: str) -> Ship:
        """A new ship of the agent, docked at `where` (given by the simulator, no request)."""
        return self.game.new_ship(self.agent, ship_type, self.at(where))

    def first(self, role: str) -> Ship:
        """The agent's first ship of `role` (COMMAND, SATELLITE)."""
        return next(s for s in self.game.agent_ships(self.agent) if s.role == role)

    async def assign(
        self,
        ship: str,
        behaviour: str,
        waypoint: str = "",
        *,
        mount_spec: tuple[str, ...] = (),
        **params: str,
    ) -> None:
        """Write the ship's assignment to the assignments bucket, as the conductor does."""
        kv = await self.nc.jetstream().key_value(names.ASSIGNMENTS_BUCKET)
        message = ShipAssignment(
            ship_symbol=ship,
            behaviour=behaviour,
            waypoint_symbol=waypoint,
            mount_spec=list(mount_spec),
            params=params,
        )
        await kv.put(ship, message.SerializeToString())

    async def remember(self, ship: Ship) -> None:
        """Write `ship` as the game shows it now into the ships bucket: the snapshot its next
        owner starts from (as if a node had driven it until now). A test that then changes the
        game makes that snapshot stale, as another client of the agent would."""
        model = ShipModel(symbol=ship.symbol, agent=self.agent.symbol)
        model.apply_ship(models.Ship.model_validate(ship_view(ship, self.game)))
        model.version = 1
        kv = await self.nc.jetstream().key_value(names.SHIPS_BUCKET)
        await kv.put(ship.symbol, model.snapshot(self.game.time.now()).SerializeToString())

    def errors_of(self, ship: str) -> list[int]:
        """The API error codes `ship`'s calls were answered with, in order."""
        return [r.error_code for r in self.calls_of(ship) if r.error_code]

    def calls_of(self, ship: str) -> list[RequestLog]:
        """The requests the gateway answered for `ship`, in order."""
        return [r for r in self.requests if r.ship_symbol == ship]

    def actions_of(self, ship: str) -> list[str]:
        """The last part of each endpoint `ship` called (`extract`, `market`, `navigate`)."""
        return [r.endpoint.rstrip("/").rsplit("/", 1)[-1] for r in self.calls_of(ship)]

    def runner(self, ship: str) -> Any:
        """The node's task of `ship` (None while not owned)."""
        assert self.node is not None
        return self.node.exposed["ownership"].runners.get(ship)

    def behaviour(self, ship: str) -> Any:
        """The behaviour the node runs for `ship` now (None while not owned)."""
        runner = self.runner(ship)
        return None if runner is None else runner.behaviour

    def metric(self, name: str, **labels: str) -> float:
        """A sample of the node's metrics registry (0 when absent)."""
        assert self.node is not None
        registry = self.node.ctx.registry.registry
        value = registry.get_sample_value(f"flotilla_dispatcher_{name}", labels or None)
        return float(value or 0.0)

    def faults_injected(self) -> float:
        """Faults the simulator injected so far (every kind)."""
        registry = self.simulator.ctx.registry.registry
        return sum(
            sample.value
            for family in registry.collect()
            if family.name == "flotilla_simulator_faults"
            for sample in family.samples
            if sample.name.endswith("_total")
        )

    @contextlib.asynccontextmanager
    async def dispatching(self, nats_url: str) -> AsyncIterator[RunningService[Any, Any]]:
        """One dispatcher node (fast leases), until the block ends."""
        settings = fast_settings(nats_url, "S")
        async with open_service(DISPATCHER, settings) as node:
            self.node = node
            await eventually(lambda: "ownership" in node.exposed, what="the node started")
            try:
                yield node
            finally:
                self.node = None


def _simulator_settings(**config: Any) -> SimulatorSettings:
    config.setdefault("time_scale", TIME_SCALE)
    config["rate_limit"] = {"enabled": False}
    return load_settings(
        SimulatorSettings,
        host="127.0.0.1",
        port=0,
        probes={"port": "off"},
        log_format="text",
        config=SimulatorConfig(**config),
    )


def _gateway_settings(nats_url: str, base_url: str) -> GatewaySettings:
    return load_settings(
        GatewaySettings,
        nats_url=nats_url,
        log_format="text",
        probes={"port": "off"},
        spacetraders={"base_url": base_url},
        rate_limit={"static": 10_000, "burst": 0},
        retry={"max_attempts": 4, "base_delay_seconds": 0.01, "max_delay_seconds": 0.05},
    )


@contextlib.asynccontextmanager
async def running_stack(nats_url: str, **config: Any) -> AsyncIterator[Stack]:
    """The simulator (limits off, time scale `TIME_SCALE`; `config` holds more
    `SimulatorConfig` fields) and the gateway, which registers its agent there; the dispatcher
    node is started by `Stack.dispatching` once the test has set up the ships."""
    async with contextlib.AsyncExitStack() as stack:
        simulator = await stack.enter_async_context(
            open_service(SIMULATOR, _simulator_settings(**config))
        )
        await eventually(lambda: "url" in simulator.exposed, what="the simulator serves")
        gateway = await stack.enter_async_context(
            open_service(GATEWAY, _gateway_settings(nats_url, simulator.exposed["url"]))
        )
        await eventually(
            lambda: "service" in gateway.exposed or gateway.task.done(), what="the gateway serves"
        )
        if gateway.task.done():
            gateway.task.result()
        game: Game = simulator.exposed["app"].game
        symbol = gateway.exposed["gateway"].default_agent
        nc = await nats.connect(nats_url)
        stack.push_async_callback(nc.close)
        await ensure_topology(nc.jetstream())
        running = Stack(nc, game, game.agents[symbol], simulator)

        async def logged(msg: Msg) -> None:
            running.requests.append(RequestLog.FromString(msg.data))

        await nc.subscribe(names.REQUEST_LOG_SUBJECT, cb=logged)
        yield running
