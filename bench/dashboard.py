"""Benchmark: how fast the fleet overview shows a large fleet in a real browser.

Embedded PostgreSQL and NATS; the ships table filled with N ships (a third in transit, a third
cooling down); the dashboard served on a local port; Debian's Chromium (headless, through
Playwright) opens the overview. Measured per fleet size, with the empty fleet as the baseline
in the same run: the size of the ships answer, the server's time to answer it, the time from
navigation start until the grid shows every ship (first render, what the operator waits for),
and the median time of a full redraw of the grid (after a filter change, or a poll whose
answer changed; an unchanged answer redraws nothing, the countdowns tick in place).

    python bench/dashboard.py                  # 0, 500, 2000 and 5000 ships, 3 page loads each
    python bench/dashboard.py --sizes 0 2000 --loads 1
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import httpx  # noqa: E402
import nats  # noqa: E402

from conductor.web.app import dashboard_app, serving  # noqa: E402
from conductor.web.shared import SharedSource  # noqa: E402
from flotilla.db import migrate  # noqa: E402
from flotilla.db.pool import PoolSection, open_pool  # noqa: E402
from flotilla.local_servers import NatsServer, PostgresServer  # noqa: E402
from flotilla.topology import ensure_topology  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FILL = """
INSERT INTO ships (symbol, agent, updated_at, role, frame, behaviour, nav_system_symbol,
    nav_waypoint_symbol, nav_status, nav_arrival, cooldown_expiration, cargo_units,
    cargo_capacity, fuel_current, fuel_capacity, version, role_version, frame_version,
    behaviour_version, nav_version, fuel_version, cargo_version, cooldown_version, mounts_version)
SELECT 'BENCH-' || lpad(i::text, 5, '0'), 'BENCH', now(),
    (ARRAY['EXCAVATOR', 'HAULER', 'SATELLITE'])[i %% 3 + 1], 'FRAME_MINER', 'mine', 'X1-B',
    'X1-B-' || (i %% 40), (ARRAY['IN_TRANSIT', 'IN_ORBIT', 'DOCKED'])[i %% 3 + 1],
    CASE WHEN i %% 3 = 0 THEN now() + interval '5 minutes' END,
    CASE WHEN i %% 3 = 1 THEN now() + (30 + i %% 60) * interval '1 second' END,
    i %% 40, 40, 100, 400, 1, 1, 1, 1, 1, 1, 1, 1, 1
FROM generate_series(1, %s) AS i
"""


@contextlib.contextmanager
def _servers(root: Path) -> Iterator[tuple[NatsServer, PostgresServer]]:
    nats_server = NatsServer(root / "nats")
    postgres = PostgresServer(root / "postgres", durable=False)
    try:
        nats_server.start()
        postgres.start()
        yield nats_server, postgres
    finally:
        nats_server.stop()
        postgres.stop()


async def _measure(base: str, loads: int, size: int) -> dict[str, float]:
    from playwright.async_api import async_playwright

    async with httpx.AsyncClient() as client:
        started = time.perf_counter()
        answer = await client.get(f"{base}/dashboard/data/ships")
        server_ms = (time.perf_counter() - started) * 1000
        payload = len(answer.content)
    first: list[float] = []
    again: list[float] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for _ in range(loads):
                page = await browser.new_page(viewport={"width": 1280, "height": 900})
                await page.goto(f"{base}/dashboard/")
                await page.locator(f'body[data-rendered="{size}"]').wait_for(timeout=60_000)
                if size:
                    first.append(float(await page.evaluate("document.body.dataset.firstRenderAt")))
                else:  # nothing to render: the time until the page had its (empty) answer
                    await page.locator("#no-ships:not([hidden])").wait_for()
                    first.append(float(await page.evaluate("performance.now()")))
                for _ in range(3):  # full redraws of the grid, as a filter change makes
                    again.append(
                        float(
                            await page.evaluate(
                                """() => { document.getElementById("find")
                                    .dispatchEvent(new Event("input"));
                                  return document.body.dataset.renderMs; }"""
                            )
                        )
                    )
                await page.close()
        finally:
            await browser.close()
    return {
        "bytes": payload,
        "server_ms": server_ms,
        "first_ms": statistics.median(first),
        "render_ms": statistics.median(again),
    }


async def run(args: argparse.Namespace) -> None:
    root = Path(tempfile.mkdtemp(prefix="flotilla-bench-dashboard-"))
    with _servers(root) as (nats_server, postgres):
        migrate.upgrade(postgres.url)
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        await ensure_topology(js)
        pool = await open_pool(postgres.url, PoolSection(), application_name="bench-dashboard")
        source = SharedSource(pool, js)
        await source.start()
        rows = []
        try:
            async with serving(dashboard_app(source, write_token=None)) as base:
                for size in args.sizes:
                    async with pool.connection() as conn:
                        await conn.execute("DELETE FROM ships")
                        await conn.execute(FILL, (size,))
                    rows.append((size, await _measure(base, args.loads, size)))
        finally:
            await source.stop()
            await pool.close()
            await nc.drain()
    print(
        f"{'ships':>6} {'answer KiB':>10} {'server ms':>10} {'first render ms':>16} "
        f"{'re-render ms':>13}"
    )
    for size, m in rows:
        print(
            f"{size:>6} {m['bytes'] / 1024:>10.0f} {m['server_ms']:>10.1f} "
            f"{m['first_ms']:>16.0f} {m['render_ms']:>13.1f}"
        )
    print("first render: from navigation start until the grid lists every ship (0: baseline,")
    print("the empty page's answer); re-render: one full redraw of the grid.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 500, 2000, 5000])
    parser.add_argument("--loads", type=int, default=3, help="page loads per size")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
