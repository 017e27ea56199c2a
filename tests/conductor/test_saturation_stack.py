"""Saturation control on the whole stack: the simulator with its default rate limit (2 requests
a second plus 30 a minute, in real seconds) and a fast game clock, the gateway, a dispatcher
driving the ships and the conductor, all real. The plan asks for far more requests than the
limit gives — 24 mining drones at thirty times the game speed, each alone using about a third
of the limit — so the top class's queue wait climbs; the conductor pauses purchases and parks
ships until that wait is back under its threshold. When the plan shrinks to one drone, the
parked ships are let go (those the plan no longer runs at once, the rest once headroom lasts)
and purchases resume."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import nats
import pytest

from conductor.plan import FleetPlan
from flotilla.client import GatewayTransport, SpaceTradersClient
from flotilla.kit import RunningService, open_service
from flotilla.settings import load_settings

DRONES = 24
WAIT_THRESHOLD = 0.5
SATURATION = {
    "window_seconds": 20.0,
    "wait_threshold_seconds": WAIT_THRESHOLD,
    "resume_wait_seconds": 0.15,
    "utilisation_threshold": 0.8,
    "resume_utilisation": 0.5,
    "sustain_seconds": 8.0,
    "headroom_seconds": 8.0,
    "settle_seconds": 6.0,
    "interval_seconds": 1.0,
    "park_fraction": 0.25,
    "min_running": 2,
}


def _plan(drones: int) -> str:
    return (
        "roles:\n"
        f"  - {{name: miners, ship_type: SHIP_MINING_DRONE, count: {drones}, behaviour: mine}}\n"
    )


@dataclass
class SaturatedStack:
    """What the test watches: the conductor service and its saturation loop."""

    conductor_service: RunningService[Any, Any]

    @property
    def conductor(self) -> Any:
        return self.conductor_service.exposed["conductor"]

    @property
    def saturation(self) -> Any:
        return self.conductor_service.exposed["saturation"]


@contextlib.asynccontextmanager
async def saturated_stack(
    nats_url: str, database_url: str, plan_dir: Any, eventually: Any
) -> AsyncIterator[SaturatedStack]:
    from conductor.declaration import SERVICE as CONDUCTOR
    from conductor.settings import ConductorSettings
    from dispatcher.declaration import SERVICE as DISPATCHER
    from dispatcher.settings import DispatcherSettings
    from gateway.declaration import SERVICE as GATEWAY
    from gateway.settings import GatewaySettings
    from simulator.config import SimulatorConfig
    from simulator.server import running_simulator_async

    config = SimulatorConfig(time_scale=30, admin_enabled=True)  # the default rate limit
    async with running_simulator_async(config) as simulator_url:
        gateway_settings = load_settings(
            GatewaySettings,
            nats_url=nats_url,
            probes={"port": "off"},
            spacetraders={"base_url": simulator_url},
        )
        async with open_service(GATEWAY, gateway_settings) as gateway:
            await eventually(lambda: "service" in gateway.exposed, 30, "the gateway")
            nc = await nats.connect(nats_url)
            try:
                agent = await SpaceTradersClient(GatewayTransport(nc)).get_agent()
            finally:
                await nc.drain()
            # The fleet, given outright (the admin route spends no request and no credit).
            root = simulator_url.removesuffix("/v2")
            async with httpx.AsyncClient(base_url=root) as admin:
                seeded = await admin.post(
                    f"/admin/agents/{agent.symbol}/ships",
                    json={"ships": [{"type": "SHIP_MINING_DRONE", "count": DRONES}]},
                )
                assert seeded.status_code < 300, seeded.text
            plan_file = plan_dir / "plan.yaml"
            plan_file.write_text(_plan(DRONES))
            dispatcher_settings = load_settings(
                DispatcherSettings, nats_url=nats_url, probes={"port": "off"}, node="d-0"
            )
            conductor_settings = load_settings(
                ConductorSettings,
                nats_url=nats_url,
                database={"url": database_url},
                probes={"port": "off"},
                plan={"initial_file": str(plan_file)},
                api={"port": 0},
                leader={"ttl_seconds": 2, "renew_seconds": 0.5},
                reconcile={"interval_seconds": 0.5},
                saturation=SATURATION,
            )
            async with (
                open_service(DISPATCHER, dispatcher_settings),
                open_service(CONDUCTOR, conductor_settings) as conductor,
            ):
                await eventually(lambda: "saturation" in conductor.exposed, 60, "the conductor")
                yield SaturatedStack(conductor)


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_an_oversaturating_plan_parks_ships_until_the_top_class_is_served_again(
    nats_url: str, migrated_url: str, tmp_path: Any, eventually: Any
) -> None:
    async with saturated_stack(nats_url, migrated_url, tmp_path, eventually) as stack:
        # The fleet works the plan and asks for far more than 2.5 requests a second.
        await eventually(lambda: stack.conductor.parked, 240, "saturation control parking ships")
        saturation = stack.saturation
        assert stack.conductor.saturation_holds_purchases
        load_when_parking = next(d for d in saturation.controller.decisions if d.action == "park")
        assert load_when_parking.top_class_wait > WAIT_THRESHOLD
        assert load_when_parking.utilisation >= SATURATION["utilisation_threshold"]
        # Parking goes on until the top class is served within its threshold again.
        await eventually(
            lambda: (
                (wait := saturation.load().top_class_wait) is not None
                and wait < WAIT_THRESHOLD
                and saturation.controller.parked
            ),
            240,
            "the top class's wait back under its threshold with ships parked",
        )
        parked = dict(stack.conductor.parked)
        assert 0 < len(parked) <= DRONES - SATURATION["min_running"]
        assert all("oversaturated" in reason for reason in parked.values())
        # Parked ships run `idle`: their assignments say so.
        infos = {info.symbol: info for info in stack.conductor.list_ships()}
        await eventually(
            lambda: all(stack.conductor.ship(s).parked for s in parked),
            30,
            "the parked ships' assignments marked parked",
        )
        assert set(parked) <= set(infos)
        logged = await stack.conductor.decisions(kind="saturation", limit=500)
        assert any(d.figures.get("action") == "park" for d in logged)

        # The plan shrinks: the load falls, the parked ships are let go, purchases resume.
        await stack.conductor.replace_plan(FleetPlan.from_yaml(_plan(1)), author="test")
        await eventually(
            lambda: not stack.conductor.parked and not stack.conductor.saturation_holds_purchases,
            240,
            "every ship unparked and purchases resumed",
        )
        # The decisions are stored just after they are applied: wait for the store to have them.
        actions: list[Any] = []

        async def stored() -> bool:
            logged = await stack.conductor.decisions(kind="saturation", limit=500)
            actions[:] = [d.figures.get("action") for d in reversed(logged)]
            return bool(actions) and actions[-1] == "resume_purchases"

        await eventually(stored, 30, "the unpark and the resumption stored")
        assert "unpark" in actions, actions
