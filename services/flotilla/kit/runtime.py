"""Running a declared service: the same lifecycle in production, in tests and in benchmarks.

1. Settings are loaded (options over environment) and logging is configured (`command`).
2. Tracing, then the probe/metrics endpoint, are opened on the service's `AsyncExitStack`.
3. The body runs with its `ServiceContext`. SIGTERM/SIGINT (in production) or leaving
   `open_service` (in tests) sets `ctx.stopping`; the body then has
   `shutdown_grace_seconds` to drain and return before it is cancelled, so a stuck drain can
   never keep a pod from terminating. A second signal ends the process at once.
4. Resources close in reverse order.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack
from typing import Any, Generic, TypeVar

from opentelemetry import trace

from flotilla.clock import Clock, SystemClock
from flotilla.kit.context import Readiness, ServiceContext, ServiceFailed
from flotilla.kit.declaration import Service
from flotilla.kit.options import SettingOption, add_setting_options, option_values
from flotilla.logs import configure_logging
from flotilla.metrics import MetricsRegistry
from flotilla.probes import ProbeServer
from flotilla.settings import ServiceSettings, SettingsError, load_settings
from flotilla.telemetry import tracer_provider

__all__ = [
    "EXIT_BAD_SETTINGS",
    "EXIT_FAILED",
    "EXIT_OK",
    "RunningService",
    "add_service_parser",
    "command",
    "main",
    "open_service",
    "serve",
]

S = TypeVar("S", bound=ServiceSettings)
M = TypeVar("M")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_SETTINGS = 2

log = logging.getLogger("flotilla.kit")


class RunningService(Generic[S, M]):
    """A service running in the current event loop (see `open_service`)."""

    def __init__(self, ctx: ServiceContext[S, M], task: asyncio.Task[None]) -> None:
        self.ctx = ctx
        self.task = task
        self.probes: ProbeServer | None = None

    @property
    def probe_url(self) -> str | None:
        """`http://host:port` of the probe/metrics endpoint (None when it is off)."""
        if self.probes is None:
            return None
        host = "127.0.0.1" if self.probes.host in ("0.0.0.0", "") else self.probes.host
        return f"http://{host}:{self.probes.port}"

    @property
    def exposed(self) -> dict[str, Any]:
        """What the body chose to show (e.g. its core object), for tests and benchmarks."""
        return self.ctx.exposed

    async def stop(self) -> None:
        """Drain as on SIGTERM and wait until the service has stopped (safe to call twice)."""
        self.ctx.stopping.set()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


def _context(
    service: Service[S, M],
    settings: S,
    stack: AsyncExitStack,
    stopping: asyncio.Event,
    clock: Clock | None,
    seams: Mapping[str, Any] | None,
    global_tracing: bool,
) -> ServiceContext[S, M]:
    provider = tracer_provider(service.name, settings)
    if global_tracing:
        trace.set_tracer_provider(provider)
    stack.callback(provider.shutdown)
    registry = MetricsRegistry()
    return ServiceContext(
        service=service,
        settings=settings,
        stack=stack,
        stopping=stopping,
        clock=clock or SystemClock(),
        metrics=service.metrics(registry),
        registry=registry,
        tracer=provider.get_tracer(f"flotilla.{service.name}"),
        health=Readiness(tuple(service.checks)),
        log=logging.getLogger(service.name),
        seams=dict(seams or {}),
    )


async def _lifecycle(
    service: Service[S, M],
    settings: S,
    stopping: asyncio.Event,
    *,
    clock: Clock | None,
    seams: Mapping[str, Any] | None,
    global_tracing: bool,
    on_started: Callable[[ServiceContext[S, M], ProbeServer | None], None] | None = None,
) -> None:
    async with AsyncExitStack() as stack:
        ctx = _context(service, settings, stack, stopping, clock, seams, global_tracing)
        probes = None
        if settings.probes.enabled():
            probes = ProbeServer(
                settings.probes.host,
                settings.probes.bind_port(),
                checks=ctx.health.as_checks(),
                metrics=ctx.registry.exposition,
            )
            await probes.start()
            stack.push_async_callback(probes.close)
        if on_started is not None:
            on_started(ctx, probes)
        body = asyncio.create_task(service.body(ctx), name=f"{service.name}-body")
        stop_requested = asyncio.create_task(stopping.wait())
        try:
            await asyncio.wait({body, stop_requested}, return_when=asyncio.FIRST_COMPLETED)
            if not body.done():
                try:
                    await asyncio.wait_for(asyncio.shield(body), settings.shutdown_grace_seconds)
                except TimeoutError:
                    log.warning(
                        "%s: drain took longer than %.1fs: cancelling",
                        service.name,
                        settings.shutdown_grace_seconds,
                    )
                    body.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await body
                    return
            body.result()
        finally:
            stop_requested.cancel()
            if not body.done():
                body.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await body
        log.info("%s: closing resources", service.name)


def _install_stop_signals(stopping: asyncio.Event) -> Callable[[], None]:
    """Set `stopping` on the first SIGTERM/SIGINT (a second one exits at once); return a
    function that removes the handlers."""
    loop = asyncio.get_running_loop()
    handled = (signal.SIGTERM, signal.SIGINT)

    def on_signal(signum: int) -> None:
        if stopping.is_set():
            log.warning("second signal %s: stopping without waiting", signal.Signals(signum).name)
            raise SystemExit(EXIT_FAILED)
        log.info("signal %s: draining", signal.Signals(signum).name)
        stopping.set()

    for sig in handled:
        loop.add_signal_handler(sig, on_signal, sig)

    def remove() -> None:
        for sig in handled:
            loop.remove_signal_handler(sig)

    return remove


async def serve(
    service: Service[S, M],
    settings: S,
    *,
    stopping: asyncio.Event | None = None,
    clock: Clock | None = None,
    seams: Mapping[str, Any] | None = None,
    global_tracing: bool = False,
) -> None:
    """Run `service` until it returns or a stop signal has been drained (production path)."""
    stopping = stopping or asyncio.Event()
    remove_handlers = _install_stop_signals(stopping)
    try:
        await _lifecycle(
            service, settings, stopping, clock=clock, seams=seams, global_tracing=global_tracing
        )
    finally:
        remove_handlers()


@contextlib.asynccontextmanager
async def open_service(
    service: Service[S, M],
    settings: S,
    *,
    clock: Clock | None = None,
    seams: Mapping[str, Any] | None = None,
) -> AsyncIterator[RunningService[S, M]]:
    """Run `service` in this event loop for the block (tests and benchmarks): the same
    lifecycle as production, without signal handlers. Leaving the block drains it as SIGTERM
    would; a failure of the body is raised there."""
    stopping = asyncio.Event()
    started: asyncio.Future[RunningService[S, M]] = asyncio.get_running_loop().create_future()
    holder: list[RunningService[S, M]] = []

    def on_started(ctx: ServiceContext[S, M], probes: ProbeServer | None) -> None:
        running = RunningService(ctx, task)
        running.probes = probes
        holder.append(running)
        started.set_result(running)

    task = asyncio.create_task(
        _lifecycle(
            service,
            settings,
            stopping,
            clock=clock,
            seams=seams,
            global_tracing=False,
            on_started=on_started,
        ),
        name=f"{service.name}-service",
    )
    waits: set[asyncio.Future[Any]] = {task, started}
    done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    if task in done and not started.done():
        task.result()  # raises the start-up failure
        raise RuntimeError(f"{service.name} stopped while starting")
    running = holder[0]
    try:
        yield running
    finally:
        stopping.set()
        if not task.done():
            await asyncio.wait({task})
        if not task.cancelled():
            task.result()


def add_service_parser(subparsers: Any, service: Service[Any, Any]) -> None:
    """`flotilla <service>`: its options generated from the settings class."""
    parser = subparsers.add_parser(
        service.name, help=service.summary, description=service.description
    )
    options = add_setting_options(parser, service.settings, service.option_prefix())
    parser.set_defaults(func=lambda args: command(service, args, options))


def command(
    service: Service[Any, Any], args: argparse.Namespace, options: list[SettingOption]
) -> int:
    """Start `service` from parsed options: settings, logging, serve; return an exit code."""
    values, names = option_values(args, options)
    try:
        settings = load_settings(service.settings, values, option_names=names)
    except SettingsError as exc:
        print(f"{service.name}: {exc}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    configure_logging(service.name, settings.log_level, settings.log_format)
    log.info("starting %s", service.name)
    try:
        asyncio.run(serve(service, settings, global_tracing=True))
    except ServiceFailed as exc:
        log.error("%s cannot run: %s", service.name, exc)
        return EXIT_FAILED
    except SystemExit as exc:
        return int(exc.code or 0)
    except KeyboardInterrupt:
        return EXIT_FAILED
    except Exception:
        log.exception("%s failed", service.name)
        return EXIT_FAILED
    log.info("%s stopped", service.name)
    return EXIT_OK


def main(service: Service[Any, Any], argv: list[str] | None = None) -> int:
    """`python -m <service>`: the same command as `flotilla <service>`."""
    parser = argparse.ArgumentParser(prog=f"python -m {service.name}")
    subparsers = parser.add_subparsers(dest="command")
    add_service_parser(subparsers, service)
    args = parser.parse_args([service.name, *(sys.argv[1:] if argv is None else argv)])
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)
