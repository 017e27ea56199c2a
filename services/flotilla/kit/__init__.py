"""The service kit: a service is one `Service` declaration (name, settings class, body,
readiness checks, metrics, local run); the kit gives every service the same command line,
NATS opener, probe/metrics endpoint, tracing and drain on SIGTERM — in production, in tests
(`open_service`) and in benchmarks.

Adding a service:

    SERVICE = Service(
        name="example",
        summary="one line for `flotilla --help`",
        description="what it does, for `flotilla example --help`",
        settings=ExampleSettings,      # a ServiceSettings subclass with its sections
        metrics=ExampleMetrics,        # built on the registry served at /metrics
        body=run,                      # async def run(ctx: ServiceContext[...]) -> None
        checks=("nats",),              # what /readyz reports
        local=local_processes,         # what `flotilla up` starts, or None
    )

and one line in `flotilla.registry`.
"""

from flotilla.kit.context import Readiness, ServiceContext, ServiceFailed
from flotilla.kit.declaration import NATS_CHECK, Service
from flotilla.kit.local import ChildSpec, LocalStack
from flotilla.kit.runtime import (
    EXIT_BAD_SETTINGS,
    EXIT_FAILED,
    EXIT_OK,
    RunningService,
    main,
    open_service,
    serve,
)

__all__ = [
    "EXIT_BAD_SETTINGS",
    "EXIT_FAILED",
    "EXIT_OK",
    "NATS_CHECK",
    "ChildSpec",
    "LocalStack",
    "Readiness",
    "RunningService",
    "Service",
    "ServiceContext",
    "ServiceFailed",
    "main",
    "open_service",
    "serve",
]
