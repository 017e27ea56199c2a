"""The gateway as the service kit runs it: `flotilla gateway`, `python -m gateway`, its part in
`flotilla up`, and what tests and benchmarks open with `flotilla.kit.open_service`."""

from __future__ import annotations

import secrets

from flotilla.kit import ChildSpec, LocalStack, Service
from flotilla.settings import env_name
from gateway.metrics import GatewayMetrics
from gateway.service import CHECKS, run
from gateway.settings import GatewaySettings

__all__ = ["AGENT_ENDPOINT", "SERVICE", "SIMULATOR_ENDPOINT", "local_processes"]

# The key under which the simulator's part in `flotilla up` provides its base URL.
SIMULATOR_ENDPOINT = "simulator"
# The key under which the gateway's part provides the symbol of the agent it registers, so that
# the services after it put it on their events.
AGENT_ENDPOINT = "agent"


def local_processes(stack: LocalStack) -> list[ChildSpec]:
    """In `flotilla up` the gateway plays against the simulator started before it (and
    registers an agent there, its token kept in memory, under a symbol it provides to the
    services after it); with a token in the environment it
    plays the real game instead. With neither there is nothing to play: no gateway."""
    base_url = env_name(GatewaySettings, "spacetraders", "base_url")
    if stack.real_game:
        return [ChildSpec(name="gateway", args=["gateway"], where=f"-> the API at {base_url}")]
    simulator = stack.endpoints.get(SIMULATOR_ENDPOINT)
    if simulator is None:
        return []
    # The agent's symbol is chosen here, so the dispatchers know it from the start.
    symbol = f"FLOT-{secrets.token_hex(3).upper()}"
    return [
        ChildSpec(
            name="gateway",
            args=["gateway"],
            env={base_url: simulator, env_name(GatewaySettings, "registration", "symbol"): symbol},
            where=f"-> {simulator} as {symbol}",
            provides={AGENT_ENDPOINT: symbol},
        )
    ]


SERVICE = Service(
    name="gateway",
    summary="serve SpaceTraders API calls over NATS: priority queue, exact rate limit, retries",
    description=(
        "The only client of the SpaceTraders API. Other services send it API calls over NATS; "
        "it queues them by priority, spends the rate limit fully without 429s and logs every "
        f"call. Tokens come from {env_name(GatewaySettings, 'spacetraders', 'token')} or "
        f"{env_name(GatewaySettings, 'spacetraders', 'agent_tokens')}; with neither it "
        "registers an agent (local simulator runs)."
    ),
    settings=GatewaySettings,
    metrics=GatewayMetrics,
    body=run,
    checks=CHECKS,
    local=local_processes,
)
