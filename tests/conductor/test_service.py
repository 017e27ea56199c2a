"""The conductor as the kit runs it: readiness follows the database (and its schema) and the
view; the metrics show the plan revision, desired and actual ships per role, purchases and
reconcile passes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from conductor.declaration import SERVICE as CONDUCTOR
from flotilla.db import migrate
from flotilla.kit import open_service
from tests.conductor.stack import full_stack, wait_for

pytestmark = pytest.mark.slow

PLAN = """\
reserve: 100000
roles:
  - {name: miners, ship_type: SHIP_MINING_DRONE, count: 1, behaviour: mine}
  - {name: watch, ship_type: SHIP_PROBE, count: 1, behaviour: probe}
"""


async def _get(url: str, path: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url) as client:
        return await client.get(path)


async def test_readiness_follows_the_schema_and_the_metrics_show_the_plan(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    async with full_stack(nats_url, database_url, tmp_path) as stack:
        settings = stack.conductor_settings(PLAN, probes={"port": 0, "host": "127.0.0.1"})
        async with open_service(CONDUCTOR, settings) as running:
            assert running.probe_url is not None
            url = running.probe_url
            ready: dict[str, Any] = {}

            async def reported() -> bool:
                answer = await _get(url, "/readyz")
                ready.update(answer.json())
                return answer.status_code == 503 and "schema" in ready["checks"]["database"]

            await wait_for(reported, 30, "the missing schema reported")
            assert ready["checks"]["nats"].startswith("ok")
            migrate.upgrade(database_url)

            async def is_ready() -> bool:
                return (await _get(url, "/readyz")).status_code == 200

            await wait_for(is_ready, 30, "ready once migrated")

            async def bought() -> bool:
                text = (await _get(url, "/metrics")).text
                return 'flotilla_conductor_purchases_total{outcome="bought"} 1.0' in text

            await wait_for(bought, 60, "a purchase counted")
            text = (await _get(url, "/metrics")).text
            assert "flotilla_conductor_plan_revision 1.0" in text
            assert 'flotilla_conductor_role_desired_ships{role="miners"} 1.0' in text
            assert "flotilla_conductor_leader 1.0" in text
            assert "flotilla_conductor_reconcile_seconds_count" in text

            async def actual() -> bool:
                text = (await _get(url, "/metrics")).text
                return 'flotilla_conductor_role_actual_ships{role="miners"} 1.0' in text

            await wait_for(actual, 30, "the bought ship matched to its role")
