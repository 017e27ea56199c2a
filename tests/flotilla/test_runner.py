"""The service runner drains on SIGTERM, closes resources in reverse, and bounds the drain."""

from __future__ import annotations

import asyncio
import os
import signal
from contextlib import AsyncExitStack

from flotilla.runner import EXIT_BAD_SETTINGS, run_service, serve
from flotilla.settings import DatabaseSettings, ServiceSettings


async def test_sigterm_drains_and_closes_resources_in_reverse_order() -> None:
    events: list[str] = []
    serving = asyncio.Event()

    async def main(
        settings: ServiceSettings, stack: AsyncExitStack, stopping: asyncio.Event
    ) -> None:
        stack.callback(events.append, "closed first resource")
        stack.callback(events.append, "closed second resource")
        serving.set()
        await stopping.wait()
        events.append("drained")

    async def send_sigterm_when_serving() -> None:
        await serving.wait()
        os.kill(os.getpid(), signal.SIGTERM)

    sender = asyncio.create_task(send_sigterm_when_serving())
    await asyncio.wait_for(serve(ServiceSettings(), main), timeout=10)
    await sender
    assert events == ["drained", "closed second resource", "closed first resource"]


async def test_a_drain_longer_than_the_grace_period_is_cancelled() -> None:
    cancelled = asyncio.Event()
    closed: list[str] = []

    async def stuck(
        settings: ServiceSettings, stack: AsyncExitStack, stopping: asyncio.Event
    ) -> None:
        stack.callback(closed.append, "resource")
        await stopping.wait()
        try:
            await asyncio.Event().wait()  # never finishes draining by itself
        except asyncio.CancelledError:
            cancelled.set()
            raise

    stopping = asyncio.Event()
    stopping.set()
    settings = ServiceSettings(shutdown_grace_seconds=0.05)
    await asyncio.wait_for(serve(settings, stuck, stopping), timeout=10)
    assert cancelled.is_set()
    assert closed == ["resource"]


def test_bad_settings_stop_the_service_with_a_message_naming_the_variable(
    monkeypatch: object, capsys: object
) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.delenv("FLOTILLA_DATABASE_URL", raising=False)

    async def never(
        settings: DatabaseSettings, stack: AsyncExitStack, stopping: asyncio.Event
    ) -> None:
        raise AssertionError("must not start")

    assert run_service("persister", DatabaseSettings, never) == EXIT_BAD_SETTINGS
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert "FLOTILLA_DATABASE_URL" in err
