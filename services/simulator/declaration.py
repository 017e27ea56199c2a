"""The simulator as a service of the kit: `flotilla simulator`, its probes and metrics, and its
part in `flotilla up` (the local universe the gateway plays against)."""

from __future__ import annotations

from flotilla.kit import ChildSpec, LocalStack, Service
from flotilla.local_servers import free_port
from simulator.address import base_url
from simulator.config import SimulatorSettings
from simulator.metrics import SimulatorMetrics
from simulator.service import HTTP_CHECK, run

__all__ = ["ENDPOINT", "LOCAL_HOST", "SERVICE", "local_run"]

# Under this name `flotilla up` hands the simulator's base URL to the services after it.
ENDPOINT = "simulator"
LOCAL_HOST = "127.0.0.1"


def local_run(stack: LocalStack) -> list[ChildSpec]:
    """`flotilla up` runs the simulator on a free port of this machine and provides its base
    URL (…/v2) to the services started after it, so the gateway plays against it."""
    port = free_port(LOCAL_HOST)
    url = base_url(LOCAL_HOST, port)
    return [
        ChildSpec(
            name="simulator",
            args=["simulator", "--host", LOCAL_HOST, "--port", str(port)],
            where=url,
            provides={ENDPOINT: url},
        )
    ]


SERVICE: Service[SimulatorSettings, SimulatorMetrics] = Service(
    name="simulator",
    summary="run a local SpaceTraders universe (the v2 API under /v2)",
    description=(
        "Serve a deterministic SpaceTraders universe that follows the official v2 API: "
        "register an agent with POST /v2/register and play against it. The API listens on its "
        "own port; /healthz, /readyz and /metrics are on the probe port."
    ),
    settings=SimulatorSettings,
    metrics=SimulatorMetrics,
    body=run,
    checks=(HTTP_CHECK,),
    local=local_run,
)
