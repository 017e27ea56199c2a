"""One owned ship's task: run its behaviour step by step, sleeping on the injected clock until
the instant the behaviour names (the cooldown's end, the arrival) — no polling, no thread, no
look at the ship at the start of a cycle. API errors are handled by type here and never end the
task; only a lost lease (or a hand-over) does.

Per ship this is one asyncio task, one `ShipModel`, one `ShipControl` and the behaviour's few
fields: a few kilobytes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Tracer

from dispatcher.assignments import Assignment
from dispatcher.behaviours import Behaviour, make_behaviour
from dispatcher.control import ShipControl
from dispatcher.events import Publisher
from dispatcher.leases import Lease
from dispatcher.metrics import DispatcherMetrics
from dispatcher.ship import ShipModel
from dispatcher.timing import ServerClock, Timers, Wakeup
from dispatcher.transport import FencedTransport, LeaseExpired
from dispatcher.worldview import WorldView
from flotilla.backoff import Backoff
from flotilla.client import (
    ApiError,
    CallError,
    CallFenced,
    CargoFull,
    CooldownActive,
    GatewayError,
    NotDocked,
    NotInOrbit,
    OutcomeUnknown,
    ShipInTransit,
    SpaceTradersClient,
    Transport,
)
from flotilla.clock import Clock
from flotilla.semconv import SpanAttr, outcome_name
from flotilla.v1.api_pb2 import ApiResult
from flotilla.v1.events_pb2 import ShipState

__all__ = ["LOADS_AT_ONCE", "FleetServices", "ShipRunner"]

log = logging.getLogger("dispatcher.ships")

# Ship loads (snapshot reads, or one look at the API) in flight at once.
LOADS_AT_ONCE = 32
# A behaviour that keeps asking to go on at once without calling anything is a bug: after this
# many such steps in a row the ship waits, so it can never spin the node.
_IDLE_SPIN_LIMIT = 50


@dataclass
class FleetServices:
    """What every ship task of a node shares."""

    node: str
    agent: str
    transport: Transport
    world: WorldView
    publisher: Publisher
    clock: Clock
    timers: Timers
    server_clock: ServerClock
    metrics: DispatcherMetrics
    backoff: Backoff
    action_deadline: float
    read_deadline: float
    load_snapshot: Callable[[str], Awaitable[ShipState | None]]
    on_fenced: Callable[[str], None]
    # Each step is a span, so the gateway's spans and the events continue the step's trace.
    tracer: Tracer = field(default_factory=lambda: trace.get_tracer("flotilla.dispatcher"))
    # False when no span goes anywhere (no exporter configured): steps then make no span, which
    # costs a fair share of a step's CPU; calls and events carry no trace context either.
    tracing: bool = True
    # Ships loading their state at once: a node taking thousands of ships together loads them
    # a few at a time, so the event loop keeps renewing leases and driving the ships already
    # loaded instead of queueing thousands of reads at once.
    loading: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(LOADS_AT_ONCE))


class ShipRunner:
    """The task driving one ship under one lease."""

    __slots__ = (
        "_cycle_requests",
        "_failures",
        "_pending",
        "_ready_at",
        "_requests_child",
        "_services",
        "_stop",
        "assignment",
        "behaviour",
        "control",
        "lease",
        "loaded",
        "symbol",
        "task",
        "wakeup",
    )

    def __init__(
        self, lease: Lease, assignment: Assignment | None, services: FleetServices
    ) -> None:
        self.symbol = lease.ship
        self.lease = lease
        self._services = services
        self.assignment = assignment
        self._pending: Assignment | None = None
        self.behaviour: Behaviour = make_behaviour(assignment)
        self.wakeup = Wakeup(services.timers)
        self._stop = False
        self._ready_at: float | None = None
        self._failures = 0
        self._cycle_requests = 0
        self._requests_child: Any = services.metrics.requests.labels(self.behaviour.name)
        transport = FencedTransport(
            services.transport, lease, node=services.node, clock=services.clock, observer=self
        )
        self.control = ShipControl(
            ShipModel(symbol=self.symbol, agent=services.agent),
            SpaceTradersClient(transport),
            services.world,
            services.publisher,
            services.clock,
            services.server_clock,
            action_deadline=services.action_deadline,
            read_deadline=services.read_deadline,
            peers=services.load_snapshot,
        )
        self.control.behaviour = self.behaviour.name
        self.task: asyncio.Task[None] | None = None
        self.loaded = False  # its state is in memory

    # --- told by the transport ---------------------------------------------------------------

    def on_send(self, now: float) -> None:
        """A call of this ship goes to the gateway now."""
        if self._ready_at is not None:
            self._services.metrics.ready_delay.observe(max(0.0, now - self._ready_at))
            self._ready_at = None
        self._cycle_requests += 1
        self._requests_child.inc()

    def on_fenced(self) -> None:
        """The gateway refused a call as fenced: another node owns the ship."""
        self._services.metrics.leases.labels("fenced").inc()
        self._services.on_fenced(self.symbol)

    def on_failed(self, result: ApiResult) -> None:
        """A call failed: counted by its API error code, or by its outcome when the API gave
        no answer (whoever handles it: the behaviour or this task)."""
        code = str(result.error_code) if result.error_code else outcome_name(result.outcome)
        self._services.metrics.errors.labels(self.behaviour.name, code).inc()

    # --- told by the node --------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        """Start the task."""
        self.task = asyncio.create_task(self.run(), name=f"ship-{self.symbol}")
        return self.task

    def assign(self, assignment: Assignment | None) -> None:
        """A new assignment: it takes effect at the ship's next safe point."""
        self._pending = assignment if assignment is not None else Assignment(self.symbol, "idle")
        if self.behaviour.safe:
            self.wakeup.interrupt()

    def request_stop(self) -> None:
        """Finish the current step, then stop (the ship is handed over)."""
        self._stop = True
        self.wakeup.interrupt()

    @property
    def stopping(self) -> bool:
        """Has a stop been asked for?"""
        return self._stop

    # --- the task ----------------------------------------------------------------------------

    async def _load(self) -> None:
        """The ship's state: its snapshot in the ships bucket, else one look at the API (at
        most `LOADS_AT_ONCE` ships of the node at a time)."""
        async with self._services.loading:
            await self._load_now()
        self.loaded = True

    async def _load_now(self) -> None:
        snapshot = await self._services.load_snapshot(self.symbol)
        if snapshot is not None:
            model = ShipModel.from_snapshot(snapshot)
            model.agent = model.agent or self._services.agent
            self.control.ship = model
            return
        while not self._stop:
            try:
                await self.control.resync()
                return
            except LeaseExpired:
                raise
            except CallError:
                await self._back_off()

    def _switch(self) -> None:
        assignment = self._pending
        self._pending = None
        if assignment is not None and assignment.behaviour == "idle" and not assignment.ship:
            assignment = None
        self.assignment = assignment
        self.behaviour = make_behaviour(assignment)
        self.control.behaviour = self.behaviour.name
        self._requests_child = self._services.metrics.requests.labels(self.behaviour.name)
        self._cycle_requests = 0

    async def run(self) -> None:
        """Drive the ship until stopped (hand-over) or its lease is lost."""
        clock = self._services.clock
        spins = 0
        try:
            await self._load()
            while not self._stop:
                if self._pending is not None and self.behaviour.safe:
                    self._switch()
                before = self._cycle_requests
                wake = await self._step()
                self.control.flush()
                if self.behaviour.cycle_ended:
                    self.behaviour.cycle_ended = False
                    self._services.metrics.requests_per_cycle.labels(self.behaviour.name).observe(
                        self._cycle_requests
                    )
                    self._cycle_requests = 0
                if self._stop:
                    break
                now = clock.monotonic()
                if wake is not None and wake <= now:
                    spins = spins + 1 if self._cycle_requests == before else 0
                    if spins < _IDLE_SPIN_LIMIT:
                        await asyncio.sleep(0)
                        continue
                    log.warning(
                        "%s: %s keeps stepping without calls", self.symbol, self.behaviour.name
                    )
                    wake = now + 1.0
                spins = 0
                self._ready_at = wake
                await self.wakeup.sleep_until(wake)
                if wake is None or clock.monotonic() < wake:
                    self._ready_at = None  # woken early: not a "ready" instant
        except LeaseExpired:
            log.info("%s: lease no longer usable: stopping", self.symbol)
        except CallFenced:
            log.warning("%s: fenced by the gateway: another node owns it", self.symbol)
        finally:
            self.control.flush()

    async def _step(self) -> float | None:
        if not self._services.tracing:
            return await self._traced_step()
        attributes: dict[str, str | int] = {
            SpanAttr.SHIP: self.symbol,
            SpanAttr.BEHAVIOUR: self.behaviour.name,
            SpanAttr.NODE: self._services.node,
            SpanAttr.FENCING_TOKEN: self.lease.token,
        }
        with self._services.tracer.start_as_current_span("dispatcher.step", attributes=attributes):
            return await self._traced_step()

    async def _traced_step(self) -> float | None:
        control = self.control
        ship = control.ship
        metrics = self._services.metrics
        try:
            wake = await self.behaviour.step(control)
            metrics.steps.labels(self.behaviour.name).inc()
            self._failures = 0
            return wake
        except (LeaseExpired, CallFenced):
            raise
        except CooldownActive as exc:
            cooldown = exc.cooldown
            if cooldown is not None and cooldown.expiration is not None:
                ship.apply_cooldown(cooldown)
                return control.cooldown_over_at()
            return control.monotonic() + max(1.0, exc.remaining_seconds)
        except ShipInTransit as exc:
            if exc.arrival is not None:
                ship.status = "IN_TRANSIT"
                ship.arrival = exc.arrival
                return control.arrival_at()
            return control.monotonic() + max(1.0, exc.seconds_to_arrival)
        except NotInOrbit:
            ship.set_status("DOCKED")
            return control.monotonic()
        except NotDocked:
            ship.set_status("IN_ORBIT")
            return control.monotonic()
        except CargoFull:
            # Memory was wrong about the hold: look at it once (what is aboard, not just that it
            # is full), so that the behaviour's next step can sell or hand it over.
            try:
                await control.cargo()
            except (LeaseExpired, CallFenced):
                raise
            except CallError:
                ship.cargo_units = ship.cargo_capacity
                return self._backoff_instant()
            return control.monotonic()
        except OutcomeUnknown:
            try:
                await control.resync()
            except CallError:
                return self._backoff_instant()
            return control.monotonic()
        except (ApiError, GatewayError):
            return self._backoff_instant()
        except Exception:
            log.exception("%s: %s step failed", self.symbol, self.behaviour.name)
            metrics.errors.labels(self.behaviour.name, "exception").inc()
            return self._backoff_instant()

    def _backoff_instant(self) -> float:
        self._failures += 1
        return self._services.clock.monotonic() + self._services.backoff.delay(self._failures)

    async def _back_off(self) -> None:
        await self.wakeup.sleep_until(self._backoff_instant())
