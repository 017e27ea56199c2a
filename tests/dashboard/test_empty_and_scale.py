"""The dashboard without data: every page says what to do instead of drawing blanks; a page
that cannot reach its data says so; and the overview grid renders 2,000 ships."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conductor.web.app import dashboard_app, serving
from conductor.web.shared import SharedSource
from flotilla.db.pool import PoolSection, open_pool

from .conftest import Browser, Dashboard

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

FLEET = 2000
# Generous: a functional check that the grid renders at all; the real figure is in
# bench/dashboard.py.
RENDER_CAP_MS = 20_000
VERSIONS = [f"{part}version" for part in ("", "role_", "frame_", "behaviour_", "nav_")]
VERSIONS += [f"{part}_version" for part in ("fuel", "cargo", "cooldown", "mounts")]


async def test_every_page_says_what_to_do_when_there_is_no_data(
    bare_dashboard: Dashboard, browser: Browser
) -> None:
    page = browser.page
    await page.goto(bare_dashboard.url + "/")
    await page.locator("#agent .empty", has_text="No agent yet").wait_for()
    await page.locator("#no-ships", has_text="No ships known yet").wait_for()
    await page.locator("#report .empty", has_text="No data for this window").wait_for()
    await browser.screenshot("overview")
    await page.goto(bare_dashboard.url + "/charts")
    for chart in ("cph", "cpr", "saturation", "timing", "credits", "active"):
        await page.locator(f"#chart-{chart} .empty").wait_for()
        assert await page.locator(f"#chart-{chart} svg").count() == 0, chart
    await browser.screenshot("charts")
    await page.goto(bare_dashboard.url + "/plan")
    await page.locator("#roles .empty", has_text="No plan yet").wait_for()
    await page.locator("#decisions .empty", has_text="No saturation decisions").wait_for()
    await browser.screenshot("plan")
    await page.goto(bare_dashboard.url + "/ships/NOBODY-1")
    await page.locator("#unknown", has_text="No ship NOBODY-1 is known").wait_for()
    assert await page.locator("#banner").is_hidden()
    assert browser.outside == []


async def test_a_page_that_cannot_reach_its_data_says_so(
    bare_dashboard: Dashboard, browser: Browser
) -> None:
    # A database nobody listens on: the pages answer, their data does not.
    pool = await open_pool(
        "postgresql://flotilla@127.0.0.1:9/flotilla",
        PoolSection(timeout_seconds=1.0, reconnect_seconds=1.0),
        application_name="dashboard-test",
    )
    source = SharedSource(pool, bare_dashboard.js)
    try:
        async with serving(dashboard_app(source, write_token=None)) as base:
            page = browser.page
            for path in ("/", "/charts", "/plan", "/ships/ANY-1"):
                await page.goto(f"{base}/dashboard{path}")
                banner = page.locator("#banner")
                await banner.wait_for()
                text = await banner.inner_text()
                assert text.startswith("Cannot reach the fleet's data"), text
                assert "database is unreachable" in text, text
            await browser.screenshot()
    finally:
        await pool.close()
    assert browser.outside == []


async def _insert_fleet(board: Dashboard, count: int) -> None:
    now = datetime.now(UTC)
    rows = []
    for i in range(count):
        status = ("IN_TRANSIT", "IN_ORBIT", "DOCKED")[i % 3]
        rows.append(
            (
                f"BIG-{i + 1:04d}",
                "BIG",
                now,
                ("EXCAVATOR", "HAULER", "SATELLITE")[i % 3],
                "FRAME_MINER",
                "mine",
                "X1-BIG",
                f"X1-BIG-{i % 40}",
                status,
                now + timedelta(minutes=5) if status == "IN_TRANSIT" else None,
                now + timedelta(seconds=30 + i % 60) if i % 3 == 1 else None,
                i % 40,
                40,
                100,
                400,
            )
        )
    async with board.pool.connection() as conn:
        cur = conn.cursor()
        await cur.executemany(
            "INSERT INTO ships (symbol, agent, updated_at, role, frame, behaviour,"
            " nav_system_symbol, nav_waypoint_symbol, nav_status, nav_arrival,"
            " cooldown_expiration, cargo_units, cargo_capacity, fuel_current, fuel_capacity,"
            f" {', '.join(VERSIONS)}) VALUES ({', '.join(['%s'] * 15 + ['1'] * len(VERSIONS))})",
            rows,
        )


async def test_the_overview_renders_two_thousand_ships(
    bare_dashboard: Dashboard, browser: Browser
) -> None:
    await _insert_fleet(bare_dashboard, FLEET)
    page = browser.page
    await page.goto(bare_dashboard.url + "/")
    await page.locator(f'body[data-rendered="{FLEET}"]').wait_for()
    assert await page.locator("#ships tbody tr").count() == FLEET
    first_render_ms = float(await page.evaluate("document.body.dataset.firstRenderAt"))
    assert first_render_ms < RENDER_CAP_MS, f"the grid took {first_render_ms:.0f} ms"
    counts = await page.locator("#counts").inner_text()
    assert counts.startswith(f"{FLEET} ships"), counts
    # Filtering 2,000 rows: only cooling-down ships remain.
    await page.select_option("#status", "cooldown")
    shown = await page.locator("#ships tbody td.st").all_inner_texts()
    assert shown and all(text.startswith("cooling down") for text in shown)
    await page.select_option("#status", "")
    await browser.screenshot(full_page=False)  # 2,000 rows make a page too tall to capture
    assert browser.outside == []
