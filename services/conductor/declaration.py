"""The conductor as the service kit runs it: `flotilla conductor`, `python -m conductor`, and
its one process in `flotilla up` (which applies the default plan for the simulator's agent)."""

from __future__ import annotations

from conductor.metrics import SERVICE_NAME, ConductorMetrics
from conductor.service import CHECKS, local_processes, run
from conductor.settings import ConductorSettings
from flotilla.kit import Service

__all__ = ["SERVICE"]


SERVICE: Service[ConductorSettings, ConductorMetrics] = Service(
    name=SERVICE_NAME,
    summary="keep the fleet to its plan: buy ships, assign behaviours, one leader at a time",
    description=(
        "Run the conductor. It holds the fleet plan (roles of ship types, counts, behaviours and"
        " mounts, plus a credit reserve) in PostgreSQL and, while it holds the leader lease in"
        " NATS KV, compares the plan with the fleet it sees in the shared view: it assigns every"
        " ship through the assignments bucket and buys missing ships at the cheapest known"
        " shipyard where a ship of ours is, never below the reserve and never beyond the plan."
    ),
    settings=ConductorSettings,
    metrics=ConductorMetrics,
    body=run,
    checks=CHECKS,
    local=local_processes,
)
