"""The dashboard in a real browser against the running stack with the simulator: the overview
lists the ships, a ship's page shows live numbers, every chart draws data points, the plan
page shows desired vs actual, an override made in the page reaches the assignments, and no
page asks anything of a host other than localhost."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Browser, Dashboard, eventually

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
        assert cells[1] in ("mines", "explores"), cells  # the role of its assignment
        import re

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
