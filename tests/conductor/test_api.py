"""The conductor's REST API over real HTTP, served by the conductor's own body (started by the
service kit, against the simulator through a gateway) on a real PostgreSQL that the persister's
writer filled: every endpoint, validation (422 naming the field) and the bearer token on every
write (401 without, 403 wrong, never logged)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import yaml
from fastapi import APIRouter

from conductor.api import API_PREFIX, create_app
from conductor.saturation import CallSample
from flotilla.clock import ManualClock
from flotilla.db.pool import PoolSection, open_pool
from flotilla.serving import bind_socket, serving, socket_address

pytestmark = pytest.mark.slow  # each test runs the simulator, a gateway and a conductor

TOKEN = "s3cret-token"  # API_TOKEN of the stack
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MINERS: dict[str, Any] = {
    "name": "miners",
    "ship_type": "SHIP_MINING_DRONE",
    "count": 2,
    "behaviour": "mine",
}
PLAN: dict[str, Any] = {
    "reserve": 10_000,
    "roles": [
        {"name": "command", "ship_type": "SHIP_COMMAND_FRIGATE", "count": 1, "behaviour": "mine"},
        {"name": "watch", "ship_type": "SHIP_PROBE", "count": 1, "behaviour": "probe"},
        MINERS,
    ],
}
PLAN_YAML = """
reserve: 500
roles:
  - name: command
    ship_type: SHIP_COMMAND_FRIGATE
    count: 1
    behaviour: idle
"""


@pytest.fixture
async def client(stack: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.base_url + API_PREFIX, timeout=30) as c:
        yield c


async def test_the_plan_is_replaced_read_back_and_dry_run(
    stack: Any, client: httpx.AsyncClient, eventually: Any
) -> None:
    first = (await client.get("/plan")).json()
    assert first["revision"] == 1 and first["plan"]["roles"] == []
    # The leader reads the shipyard where the probe is docked: then purchases can be planned.
    await eventually(lambda: stack.conductor.view.offers(), 60, "a shipyard's prices known")
    # The dry run of a proposed plan answers what the reconciler would do, and changes nothing.
    dry = await client.post("/plan/dry-run", json=PLAN)
    assert dry.status_code == 200, dry.text
    answer = dry.json()
    assert answer["desired"] == {"command": 1, "watch": 1, "miners": 2}
    assert answer["actual"] == {"command": 1, "watch": 1, "miners": 0}
    assert {a["role"] for a in answer["assignments"]} == {"command", "watch"}
    purchases = answer["purchases"]
    assert [(p["role"], p["ship_type"]) for p in purchases] == [("miners", "SHIP_MINING_DRONE")] * 2
    assert all(p["credits_after"] >= PLAN["reserve"] for p in purchases)
    assert (await client.get("/plan")).json()["revision"] == 1

    put = await client.put("/plan", json=PLAN, headers=AUTH)
    assert put.status_code == 200, put.text
    assert (put.json()["revision"], put.json()["author"]) == (2, "api")
    got = await client.get("/plan")
    assert got.json()["plan"]["roles"][2]["name"] == "miners"
    as_yaml = await client.get("/plan", params={"format": "yaml"})
    assert as_yaml.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(as_yaml.text) == got.json() | {"created_at": got.json()["created_at"]}
    by_accept = await client.get("/plan", headers={"Accept": "application/yaml"})
    assert yaml.safe_load(by_accept.text) == yaml.safe_load(as_yaml.text)

    put_yaml = await client.put(
        "/plan", content=PLAN_YAML, headers={**AUTH, "Content-Type": "application/yaml"}
    )
    assert put_yaml.status_code == 200, put_yaml.text
    assert put_yaml.json()["plan"]["reserve"] == 500
    stale = await client.put("/plan", json=PLAN, params={"expected_revision": 2}, headers=AUTH)
    assert stale.status_code == 409 and "revision 3" in stale.text
    history = (await client.get("/plan/history")).json()
    assert [r["revision"] for r in history] == [3, 2, 1]
    # The conductor applies what was put: the command frigate is assigned idle by role.
    frigate = next(
        s for s in (await client.get("/ships")).json() if s["ship_type"] == "SHIP_COMMAND_FRIGATE"
    )

    async def frigate_assigned() -> bool:
        ship = (await client.get(f"/ships/{frigate['symbol']}")).json()["ship"]
        return bool(ship["role"] == "command" and ship["behaviour"] == "idle")

    await eventually(frigate_assigned, 30, "the frigate assigned to the command role")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"count": -1}, ["body", "roles", 0, "count"]),
        ({"ship_type": "SHIP_DEATH_STAR"}, ["body", "roles", 0, "ship_type"]),
        ({"behaviour": "piracy"}, ["body", "roles", 0, "behaviour"]),
        ({"mounts": ["MOUNT_TRACTOR_BEAM"]}, ["body", "roles", 0, "mounts"]),
        ({"priority": "high"}, ["body", "roles", 0, "priority"]),
    ],
)
async def test_an_invalid_plan_is_422_naming_the_field(
    stack: Any, client: httpx.AsyncClient, change: dict[str, Any], field: list[Any]
) -> None:
    bad = {"roles": [{**MINERS, **change}]}
    for method, path in (("PUT", "/plan"), ("POST", "/plan/dry-run")):
        response = await client.request(method, path, json=bad, headers=AUTH)
        assert response.status_code == 422, response.text
        assert field in [e["loc"][: len(field)] for e in response.json()["detail"]], response.text
    assert (await client.get("/plan")).json()["revision"] == 1
    broken = await client.put(
        "/plan", content="roles: [", headers={**AUTH, "Content-Type": "application/yaml"}
    )
    assert broken.status_code == 422 and broken.json()["detail"][0]["loc"] == ["body"]
    not_json = await client.put("/plan", content="{", headers={**AUTH})
    assert not_json.status_code == 422
    xml = await client.put("/plan", content="<plan/>", headers={**AUTH, "Content-Type": "text/xml"})
    assert xml.status_code == 415
    unknown = await client.put("/plan", json={"roles": [], "budget": 5}, headers=AUTH)
    assert unknown.status_code == 422 and ["body", "budget"] in [
        e["loc"] for e in unknown.json()["detail"]
    ]


WRITES: list[tuple[str, str, dict[str, Any]]] = [
    ("PUT", "/plan", {"json": PLAN}),
    ("PUT", "/ships/{ship}/override", {"json": {"behaviour": "idle"}}),
    ("DELETE", "/ships/{ship}/override", {}),
    ("POST", "/control/pause", {"json": {"scope": "all"}}),
    ("POST", "/control/resume", {"json": {"scope": "purchases"}}),
]


async def test_every_write_needs_the_token(
    stack: Any, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ship = stack.ships()[0]
    for method, template, body in WRITES:
        path = template.format(ship=ship)
        without = await client.request(method, path, **body)
        assert without.status_code == 401, (path, without.text)
        assert without.headers["www-authenticate"] == "Bearer"
        basic = await client.request(method, path, headers={"Authorization": "Basic eDp5"}, **body)
        assert basic.status_code == 401
        wrong = await client.request(
            method, path, headers={"Authorization": "Bearer s3cret-tokeN"}, **body
        )
        assert wrong.status_code == 403, (path, wrong.text)
        assert "s3cret" not in wrong.text
    assert (await client.get("/plan")).json()["revision"] == 1
    assert (await client.get("/overrides")).json() == []
    control = (await client.get("/control")).json()
    assert (control["purchases"], control["everything"]) == (False, False)
    assert TOKEN not in caplog.text


async def test_without_a_configured_token_every_write_is_refused(stack: Any) -> None:
    pool = await open_pool(stack.database_url, PoolSection(size=1), application_name="t")
    pages = APIRouter()

    @pages.get("/hello")
    async def hello() -> dict[str, str]:
        return {"page": "hello"}

    try:
        app = create_app(
            conductor=stack.conductor,
            saturation=stack.saturation,
            pool=pool,
            token=None,
            clock=ManualClock(),
            extra_routers=[pages],
        )
        sock = bind_socket()
        async with serving(app, sock), httpx.AsyncClient(base_url=socket_address(sock)) as c:
            response = await c.put(f"{API_PREFIX}/plan", json=PLAN, headers=AUTH)
            assert response.status_code == 403
            assert "no API token is configured" in response.text
            # Routers given to the factory are mounted beside the API (the web pages' place).
            assert (await c.get("/hello")).json() == {"page": "hello"}
        sock.close()
    finally:
        await pool.close()
    assert (await stack.conductor.get_plan()).revision == 1


async def test_ships_one_ship_and_overrides(stack: Any, client: httpx.AsyncClient) -> None:
    first, second = stack.ships()[:2]
    ships = (await client.get("/ships")).json()
    assert [s["symbol"] for s in ships] == stack.ships()
    by_symbol = {s["symbol"]: s for s in ships}
    assert by_symbol[first]["state"]["nav_status"] == "IN_ORBIT"  # the database's row
    assert by_symbol[first]["state"]["mounts"] == ["MOUNT_MINING_LASER_I"]
    types = {s["ship_type"] for s in ships}
    assert types == {"SHIP_COMMAND_FRIGATE", "SHIP_PROBE"}
    status = by_symbol[first]["status"]
    by_status = (await client.get("/ships", params={"status": status})).json()
    assert first in [s["symbol"] for s in by_status]
    assert all(s["status"] == status for s in by_status)
    assert (await client.get("/ships", params={"role": "nobody"})).json() == []
    bad = await client.get("/ships", params={"status": "FLYING"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "status"]

    detail = (await client.get(f"/ships/{first}", params={"minutes": 45})).json()
    assert len(detail["requests"]) == 3
    assert detail["requests"][0]["queued_ms"] == 250.0
    assert detail["earnings"]["gross"] == 2_000  # the 1,000 sale was 50 minutes ago
    assert detail["earnings"]["cph_gross"] == pytest.approx(2_000 / 0.75)
    assert detail["ship"]["override"] is None
    assert (await client.get("/ships/NOBODY-9")).status_code == 404

    put = await client.put(
        f"/ships/{first}/override",
        json={"behaviour": "probe", "params": {"market": "X1-AA-A1"}, "ttl_seconds": 600},
        headers=AUTH,
    )
    assert put.status_code == 200, put.text
    expires = datetime.fromisoformat(put.json()["expires_at"])
    assert timedelta(seconds=590) < expires - datetime.now(UTC) <= timedelta(seconds=600)
    assert [o["ship_symbol"] for o in (await client.get("/overrides")).json()] == [first]
    in_detail = (await client.get(f"/ships/{first}")).json()["ship"]["override"]
    assert in_detail is not None and in_detail["behaviour"] == "probe"
    assert (await client.delete(f"/ships/{first}/override", headers=AUTH)).status_code == 204
    assert (await client.delete(f"/ships/{first}/override", headers=AUTH)).status_code == 404
    assert (await client.get("/overrides")).json() == []
    decisions = (await client.get("/decisions", params={"kind": "override"})).json()
    assert [d["ship"] for d in decisions] == [first]

    cases = [
        ({"behaviour": "piracy"}, ["body", "behaviour"]),
        ({"behaviour": "idle", "ttl_seconds": -5}, ["body", "ttl_seconds"]),
        ({"behaviour": "idle", "expires_at": "2020-06-01T11:00:00Z"}, ["body", "expires_at"]),
        (
            {"behaviour": "idle", "expires_at": "2099-06-01T13:00:00Z", "ttl_seconds": 5},
            ["body", "ttl_seconds"],
        ),
        ({"behaviour": "idle", "colour": "red"}, ["body", "colour"]),
    ]
    for body, field in cases:
        response = await client.put(f"/ships/{second}/override", json=body, headers=AUTH)
        assert response.status_code == 422, (body, response.text)
        assert field in [e["loc"] for e in response.json()["detail"]], (body, response.text)
    unknown = await client.put("/ships/NOBODY-9/override", json={"behaviour": "idle"}, headers=AUTH)
    assert unknown.status_code == 404


async def test_stats_the_minute_series_and_agents(stack: Any, client: httpx.AsyncClient) -> None:
    first, second = stack.ships()[:2]
    stats = (await client.get("/stats", params={"minutes": 60})).json()
    assert (stats["gross"], stats["spent"], stats["requests"]) == (3_600, 0, 4)
    assert stats["cph_gross"] == pytest.approx(3_600)
    assert [s["key"] for s in stats["top_ships"]] == [first, second]
    timing = {t["priority"]: t for t in stats["timing"]}
    assert timing["all"]["queue_wait_seconds"] == pytest.approx((3 * 0.25 + 0.75) / 4)
    until = (datetime.now(UTC) - timedelta(minutes=35)).isoformat()
    earlier = (await client.get("/stats", params={"minutes": 20, "until": until})).json()
    assert earlier["gross"] == 1_000  # only the sale 50 minutes ago
    series = (await client.get("/stats/series", params={"minutes": 60})).json()
    assert len(series) in (60, 61)
    assert sum(m["gross"] for m in series) == 3_600
    assert sum(m["requests"] for m in series) == 4
    zero = await client.get("/stats", params={"minutes": 0})
    assert zero.status_code == 422 and zero.json()["detail"][0]["loc"] == ["query", "minutes"]
    agents = (await client.get("/agents")).json()
    assert [(a["symbol"], a["credits"]) for a in agents] == [(stack.agent, 175_000)]


async def test_pause_resume_and_saturation(stack: Any, client: httpx.AsyncClient) -> None:
    assert (await client.get("/control")).json()["everything"] is False
    paused = await client.post("/control/pause", json={"scope": "purchases"}, headers=AUTH)
    assert paused.json() == {
        "purchases": True,
        "everything": False,
        "saturation_holds_purchases": False,
    }
    await client.post("/control/pause", json={"scope": "all"}, headers=AUTH)
    assert (await client.get("/control")).json()["everything"] is True
    await client.post("/control/resume", json={"scope": "all"}, headers=AUTH)
    state = (await client.get("/control")).json()
    assert (state["purchases"], state["everything"]) == (True, False)
    await client.post("/control/resume", json={"scope": "purchases"}, headers=AUTH)
    assert (await client.get("/control")).json()["purchases"] is False
    bad = await client.post("/control/pause", json={"scope": "some"}, headers=AUTH)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "scope"]
    assert len((await client.get("/decisions", params={"kind": "pause"})).json()) == 4

    # The load the saturation loop measures, and its decisions with their reasons.
    saturation = stack.saturation
    now = saturation.clock.time()
    for second in range(50):
        saturation.monitor.record(CallSample(now - second, "cooldown_start", 4.0, 3))
    body = (await client.get("/saturation")).json()
    assert body["top_class"] == "cooldown_start"  # no dispatcher runs: none but these
    assert body["top_class_wait"] == pytest.approx(4.0)
    # 150 requests recorded here, plus the conductor's own calls through the gateway.
    assert body["utilisation"] >= 150 / 150
    assert (body["purchases_held"], body["parked"], body["decisions"]) == (False, {}, [])
    await stack.conductor.record(
        "saturation", "park: oversaturated", ship=stack.ships()[0], figures={"action": "park"}
    )
    decisions = (await client.get("/saturation")).json()["decisions"]
    assert [(d["kind"], d["ship"], d["reason"]) for d in decisions] == [
        ("saturation", stack.ships()[0], "park: oversaturated")
    ]


async def test_the_openapi_document_and_its_pages(stack: Any) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url) as plain:
        schema = (await plain.get("/openapi.json")).json()
        assert (await plain.get("/docs")).status_code == 200
    paths = set(schema["paths"])
    for path in ("/plan", "/plan/dry-run", "/ships/{symbol}/override", "/saturation", "/agents"):
        assert f"{API_PREFIX}{path}" in paths
    put_plan = schema["paths"][f"{API_PREFIX}/plan"]["put"]
    assert put_plan["security"] == [{"HTTPBearer": []}]
    body = put_plan["requestBody"]["content"]
    assert set(body) == {"application/json", "application/yaml"}
    role = body["application/json"]["schema"]["properties"]["roles"]["items"]
    assert role["properties"]["count"]["minimum"] == 0
