"""The service kit: options generated from settings, one opener for NATS, probes that report
every declared check, and a lifecycle that drains on stop — shown on a small example service."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging

import httpx
import pytest
from pydantic import Field, SecretStr

from flotilla.kit import Service, ServiceContext, ServiceFailed, open_service
from flotilla.kit.nats import open_nats, redact_url
from flotilla.kit.options import add_setting_options, option_values
from flotilla.local_servers import free_port
from flotilla.metrics import MetricsRegistry
from flotilla.settings import (
    ProbeSection,
    Section,
    ServiceSettings,
    SettingsError,
    load_settings,
)


class Tuning(Section):
    """A nested section of the example."""

    level: int = Field(default=3, ge=1, description="how hard to try")
    names: dict[str, str] = Field(default_factory=dict, description="JSON object of names")


class ExampleSettings(ServiceSettings):
    """The example service's settings."""

    settings_prefix = "FLOTILLA_EXAMPLE_"

    tuning: Tuning = Field(default_factory=Tuning)
    enabled: bool = Field(default=True, description="whether it works")
    token: SecretStr | None = Field(default=None, description="a secret")


class ExampleMetrics:
    """The example's metrics: one counter."""

    def __init__(self, registry: MetricsRegistry) -> None:
        from prometheus_client import Counter

        self.steps = Counter("flotilla_example_steps", "Steps done.", registry=registry.registry)


async def example_body(ctx: ServiceContext[ExampleSettings, ExampleMetrics]) -> None:
    """Report "work" ready, count a step, wait for the stop, then record the drain."""
    drained: list[str] = ctx.seams["drained"]
    ctx.metrics.steps.inc()
    ctx.health.set("work", True, f"level {ctx.settings.tuning.level}")
    await ctx.stopping.wait()
    drained.append("drained")


EXAMPLE = Service(
    name="example",
    summary="an example",
    description="An example service for the kit's tests.",
    settings=ExampleSettings,
    metrics=ExampleMetrics,
    body=example_body,
    checks=("work", "later"),
)


def _parse(argv: list[str]) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    parser = argparse.ArgumentParser(prog="example")
    options = add_setting_options(parser, ExampleSettings, EXAMPLE.option_prefix())
    args = parser.parse_args(argv)
    args.options = options
    return parser, args


def test_help_lists_every_setting_with_its_variable_and_default() -> None:
    parser, _ = _parse([])
    text = parser.format_help()
    for variable in (
        "FLOTILLA_EXAMPLE_TUNING_LEVEL",
        "FLOTILLA_EXAMPLE_TUNING_NAMES",
        "FLOTILLA_EXAMPLE_ENABLED",
        "FLOTILLA_NATS_URL",
        "FLOTILLA_PROBES_PORT",
        "OTEL_SERVICE_NAME",
    ):
        assert variable in text
    assert "--tuning-level" in text and "(default: 3)" in text
    # A secret is read from the environment only: listed, but never an option.
    assert "--token" not in text
    assert "FLOTILLA_EXAMPLE_TOKEN" in text


def test_an_option_overrides_its_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOTILLA_EXAMPLE_TUNING_LEVEL", "5")
    monkeypatch.setenv("FLOTILLA_EXAMPLE_ENABLED", "true")
    _, args = _parse(["--tuning-level", "7", "--no-enabled"])
    values, names = option_values(args, args.options)
    settings = load_settings(ExampleSettings, values, option_names=names)
    assert settings.tuning.level == 7
    assert settings.enabled is False
    assert load_settings(ExampleSettings).tuning.level == 5


def test_a_bad_value_names_its_option_or_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    _, args = _parse(["--tuning-level", "0"])
    values, names = option_values(args, args.options)
    with pytest.raises(SettingsError, match=r"--tuning-level: Input should be greater"):
        load_settings(ExampleSettings, values, option_names=names)
    monkeypatch.setenv("FLOTILLA_EXAMPLE_TUNING_LEVEL", "many")
    with pytest.raises(SettingsError, match=r"^invalid settings — FLOTILLA_EXAMPLE_TUNING_LEVEL"):
        load_settings(ExampleSettings)


def test_malformed_json_names_its_variable_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOTILLA_EXAMPLE_TUNING_NAMES", '{"a": ')
    with pytest.raises(SettingsError) as caught:
        load_settings(ExampleSettings)
    message = str(caught.value)
    assert message.startswith("FLOTILLA_EXAMPLE_TUNING_NAMES: not valid JSON")
    assert "\n" not in message
    monkeypatch.setenv("FLOTILLA_EXAMPLE_TUNING_NAMES", '{"a": "b"}')
    assert load_settings(ExampleSettings).tuning.names == {"a": "b"}


def test_probe_port_zero_is_a_free_port_and_off_is_spelled_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLOTILLA_PROBES_PORT", "0")
    assert load_settings(ExampleSettings).probes.enabled()
    monkeypatch.setenv("FLOTILLA_PROBES_PORT", "off")
    assert not load_settings(ExampleSettings).probes.enabled()
    monkeypatch.setenv("FLOTILLA_PROBES_PORT", "-1")
    with pytest.raises(SettingsError, match="FLOTILLA_PROBES_PORT: a port number"):
        load_settings(ExampleSettings)


async def test_probes_report_every_declared_check_and_the_metrics() -> None:
    drained: list[str] = []
    settings = ExampleSettings(probes=ProbeSection(host="127.0.0.1", port=0))
    async with open_service(EXAMPLE, settings, seams={"drained": drained}) as running:
        assert running.probe_url is not None
        async with httpx.AsyncClient(base_url=running.probe_url) as client:
            assert (await client.get("/healthz")).status_code == 200

            async def work_reported() -> httpx.Response:
                while True:
                    response = await client.get("/readyz")
                    if json.loads(response.content)["checks"]["work"].startswith("ok"):
                        return response
                    await asyncio.sleep(0.01)

            ready = await asyncio.wait_for(work_reported(), 5)
            # "later" is declared but never reported: the service is not ready, and says why.
            assert ready.status_code == 503
            assert ready.json()["checks"] == {
                "work": "ok: level 3",
                "later": "failing: not reported yet",
            }
            running.ctx.health.set("later", True)
            assert (await client.get("/readyz")).status_code == 200
            metrics = (await client.get("/metrics")).text
            assert "flotilla_example_steps_total 1.0" in metrics
        assert drained == []
    assert drained == ["drained"]


async def test_a_drain_longer_than_the_grace_period_is_cancelled() -> None:
    cancelled = asyncio.Event()

    async def stuck(ctx: ServiceContext[ExampleSettings, ExampleMetrics]) -> None:
        await ctx.stopping.wait()
        try:
            await asyncio.Event().wait()  # never finishes draining by itself
        except asyncio.CancelledError:
            cancelled.set()
            raise

    service = Service(
        name="stuck",
        summary="",
        description="",
        settings=ExampleSettings,
        metrics=ExampleMetrics,
        body=stuck,
    )
    settings = ExampleSettings(
        shutdown_grace_seconds=0.05, probes=ProbeSection.model_validate({"port": "off"})
    )
    async with open_service(service, settings) as running:
        assert running.probe_url is None
    assert cancelled.is_set()


async def test_a_failing_body_is_raised_where_the_service_was_opened() -> None:
    async def failing(ctx: ServiceContext[ExampleSettings, ExampleMetrics]) -> None:
        raise ServiceFailed("cannot work today")

    service = Service(
        name="failing",
        summary="",
        description="",
        settings=ExampleSettings,
        metrics=ExampleMetrics,
        body=failing,
    )
    with pytest.raises(ServiceFailed, match="cannot work today"):
        async with open_service(
            service, ExampleSettings(probes=ProbeSection.model_validate({"port": "off"}))
        ) as running:
            await asyncio.wait_for(asyncio.shield(running.task), 5)


async def test_unreachable_nats_is_one_line_naming_the_url(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"nats://scott:tiger@127.0.0.1:{free_port()}"
    caplog.set_level(logging.WARNING)
    with pytest.raises(ServiceFailed) as caught:
        await open_nats(url, "test", connect_timeout=1.5)
    message = str(caught.value)
    assert message.startswith(f"cannot reach NATS at {redact_url(url)} within 1.5s")
    assert "tiger" not in message and "\n" not in message
    assert all(record.exc_info is None for record in caplog.records), "a traceback was logged"
    assert all("tiger" not in record.getMessage() for record in caplog.records)


async def test_the_nats_opener_connects_and_ensures_the_topology(nats_url: str) -> None:
    nc = await open_nats(nats_url, "test", connect_timeout=5)
    try:
        assert nc.is_connected
    finally:
        await nc.close()


async def test_the_nats_opener_returns_once_connected_while_watching_for_a_stop(
    nats_url: str,
) -> None:
    stopping = asyncio.Event()
    nc = await asyncio.wait_for(
        open_nats(nats_url, "test", connect_timeout=30, stopping=stopping), timeout=5
    )
    try:
        assert nc.is_connected and not stopping.is_set()
    finally:
        await nc.close()


async def test_sigterm_drains_and_closes_resources_in_reverse_order() -> None:
    import os
    import signal

    from flotilla.kit import serve

    events: list[str] = []
    serving = asyncio.Event()

    async def body(ctx: ServiceContext[ExampleSettings, ExampleMetrics]) -> None:
        ctx.stack.callback(events.append, "closed first resource")
        ctx.stack.callback(events.append, "closed second resource")
        serving.set()
        await ctx.stopping.wait()
        events.append("drained")

    service = Service(
        name="signalled",
        summary="",
        description="",
        settings=ExampleSettings,
        metrics=ExampleMetrics,
        body=body,
    )

    async def send_sigterm_when_serving() -> None:
        await serving.wait()
        os.kill(os.getpid(), signal.SIGTERM)

    sender = asyncio.create_task(send_sigterm_when_serving())
    await asyncio.wait_for(
        serve(service, ExampleSettings(probes=ProbeSection.model_validate({"port": "off"}))),
        timeout=10,
    )
    await sender
    assert events == ["drained", "closed second resource", "closed first resource"]


def test_an_inline_section_keeps_the_enclosing_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    from flotilla.settings import INLINE, env_name

    class Inlined(ServiceSettings):
        """Settings whose tuning section is inline."""

        settings_prefix = "FLOTILLA_INLINED_"
        tuning: Tuning = Field(default_factory=Tuning, json_schema_extra=INLINE)

    assert env_name(Inlined, "tuning", "level") == "FLOTILLA_INLINED_LEVEL"
    monkeypatch.setenv("FLOTILLA_INLINED_LEVEL", "9")
    assert load_settings(Inlined).tuning.level == 9
