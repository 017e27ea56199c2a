"""The simulator's Prometheus metrics: what clients asked and got, what the edge refused or
broke on purpose, and how many agents and ships the universe holds.

They live on the service's `MetricsRegistry` (served at the probe endpoint's `/metrics`); an app
built without one (tests, `running_simulator`) counts on a registry of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge

from flotilla.metrics import MetricsRegistry
from flotilla.semconv import metric_name

if TYPE_CHECKING:
    from simulator.game import Game

__all__ = ["NO_ROUTE", "SERVICE", "SimulatorMetrics"]

SERVICE = "simulator"
# The route label of requests no route answered: unknown paths, and those the edge answered
# itself (a rate-limit 429, an injected fault).
NO_ROUTE = "none"


class SimulatorMetrics:
    """Counters the HTTP edge updates per request, and gauges read from the game at scrape."""

    def __init__(self, registry: MetricsRegistry) -> None:
        self.registry = registry
        on = registry.registry
        self.requests = Counter(
            metric_name(SERVICE, "requests"),
            "Requests to the API, by method, route template and response status "
            "('dropped': the connection was cut without a response).",
            ["method", "route", "status"],
            registry=on,
        )
        self.rate_limited = Counter(
            metric_name(SERVICE, "rate_limited"),
            "Requests refused with 429 by the rate limit, by the key that ran out "
            "('IP Address' or 'Account').",
            ["limit_type"],
            registry=on,
        )
        self.faults = Counter(
            metric_name(SERVICE, "faults"),
            "Faults injected, by kind (drop, 500, 502, html-429).",
            ["kind"],
            registry=on,
        )
        self.agents = Gauge(
            metric_name(SERVICE, "agents"), "Agents registered in the universe.", registry=on
        )
        self.ships = Gauge(metric_name(SERVICE, "ships"), "Ships owned by the agents.", registry=on)

    def observe(self, game: Game) -> None:
        """Report `game`'s agents and ships at every scrape (read from its state, never
        counted twice)."""

        def refresh() -> None:
            self.agents.set(len(game.agents))
            self.ships.set(len(game.ships))

        self.registry.on_scrape(refresh)
