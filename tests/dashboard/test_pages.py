"""The dashboard in a real browser against the running stack with the simulator: the overview
lists the ships, a ship's page shows live numbers, every chart draws data points, the plan
page shows desired vs actual, an override made in the page reaches the assignments, and no
page asks anything of a host other than localhost."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from flotilla.db import analytics

from .conftest import TOKEN, Browser, Dashboard, eventually

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

STATUSES = r"^(in transit|cooling down|ready|parked)"


async def _open(browser: Browser, url: str) -> Any:
    page = browser.page
    await page.goto(url)
    return page


def _assert_all_local(browser: Browser) -> None:
    assert browser.outside == [], f"requests off localhost: {browser.outside}"


async def test_the_overview_lists_every_ship_with_its_status(
    dashboard: Dashboard, browser: Browser
) -> None:
    page = await _open(browser, dashboard.url + "/")
    for symbol in dashboard.ships:
        row = page.locator(f'tr[data-ship="{symbol}"]')
        await row.wait_for()
        cells = await row.locator("td").all_inner_texts()
        assert cells[0].startswith(symbol)
        assert cells[1] in ("mines", "probes"), cells  # the role of its assignment

        assert re.match(STATUSES, cells[4]), cells
    counts = await page.locator("#counts").inner_text()
    assert counts.startswith(f"{len(dashboard.ships)} ships"), counts
    agent = page.locator("#agent .card .value").first
    await eventually(
        lambda: agent.inner_text(), what="the agent card shows the agent's symbol", within=60
    )
    assert "No agent yet" not in await page.locator("#agent").inner_text()
    # The role filter keeps only that role's ships.
    await page.select_option("#role", "mines")
    miners = await page.locator("#ships tbody tr").count()
    assert 0 < miners < len(dashboard.ships)
    await page.select_option("#role", "")
    await browser.screenshot("laptop")
    # Phone width: the page does not overflow sideways (wide tables scroll in their box).
    await page.set_viewport_size({"width": 390, "height": 844})
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"the page is {overflow}px wider than a phone"
    await browser.screenshot("phone")
    _assert_all_local(browser)


async def test_following_a_ship_opens_its_detail_with_live_numbers(
    dashboard: Dashboard, browser: Browser
) -> None:
    page = await _open(browser, dashboard.url + "/")
    miner = dashboard.ships[0]
    await page.locator(f'tr[data-ship="{miner}"] a').click()
    await page.wait_for_url(f"**/ships/{miner}")
    await page.locator("#updated").wait_for()
    assert await page.locator("#symbol").inner_text() == miner
    first = {
        "updated": await page.locator("#updated").inner_text(),
        "cargo": await page.locator("#cargo-units").inner_text(),
    }
    # The ship mines: its hold and its last update change while the page stays open.
    await page.wait_for_function(
        """(first) => document.getElementById("updated").textContent !== first.updated
                   && document.getElementById("cargo-units").textContent !== first.cargo""",
        arg=first,
        timeout=120_000,
    )
    mounts = await page.locator("#nav dd").nth(6).inner_text()
    assert "MOUNT_MINING" in mounts, mounts
    assert await page.locator("#assigned-behaviour").inner_text() == "mine"
    calls = page.locator("#calls tbody tr")
    await calls.first.wait_for()
    assert await calls.count() > 0
    row = await calls.first.locator("td").all_inner_texts()
    assert row[3].endswith(" ms") and row[4].endswith(" ms"), row  # queue wait, wire time
    status = await page.locator("#status-now").inner_text()
    assert status.split(" ")[0] in ("in", "cooling", "ready", "parked"), status
    await browser.screenshot()
    _assert_all_local(browser)


async def _income(board: Dashboard) -> bool:
    async with board.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM credit_minutes WHERE kind = ANY(%s)",
            (list(analytics.INCOME_KINDS),),
        )
        row = await cur.fetchone()
    return bool(row and row[0])


CHARTS = ("cph", "cpr", "saturation", "timing", "credits", "active", "behaviour", "shiptype")


async def test_every_chart_draws_data_points(dashboard: Dashboard, browser: Browser) -> None:
    await eventually(lambda: _income(dashboard), within=240, what="the miner sells its load")
    page = await _open(browser, dashboard.url + "/charts")
    await page.select_option("#window", "1h")
    for chart in CHARTS:
        marks = page.locator(f"#chart-{chart} svg .pt, #chart-{chart} svg .bar")
        await marks.first.wait_for(timeout=60_000)
        assert await marks.count() > 0, chart
    # The saturation chart carries the limit line; the credits chart ends at a known balance.
    assert await page.locator("#chart-saturation svg line.limit").count() == 1
    assert "limit 150/min" in await page.locator("#chart-saturation svg").inner_html()
    await browser.screenshot()
    _assert_all_local(browser)


async def _role_cells(page: Any, role: str) -> tuple[str, str]:
    row = page.locator(f'tr[data-role="{role}"]')
    return (
        await row.locator("td.desired").inner_text(),
        await row.locator("td.actual").inner_text(),
    )


async def test_the_plan_page_shows_desired_vs_actual_and_applies_an_edit(
    dashboard: Dashboard, browser: Browser
) -> None:
    page = await _open(browser, dashboard.url + "/plan")
    await page.locator('tr[data-role="probes"]').wait_for()

    async def both_roles_filled() -> bool:
        # The page updates live: the conductor may assign a role's ship just after it loads.
        return await _role_cells(page, "mines") == ("1", "1") and await _role_cells(
            page, "probes"
        ) == ("1", "1")

    await eventually(both_roles_filled, 60, "desired vs actual 1/1 for both roles")
    assert await _role_cells(page, "mines") == ("1", "1")
    assert await _role_cells(page, "probes") == ("1", "1")
    # A dry run of an edit: one more probe would be bought.
    edited = json.loads(await page.locator("#editor").input_value())
    edited["roles"][1]["count"] = 2
    await page.fill("#editor", json.dumps(edited))

    async def dry_run_buys_a_probe() -> bool:
        # The conductor prices the shipyard its ships started at on its first passes; until
        # that observation is in its view the dry run says no shipyard is known.
        await page.click("#dry-run")
        await page.locator("#result h3", has_text="Dry run").wait_for()
        return "SHIP_PROBE for probes" in await page.locator("#result").inner_text()

    assert await eventually(dry_run_buys_a_probe, within=30, what="the dry run buys a probe")
    # Applying needs the token; with it the edit (a higher reserve) becomes the next revision.
    edited["roles"][1]["count"] = 1
    edited["reserve"] = 150_000
    await page.fill("#editor", json.dumps(edited))
    await page.click("#apply")
    await page.locator("#result .error").wait_for()
    assert "token" in await page.locator("#result").inner_text()
    await page.fill("#token", TOKEN)
    await page.click("#token-form button")
    await page.locator("#token-state", has_text="token accepted").wait_for()
    await page.click("#apply")
    await page.locator("#result .ok").wait_for()
    answer = await page.request.get(f"{dashboard.api_url}/api/v1/plan")
    stored = await answer.json()
    assert stored["revision"] == 2 and stored["author"] == "dashboard", stored
    assert stored["plan"]["reserve"] == 150_000
    await page.locator("#plan-meta", has_text="version 2").wait_for()
    await browser.screenshot()
    _assert_all_local(browser)


async def test_an_override_made_in_the_page_shows_up_in_the_api(
    dashboard: Dashboard, browser: Browser
) -> None:
    probe = dashboard.ships[-1]
    page = await _open(browser, f"{dashboard.url}/ships/{probe}")
    await page.locator("#assigned-behaviour", has_text="probe").wait_for()
    await page.fill("#behaviour", "idle")
    await page.fill("#expires", "30")
    await page.click("#override-set")
    await page.locator("#override-state", has_text="token").wait_for()

    async def overrides() -> list[Any]:
        answer = await page.request.get(f"{dashboard.api_url}/api/v1/overrides")
        assert answer.ok
        return list(await answer.json())

    assert await overrides() == []  # refused without the token
    await page.fill("#token", "not-the-token")
    await page.click("#token-form button")
    await page.locator("#token-state", has_text="token refused").wait_for()
    await page.fill("#token", TOKEN)
    await page.click("#token-form button")
    await page.locator("#token-state", has_text="token accepted").wait_for()
    await page.click("#override-set")
    await page.locator("#override-state", has_text="Override saved").wait_for()
    [held] = await overrides()
    assert held["ship_symbol"] == probe and held["behaviour"] == "idle", held
    assert held["expires_at"], held  # for the 30 minutes asked

    async def manual() -> bool:
        stored = await dashboard.assignment(probe)
        return bool(stored and stored.manual and stored.behaviour == "idle")

    await eventually(manual, within=30, what="the conductor assigns the override")
    await page.locator("#assigned-kind", has_text="manual override").wait_for()
    await browser.screenshot("override")
    await page.click("#override-clear")
    await page.locator("#override-state", has_text="back to the plan").wait_for()
    assert await overrides() == []
    await page.locator("#assigned-behaviour", has_text="probe").wait_for()
    _assert_all_local(browser)
