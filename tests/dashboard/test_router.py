"""The dashboard's routes over HTTP (no browser): assets served from the package with nothing
fetched from elsewhere, windows and bodies checked with 422 naming the field, and writes that
need the token (401 without, 403 wrong or none configured)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from conductor.web import parse_window
from conductor.web.app import dashboard_app
from conductor.web.router import ASSETS
from conductor.web.shared import SharedSource
from flotilla.db import migrate

from .conftest import TOKEN, connections


@pytest.fixture
async def client(nats_url: str, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    migrate.upgrade(database_url)
    async with connections(nats_url, database_url) as (_, js, pool):
        source = SharedSource(pool, js)
        await source.start()
        app = dashboard_app(source, write_token=TOKEN)
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://local") as c:
                yield c
        finally:
            await source.stop()


def test_windows_are_minutes_hours_or_days_up_to_ninety_days() -> None:
    assert parse_window("30m").total_seconds() == 1800
    assert parse_window("7d").days == 7
    for bad in ("", "0h", "7w", "1.5h", "91d", "h"):
        with pytest.raises(ValueError):
            parse_window(bad)


async def test_every_page_and_asset_is_served_and_asks_for_nothing_elsewhere(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/dashboard/", "/dashboard/charts", "/dashboard/plan", "/dashboard/ships/X-1"):
        page = await client.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        for src in re.findall(r'(?:src|href)="([^"]+)"', page.text):
            assert src.startswith(("/dashboard", "data:")), src
    for name, kind in ASSETS.items():
        asset = await client.get(f"/dashboard/static/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"] == kind
        # No address of another host anywhere in the code (the SVG namespace is a name only).
        hosts = set(re.findall(r"https?://[^\s\"'`]+", asset.text)) - {"http://www.w3.org/2000/svg"}
        assert hosts == set(), (name, hosts)
    assert (await client.get("/dashboard/static/../router.py")).status_code == 404
    assert (await client.get("/dashboard/static/missing.js")).status_code == 404


async def test_a_bad_window_is_422_naming_it(client: httpx.AsyncClient) -> None:
    answer = await client.get("/dashboard/data/charts", params={"window": "forever"})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["query", "window"]


async def test_writes_need_the_token(client: httpx.AsyncClient) -> None:
    plan: dict[str, Any] = {"roles": []}
    assert (await client.put("/dashboard/data/plan", json=plan)).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert (await client.put("/dashboard/data/plan", json=plan, headers=wrong)).status_code == 403
    assert (await client.get("/dashboard/data/auth", headers=wrong)).status_code == 403
    right = {"Authorization": f"Bearer {TOKEN}"}
    assert (await client.get("/dashboard/data/auth", headers=right)).status_code == 200
    override = await client.put(
        "/dashboard/data/ships/X-1/override", json={"behaviour": "idle"}, headers=wrong
    )
    assert override.status_code == 403


async def test_a_plan_that_does_not_hold_is_422_naming_the_field(
    client: httpx.AsyncClient,
) -> None:
    right = {"Authorization": f"Bearer {TOKEN}"}
    bad = {"roles": [{"name": "m", "ship_type": "SHIP_PROBE", "count": -1, "behaviour": "probe"}]}
    for answer in (
        await client.put("/dashboard/data/plan", json=bad, headers=right),
        await client.post("/dashboard/data/plan/dry-run", json=bad),
    ):
        assert answer.status_code == 422
        assert answer.json()["detail"][0]["loc"] == ["body", "roles", "0", "count"]
    override = await client.put(
        "/dashboard/data/ships/X-1/override",
        json={"behaviour": "idle", "expires_minutes": -5},
        headers=right,
    )
    assert override.status_code == 422
    assert override.json()["detail"][0]["loc"] == ["body", "expires_minutes"]
    unknown = await client.put(
        "/dashboard/data/ships/X-1/override", json={"behaviour": "idle"}, headers=right
    )
    assert unknown.status_code == 404 and "X-1" in unknown.json()["detail"]


async def test_the_plan_applied_is_the_next_version_and_shown(client: httpx.AsyncClient) -> None:
    right = {"Authorization": f"Bearer {TOKEN}"}
    plan: dict[str, Any] = {
        "roles": [{"name": "m", "ship_type": "SHIP_PROBE", "count": 2, "behaviour": "probe"}]
    }
    for version in (1, 2):
        stored = await client.put("/dashboard/data/plan", json=plan, headers=right)
        assert stored.status_code == 200 and stored.json()["version"] == version
    shown = (await client.get("/dashboard/data/plan")).json()
    assert shown["plan"]["version"] == 2 and shown["plan"]["updated_by"] == "dashboard"
    assert shown["roles"] == [
        {
            "name": "m",
            "ship_type": "SHIP_PROBE",
            "behaviour": "probe",
            "desired": 2,
            "actual": 0,
            "parked": 0,
        }
    ]
    dry = (await client.post("/dashboard/data/plan/dry-run", json=plan)).json()
    assert dry["purchases"] == [{"role": "m", "ship_type": "SHIP_PROBE", "count": 2}]
