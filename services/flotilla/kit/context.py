"""What a service body is given: its settings, an exit stack for its resources, the stop
signal, the injected clock, its metrics, a tracer, its readiness state and NATS on demand."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from opentelemetry.trace import Tracer

from flotilla.clock import Clock
from flotilla.kit.declaration import NATS_CHECK
from flotilla.metrics import MetricsRegistry
from flotilla.probes import Check
from flotilla.settings import ServiceSettings

if TYPE_CHECKING:
    from flotilla.kit.declaration import Service

__all__ = ["Readiness", "ServiceContext", "ServiceFailed"]

S = TypeVar("S", bound=ServiceSettings)
M = TypeVar("M")


class ServiceFailed(Exception):
    """The service cannot go on; the message is one line saying why and what to do. The kit
    prints it without a traceback and exits with a failure code."""


@dataclass
class _State:
    ok: bool = False
    detail: str = "not reported yet"


class Readiness:
    """The readiness checks of one service, kept as state the body updates (no I/O happens
    on the probe's path). Checks are declared up front, so `/readyz` names every one of them
    from the start, failing until the body reports it."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self._states: dict[str, _State] = {name: _State() for name in names}
        self._watched: dict[str, Callable[[], tuple[bool, str]]] = {}

    @property
    def names(self) -> list[str]:
        """Every check, in declaration order."""
        return list(self._states)

    def set(self, name: str, ok: bool, detail: str = "") -> None:
        """Report check `name` as passing or failing, with an optional detail."""
        state = self._states.setdefault(name, _State())
        state.ok = ok
        state.detail = detail

    def watch(self, name: str, read: Callable[[], tuple[bool, str]]) -> None:
        """Read check `name` from `read()` at every probe (it must be cheap and not block)."""
        self._states.setdefault(name, _State())
        self._watched[name] = read

    def state(self, name: str) -> tuple[bool, str]:
        """The current result of check `name`."""
        read = self._watched.get(name)
        if read is not None:
            return read()
        state = self._states[name]
        return state.ok, state.detail

    def as_checks(self) -> Mapping[str, Check]:
        """The checks as the probe server runs them."""

        def make(name: str) -> Check:
            async def check() -> tuple[bool, str]:
                return self.state(name)

            return check

        return _LiveChecks(self, make)


class _LiveChecks(Mapping[str, Check]):
    """A view of the readiness checks that sees checks added after the probes started."""

    def __init__(self, readiness: Readiness, make: Callable[[str], Check]) -> None:
        self._readiness = readiness
        self._make = make

    def __getitem__(self, key: str) -> Check:
        if key not in self._readiness.names:
            raise KeyError(key)
        return self._make(key)

    def __iter__(self) -> Any:
        return iter(self._readiness.names)

    def __len__(self) -> int:
        return len(self._readiness.names)


@dataclass
class ServiceContext(Generic[S, M]):
    """One running instance of a service, as its body sees it."""

    service: Service[S, M]
    settings: S
    stack: AsyncExitStack
    stopping: asyncio.Event
    clock: Clock
    metrics: M
    registry: MetricsRegistry
    tracer: Tracer
    health: Readiness
    log: logging.Logger
    # Test and benchmark seams (e.g. an HTTP transport): never set in production.
    seams: Mapping[str, Any] = field(default_factory=dict)
    # What the body chooses to show tests and benchmarks (e.g. its core object).
    exposed: dict[str, Any] = field(default_factory=dict)
    _nats: NatsClient | None = None
    _nats_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def nats(self) -> NatsClient:
        """NATS, opened on first use (with the streams and buckets ensured) and drained when
        the service stops; "nats" readiness follows the connection."""
        async with self._nats_lock:
            if self._nats is None:
                from flotilla.kit.nats import close_nats, open_nats
                from flotilla.topology import ensure_topology

                nc = await open_nats(
                    self.settings.nats_url,
                    f"flotilla-{self.service.name}",
                    connect_timeout=self.settings.nats_connect_timeout_seconds,
                    stopping=self.stopping,
                    log=self.log,
                )
                self.stack.push_async_callback(close_nats, nc)
                self.health.watch(
                    NATS_CHECK,
                    lambda: (nc.is_connected, "connected" if nc.is_connected else "not connected"),
                )
                await ensure_topology(nc.jetstream())
                self._nats = nc
            return self._nats

    async def jetstream(self) -> JetStreamContext:
        """JetStream on the service's NATS connection."""
        return (await self.nats()).jetstream()

    async def stopped_within(self, seconds: float) -> bool:
        """Wait `seconds` unless the service is asked to stop first; True when it was."""
        if self.stopping.is_set():
            return True
        try:
            await asyncio.wait_for(self.stopping.wait(), max(0.0, seconds))
        except TimeoutError:
            return False
        return True
