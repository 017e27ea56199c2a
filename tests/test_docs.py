"""The documentation tells the truth: the configuration reference is what the settings
classes generate, and the README's examples run."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from flotilla.kit import open_service
from flotilla.settings import leaves
from tools.settings_doc import DOC_PATH, render

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_the_configuration_reference_is_generated_from_the_settings() -> None:
    assert DOC_PATH.read_text() == render(), "run `python -m tools.settings_doc` (make docs)"


def _python_blocks(text: str) -> list[str]:
    blocks, inside, current = [], False, []
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
