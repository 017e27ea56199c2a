"""The dispatcher as the kit runs it: `flotilla dispatcher --node NAME`; `flotilla up` starts
two nodes, U and V."""

from __future__ import annotations

from collections.abc import Sequence

from dispatcher.metrics import DispatcherMetrics
from dispatcher.service import CHECKS, run
from dispatcher.settings import DispatcherSettings
from flotilla.kit import ChildSpec, LocalStack, Service
from flotilla.settings import env_name

__all__ = ["LOCAL_NODES", "SERVICE", "local_nodes"]

LOCAL_NODES = ("U", "V")


def local_nodes(stack: LocalStack) -> Sequence[ChildSpec]:
    """Two dispatcher nodes sharing the fleet, as in the operator's setup, playing the agent the
    gateway registers (its symbol put on their events)."""
    env: dict[str, str] = {}
    agent = stack.endpoints.get("agent")  # the symbol the gateway registers (simulator runs)
    if agent:
        env[env_name(DispatcherSettings, "agent")] = agent
    return [
        ChildSpec(name=f"dispatcher-{node}", args=["dispatcher", "--node", node], env=env)
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
