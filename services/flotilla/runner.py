"""The service runner: settings, logging, resources on an `AsyncExitStack`, and SIGTERM/SIGINT
turned into a graceful drain and a clean exit.

A service is an async function `main(settings, stack, stopping)`: it opens its resources on
`stack`, serves until `stopping` is set, and returns; the runner then closes the resources in
reverse order. A second signal, or a drain longer than the grace period, ends the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from typing import Any, TypeVar

from flotilla.logs import configure_logging
from flotilla.settings import ServiceSettings, SettingsError, load_settings

S = TypeVar("S", bound=ServiceSettings)
ServiceMain = Callable[[S, AsyncExitStack, asyncio.Event], Coroutine[Any, Any, None]]

log = logging.getLogger("flotilla.runner")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_SETTINGS = 2


def install_stop_signals(stopping: asyncio.Event) -> Callable[[], None]:
    """Set `stopping` on the first SIGTERM/SIGINT; return a function that removes the handlers."""
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


async def serve(settings: S, main: ServiceMain[S], stopping: asyncio.Event | None = None) -> None:
    """Run `main` with a fresh exit stack until it returns, closing resources in reverse.

    Once `stopping` is set, `main` has `settings.shutdown_grace_seconds` to return before it is
    cancelled, so a stuck drain can never keep a pod from terminating.
    """
    stopping = stopping or asyncio.Event()
    remove_handlers = install_stop_signals(stopping)
    try:
        async with AsyncExitStack() as stack:
            body = asyncio.create_task(main(settings, stack, stopping))
            stop_requested = asyncio.create_task(stopping.wait())
            try:
                await asyncio.wait({body, stop_requested}, return_when=asyncio.FIRST_COMPLETED)
                if not body.done():
                    try:
                        await asyncio.wait_for(
                            asyncio.shield(body), settings.shutdown_grace_seconds
                        )
                    except TimeoutError:
                        log.warning(
                            "drain took longer than %.1fs: cancelling",
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
            log.info("draining resources")
    finally:
        remove_handlers()


def run_service(name: str, settings_cls: type[S], main: ServiceMain[S]) -> int:
    """Start service `name`: build its settings, configure logging, serve; return an exit code."""
    try:
        settings = load_settings(settings_cls)
    except SettingsError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    configure_logging(name, settings.log_level, settings.log_format)
    log.info("starting %s", name)
    try:
        asyncio.run(serve(settings, main))
    except SystemExit as exc:
        return int(exc.code or 0)
    except Exception:
        log.exception("%s failed", name)
        return EXIT_FAILED
    log.info("%s stopped", name)
    return EXIT_OK
