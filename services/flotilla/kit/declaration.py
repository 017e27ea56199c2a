"""A service as one declaration: its name, settings class, body, readiness checks, metrics and
what `flotilla up` runs for it. The kit (`flotilla.kit.runtime`) does the rest the same way for
every service."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from flotilla.kit.local import ChildSpec, LocalStack
from flotilla.metrics import MetricsRegistry
from flotilla.settings import ServiceSettings

if TYPE_CHECKING:
    from flotilla.kit.context import ServiceContext

__all__ = ["NATS_CHECK", "Service"]

S = TypeVar("S", bound=ServiceSettings)
M = TypeVar("M")

# The readiness check the kit keeps itself for every service that opens NATS.
NATS_CHECK = "nats"


@dataclass(frozen=True)
class Service(Generic[S, M]):
    """Everything the kit needs to run one service.

    - `name`: the subcommand (`flotilla <name>`), the logger and the default trace service name.
    - `summary` / `description`: `flotilla --help` and `flotilla <name> --help`.
    - `settings`: its settings class; the command-line options are generated from it.
    - `metrics`: builds the service's metrics on the registry the kit serves on `/metrics`.
    - `body`: `async def body(ctx)`; opens what it needs on `ctx.stack`, serves until
      `ctx.stopping` is set, drains and returns.
    - `checks`: the readiness checks `/readyz` reports; the body reports each one
      (`ctx.health.set(...)`), and "nats" is kept by the kit when the body opens NATS.
    - `local`: the processes `flotilla up` starts for it (None: not part of a local run).
    """

    name: str
    summary: str
    description: str
    settings: type[S]
    metrics: Callable[[MetricsRegistry], M]
    body: Callable[[ServiceContext[S, M]], Coroutine[Any, Any, None]]
    checks: Sequence[str] = ()
    local: Callable[[LocalStack], Sequence[ChildSpec]] | None = None

    def option_prefix(self) -> str:
        """The variable prefix dropped from option names (`FLOTILLA_GATEWAY_RATE_LIMIT_STATIC`
        is `--rate-limit-static` of `flotilla gateway`)."""
        return self.settings.settings_prefix


AnyService = Service[Any, Any]
