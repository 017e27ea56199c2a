"""The dispatcher as the kit runs it: `flotilla dispatcher --node NAME`; `flotilla up` starts
two nodes, U and V."""

from __future__ import annotations

from collections.abc import Sequence

from dispatcher.metrics import DispatcherMetrics
from dispatcher.service import CHECKS, run
from dispatcher.settings import DispatcherSettings
from flotilla.kit import ChildSpec, LocalStack, Service

__all__ = ["LOCAL_NODES", "SERVICE", "local_nodes"]

LOCAL_NODES = ("U", "V")


def local_nodes(stack: LocalStack) -> Sequence[ChildSpec]:
    """Two dispatcher nodes sharing the fleet, as in the operator's setup."""
    return [
        ChildSpec(name=f"dispatcher-{node}", args=["dispatcher", "--node", node])
        for node in LOCAL_NODES
    ]


SERVICE = Service(
    name="dispatcher",
    summary="drive the fleet's ships: one node of the cluster sharing them by fenced leases",
    description=(
        "One dispatcher node. Nodes heartbeat into NATS KV and share the assigned ships by"
        " rendezvous hashing over the live nodes; each ship is driven under a per-ship lease"
        " whose revision fences its actions at the gateway. Each owned ship runs its assigned"
        " behaviour as an asyncio task that sleeps until its cooldown or arrival."
    ),
    settings=DispatcherSettings,
    metrics=DispatcherMetrics,
    body=run,
    checks=CHECKS,
    local=local_nodes,
)
