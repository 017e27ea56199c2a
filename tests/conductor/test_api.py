"""The conductor's REST API over real HTTP, against a real PostgreSQL whose rows the
persister's writer put there: every endpoint, validation (422 naming the field) and the bearer
token on every write (401 without, 403 wrong)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest
import yaml
from fastapi import APIRouter
from pydantic import SecretStr

from conductor.api import API_PREFIX, create_app
from conductor.api.control import ConductorControl, PauseState
from conductor.saturation import (
    CallSample,
)
from flotilla.clock import ManualClock
from flotilla.db import plan_records
from flotilla.db.pool import PoolSection, open_pool
from flotilla.serving import bind_socket, serving, socket_address
from flotilla.v1 import events_pb2, fleet_pb2

TOKEN = "s3cret-token"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SUBJECTS = {
    events_pb2.ShipState: "flotilla.events.ship",
    events_pb2.Transaction: "flotilla.events.transaction",
    events_pb2.RequestLog: "flotilla.events.request",
    events_pb2.AgentState: "flotilla.events.agent",
}


@contextlib.asynccontextmanager
async def running_api(
    url: str, control: ConductorControl, clock: ManualClock
) -> AsyncIterator[str]:
    """The API over `url`'s database, served on a free port; yields its base URL."""
    pool = await open_pool(url, PoolSection(size=2), application_name="conductor-api-test")
    try:
        app = create_app(control=control, pool=pool, token=SecretStr(TOKEN), clock=clock)
        sock = bind_socket()
        try:
            async with serving(app, sock):
                yield socket_address(sock)
        finally:
            sock.close()
    finally:
        await pool.close()


@pytest.fixture
async def api(filled_url: str, make_control: Any) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    clock = ManualClock(NOW)
    control = make_control(clock)
    async with (
        running_api(filled_url, control, clock) as base,
        httpx.AsyncClient(base_url=base + API_PREFIX, timeout=30) as client,
    ):
        yield client, control


AUTH = {"Authorization": f"Bearer {TOKEN}"}
MINERS: dict[str, Any] = {
    "name": "miners",
    "ship_type": "SHIP_MINING_DRONE",
    "count": 3,
    "behaviour": "mine",
}
PLAN: dict[str, Any] = {
    "roles": [
        MINERS,
        {"name": "scouts", "ship_type": "SHIP_PROBE", "count": 1, "behaviour": "explore"},
    ],
    "credit_reserve": 10_000,
}
PLAN_YAML = """
roles:
  - name: miners
    ship_type: SHIP_MINING_DRONE
    count: 2
    behaviour: mine
credit_reserve: 500
"""


async def test_the_plan_is_replaced_and_read_back_as_json_and_yaml(api: Any) -> None:
    client, _ = api
    assert (await client.get("/plan")).status_code == 404
    put = await client.put("/plan", json=PLAN, headers=AUTH)
    assert put.status_code == 200, put.text
    assert put.json()["revision"] == 1
    got = await client.get("/plan")
    assert got.json()["plan"] == PLAN and got.json()["updated_by"] == "api"
    as_yaml = await client.get("/plan", params={"format": "yaml"})
    assert as_yaml.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(as_yaml.text)["plan"] == PLAN
    by_accept = await client.get("/plan", headers={"Accept": "application/yaml"})
    assert yaml.safe_load(by_accept.text) == yaml.safe_load(as_yaml.text)
    put_yaml = await client.put(
        "/plan", content=PLAN_YAML, headers={**AUTH, "Content-Type": "application/yaml"}
    )
    assert put_yaml.status_code == 200, put_yaml.text
    assert put_yaml.json()["plan"]["roles"][0]["count"] == 2
    history = (await client.get("/plan/history")).json()
    assert [r["revision"] for r in history] == [2, 1]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"count": -1}, ["body", "roles", 0, "count"]),
        ({"ship_type": "SHIP_DEATH_STAR"}, ["body", "roles", 0, "ship_type"]),
        ({"behaviour": "piracy"}, ["body", "roles", 0, "behaviour"]),
    ],
)
async def test_an_invalid_plan_is_422_naming_the_field(
    api: Any, change: dict[str, Any], field: list[Any]
) -> None:
    client, control = api
    bad = {"roles": [{**MINERS, **change}]}
    for path in ("/plan", "/plan/dry-run"):
        response = await client.request(
            "PUT" if path == "/plan" else "POST", path, json=bad, headers=AUTH
        )
        assert response.status_code == 422, response.text
        assert field in [e["loc"] for e in response.json()["detail"]]
    assert control.revisions == []


async def test_a_malformed_document_is_422_and_a_foreign_type_415(api: Any) -> None:
    client, _ = api
    broken = await client.put(
        "/plan", content="roles: [", headers={**AUTH, "Content-Type": "application/yaml"}
    )
    assert broken.status_code == 422 and broken.json()["detail"][0]["loc"] == ["body"]
    not_json = await client.put(
        "/plan", content="{", headers={**AUTH, "Content-Type": "application/json"}
    )
    assert not_json.status_code == 422
    xml = await client.put("/plan", content="<plan/>", headers={**AUTH, "Content-Type": "text/xml"})
    assert xml.status_code == 415


async def test_the_dry_run_answers_for_a_proposed_plan_and_changes_nothing(api: Any) -> None:
    client, control = api
    response = await client.post("/plan/dry-run", json=PLAN)
    assert response.status_code == 200, response.text
    assert response.json()["purchases"] == [
        {"ship_type": "SHIP_MINING_DRONE", "count": 3},
        {"ship_type": "SHIP_PROBE", "count": 1},
    ]
    assert control.revisions == []


WRITES = [
    ("PUT", "/plan", {"json": PLAN}),
    ("PUT", "/ships/AGENT-1/override", {"json": {"behaviour": "idle"}}),
    ("DELETE", "/ships/AGENT-1/override", {}),
    ("POST", "/control/pause", {"json": {"scope": "all"}}),
    ("POST", "/control/resume", {"json": {"scope": "all"}}),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
async def test_every_write_needs_the_token(
    api: Any, method: str, path: str, body: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    client, control = api
    caplog.set_level(logging.DEBUG)
    without = await client.request(method, path, **body)
    assert without.status_code == 401 and without.headers["www-authenticate"] == "Bearer"
    basic = await client.request(method, path, headers={"Authorization": "Basic eDp5"}, **body)
    assert basic.status_code == 401
    wrong = await client.request(
        method, path, headers={"Authorization": "Bearer s3cret-tokeN"}, **body
    )
    assert wrong.status_code == 403
    assert "s3cret" not in wrong.text
    assert control.revisions == [] and control.paused == PauseState(False, False, False)
    assert await control.overrides() == {}
    assert TOKEN not in caplog.text


async def test_without_a_configured_token_every_write_is_refused(
    migrated_url: str, make_control: Any
) -> None:
    clock = ManualClock(NOW)
    control = make_control(clock)
    pool = await open_pool(migrated_url, PoolSection(size=1), application_name="t")
    try:
        app = create_app(control=control, pool=pool, token=None, clock=clock)
        sock = bind_socket()
        async with (
            serving(app, sock),
            httpx.AsyncClient(base_url=socket_address(sock) + API_PREFIX) as client,
        ):
            response = await client.put("/plan", json=PLAN, headers={"Authorization": "Bearer x"})
            assert response.status_code == 403
            assert "no API token is configured" in response.text
        sock.close()
    finally:
        await pool.close()
    assert control.revisions == []


async def test_ships_are_listed_and_filtered(api: Any) -> None:
    client, _ = api
    ships = (await client.get("/ships")).json()
    assert [s["symbol"] for s in ships] == ["AGENT-1", "AGENT-2", "AGENT-3"]
    assert ships[0]["mounts"] == ["MOUNT_MINING_LASER_I"]
    by_behaviour = (await client.get("/ships", params={"behaviour": "mine"})).json()
    assert [s["symbol"] for s in by_behaviour] == ["AGENT-1", "AGENT-2"]
    by_status = (await client.get("/ships", params={"status": "IN_TRANSIT"})).json()
    assert [s["symbol"] for s in by_status] == ["AGENT-3"]
    assert (await client.get("/ships", params={"role": "miners"})).json() == []
    bad = await client.get("/ships", params={"status": "FLYING"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "status"]


async def test_ships_filter_by_the_role_the_conductor_recorded(api: Any, filled_url: str) -> None:
    client, _ = api
    assignment = fleet_pb2.ShipAssignment(
        ship_symbol="AGENT-2", role="miners", behaviour="mine", plan_version=1
    )
    assignment.assigned_at.FromDatetime(NOW)
    async with await psycopg.AsyncConnection.connect(filled_url, autocommit=True) as conn:
        await plan_records.record_assignments(conn, [assignment])
    miners = (await client.get("/ships", params={"role": "miners"})).json()
    assert [s["symbol"] for s in miners] == ["AGENT-2"] and miners[0]["role"] == "miners"


async def test_one_ship_has_its_state_calls_earnings_and_override(api: Any) -> None:
    client, _ = api
    detail = (await client.get("/ships/AGENT-1", params={"minutes": 45})).json()
    assert detail["ship"]["nav_status"] == "IN_ORBIT"
    assert len(detail["requests"]) == 3
    assert detail["requests"][0]["queued_ms"] == 250.0
    assert detail["earnings"]["gross"] == 2_000  # the 1,000 sale was 50 minutes ago
    assert detail["earnings"]["cph_gross"] == pytest.approx(2_000 / 0.75)
    assert detail["override"] is None
    put = await client.put(
        "/ships/AGENT-1/override",
        json={"behaviour": "explore", "params": {"system": "X1-AA"}, "ttl_seconds": 600},
        headers=AUTH,
    )
    assert put.status_code == 200, put.text
    assert put.json()["expires_at"].startswith("2026-06-01T12:10:00")
    detail = (await client.get("/ships/AGENT-1")).json()
    assert detail["override"]["behaviour"] == "explore"
    assert [o["ship_symbol"] for o in (await client.get("/overrides")).json()] == ["AGENT-1"]
    gone = await client.delete("/ships/AGENT-1/override", headers=AUTH)
    assert gone.status_code == 204
    again = await client.delete("/ships/AGENT-1/override", headers=AUTH)
    assert again.status_code == 404
    assert (await client.get("/ships/NOBODY-9")).status_code == 404


async def test_overrides_are_validated(api: Any) -> None:
    client, _ = api
    cases = [
        ({"behaviour": "piracy"}, ["body", "behaviour"], 422),
        ({"behaviour": "idle", "ttl_seconds": -5}, ["body", "ttl_seconds"], 422),
        ({"behaviour": "idle", "expires_at": "2026-06-01T11:00:00Z"}, ["body", "expires_at"], 422),
        (
            {"behaviour": "idle", "expires_at": "2026-06-01T13:00:00Z", "ttl_seconds": 5},
            ["body", "ttl_seconds"],
            422,
        ),
        ({"behaviour": "idle", "colour": "red"}, ["body", "colour"], 422),
    ]
    for body, field, code in cases:
        response = await client.put("/ships/AGENT-1/override", json=body, headers=AUTH)
        assert response.status_code == code, (body, response.text)
        assert field in [e["loc"] for e in response.json()["detail"]], (body, response.text)
    unknown = await client.put("/ships/NOBODY-9/override", json={"behaviour": "idle"}, headers=AUTH)
    assert unknown.status_code == 404


async def test_stats_and_the_minute_series(api: Any) -> None:
    client, _ = api
    stats = (await client.get("/stats", params={"minutes": 60})).json()
    assert (stats["gross"], stats["spent"], stats["requests"]) == (3_600, 0, 4)
    assert stats["cph_gross"] == pytest.approx(3_600)
    assert stats["ships"] == 3
    assert [s["key"] for s in stats["top_ships"]] == ["AGENT-1", "AGENT-2"]
    timing = {t["priority"]: t for t in stats["timing"]}
    assert timing["all"]["queue_wait_seconds"] == pytest.approx((3 * 0.25 + 0.75) / 4)
    earlier = (
        await client.get("/stats", params={"minutes": 15, "until": "2026-06-01T11:15:00Z"})
    ).json()
    assert earlier["gross"] == 1_000
    series = (await client.get("/stats/series", params={"minutes": 60})).json()
    assert len(series) == 60
    assert sum(m["gross"] for m in series) == 3_600
    assert [m["requests"] for m in series if m["requests"]] == [1, 1, 2]
    too_long = await client.get("/stats", params={"minutes": 0})
    assert too_long.status_code == 422 and too_long.json()["detail"][0]["loc"] == [
        "query",
        "minutes",
    ]


async def test_agents(api: Any) -> None:
    client, _ = api
    agents = (await client.get("/agents")).json()
    assert [(a["symbol"], a["credits"], a["ship_count"]) for a in agents] == [("AGENT", 175_000, 3)]


async def test_pause_and_resume(api: Any) -> None:
    client, _ = api
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


async def test_saturation_shows_the_load_and_the_decisions(api: Any) -> None:
    client, control = api
    clock = control.clock
    for second in range(60):
        control.load_monitor.record(
            CallSample(clock.time() - second, "cooldown_start", queued_seconds=4.0, attempts=3)
        )
    load = control.now_load()
    for _ in range(14):
        clock.advance(5)
        control.saturation.decide(load, {"AGENT-1": 3_000.0, "AGENT-2": 600.0})
    body = (await client.get("/saturation")).json()
    assert body["top_class"] == "cooldown_start"
    assert body["purchases_paused"] is True
    assert list(body["parked"]) == ["AGENT-2"]
    assert [d["action"] for d in body["decisions"]] == ["pause_purchases", "park"]
    assert body["decisions"][1]["ships"] == ["AGENT-2"]
    assert "oversaturated" in body["decisions"][1]["reason"]
    assert body["decisions"][1]["utilisation"] == pytest.approx(180 / 150)


async def test_the_openapi_document_and_its_pages(api: Any) -> None:
    client, _ = api
    root = str(client.base_url).rstrip("/").removesuffix(API_PREFIX)
    async with httpx.AsyncClient(base_url=root) as plain:
        schema = (await plain.get("/openapi.json")).json()
        assert (await plain.get("/docs")).status_code == 200
    assert {
        f"{API_PREFIX}/plan",
        f"{API_PREFIX}/ships/{{symbol}}",
        f"{API_PREFIX}/saturation",
    } <= set(schema["paths"])
    put_plan = schema["paths"][f"{API_PREFIX}/plan"]["put"]
    assert put_plan["security"] == [{"HTTPBearer": []}]
    assert "application/yaml" in put_plan["requestBody"]["content"]


async def test_extra_routers_are_mounted_beside_the_api(
    migrated_url: str, make_control: Any
) -> None:
    clock = ManualClock(NOW)
    pages = APIRouter()

    @pages.get("/hello")
    async def hello() -> dict[str, str]:
        return {"page": "hello"}

    pool = await open_pool(migrated_url, PoolSection(size=1), application_name="t")
    try:
        app = create_app(
            control=make_control(clock),
            pool=pool,
            token=None,
            clock=clock,
            extra_routers=[pages],
        )
        sock = bind_socket()
        async with (
            serving(app, sock),
            httpx.AsyncClient(base_url=socket_address(sock)) as client,
        ):
            assert (await client.get("/hello")).json() == {"page": "hello"}
        sock.close()
    finally:
        await pool.close()
