"""The documentation tells the truth: the configuration reference is what the settings
classes generate, and the README's examples run."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from nats.aio.client import Client as NatsClient

from flotilla.kit import open_service
from flotilla.settings import leaves, load_settings
from tools.settings_doc import DOC_PATH, render

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_the_configuration_reference_is_generated_from_the_settings() -> None:
    assert DOC_PATH.read_text() == render(), "run `python -m tools.settings_doc` (make docs)"


def _python_blocks(text: str) -> list[str]:
    blocks: list[str] = []
    current: list[str] = []
    inside = False
    for line in text.splitlines():
        if line.strip() == "```python":
            inside, current = True, []
        elif inside and line.strip() == "```":
            inside = False
            blocks.append("\n".join(current))
        elif inside:
            current.append(line)
    return blocks


def _block_defining(name: str) -> str:
    readme = (REPO_ROOT / "README.md").read_text()
    found = [block for block in _python_blocks(readme) if name in block]
    assert len(found) == 1, f"expected one README example defining {name}"
    return found[0]


async def test_the_readme_example_service_runs_with_the_kit() -> None:
    namespace: dict[str, Any] = {}
    exec(compile(_block_defining("SERVICE = Service("), "README.md", "exec"), namespace)
    service, settings_cls = namespace["SERVICE"], namespace["EchoSettings"]
    assert [leaf.env for leaf in leaves(settings_cls)][-1] == "FLOTILLA_ECHO_GREETING"
    settings = settings_cls(probes={"host": "127.0.0.1", "port": 0}, greeting="hi")
    async with open_service(service, settings) as running:
        assert running.probe_url is not None
        async with httpx.AsyncClient(base_url=running.probe_url) as client:

            async def readiness() -> Any:
                while True:
                    answer = await client.get("/readyz")
                    if answer.status_code == 200:
                        return answer.json()
                    await asyncio.sleep(0.01)

            ready = await asyncio.wait_for(readiness(), 5)
    assert ready == {"ready": True, "checks": {"serving": "ok: hi"}}


def _client_docstring_example() -> str:
    import flotilla.client

    doc = flotilla.client.__doc__ or ""
    lines = doc.split("\n\n", 2)[1].splitlines()
    body = "\n".join("    " + line.removeprefix("    ") for line in lines)
    return f"async def docstring_example(nc):\n{body}\n"


@pytest.fixture
async def gateway_nc(nats_url: str) -> AsyncIterator[NatsClient]:
    """A gateway (started by the kit) against the simulator, and a NATS client to call it."""
    from gateway.declaration import SERVICE as GATEWAY
    from gateway.settings import GatewaySettings
    from simulator.config import RateLimitSection, SimulatorConfig
    from simulator.server import running_simulator_async

    config = SimulatorConfig(rate_limit=RateLimitSection(enabled=False))
    async with running_simulator_async(config) as base_url:
        settings = load_settings(
            GatewaySettings,
            nats_url=nats_url,
            probes={"port": "off"},
            spacetraders={"base_url": base_url},
        )
        async with open_service(GATEWAY, settings) as running:
            nc = await nats.connect(nats_url)
            try:

                async def serving() -> None:
                    while True:
                        if "service" in running.exposed:
                            return
                        await asyncio.sleep(0.01)

                await asyncio.wait_for(serving(), 30)
                yield nc
            finally:
                await nc.drain()


async def test_the_client_examples_run_against_a_gateway(
    gateway_nc: NatsClient, capsys: pytest.CaptureFixture[str]
) -> None:
    namespace: dict[str, Any] = {}
    exec(compile(_block_defining("async def scan_once("), "README.md", "exec"), namespace)
    first = await namespace["scan_once"](gateway_nc)
    assert re.fullmatch(r"\S+-1 sees [1-9]\d* waypoints", first), first
    # The scan started a cooldown: the same call now meets it as a typed error.
    second = await namespace["scan_once"](gateway_nc)
    assert re.fullmatch(r"\S+-1 cools down until \d{4}-\d\d-\d\d \S+", second), second

    import flotilla.client

    example: dict[str, Any] = dict(vars(flotilla.client))
    exec(compile(_client_docstring_example(), "flotilla/client/__init__.py", "exec"), example)
    await example["docstring_example"](gateway_nc)
    assert capsys.readouterr().out.startswith("cooling down until ")
