"""The dispatcher's Prometheus metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from flotilla.metrics import MetricsRegistry
from flotilla.semconv import metric_name

__all__ = ["DispatcherMetrics"]

_DELAY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_REQUEST_BUCKETS = (1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50, 100)


def _name(name: str) -> str:
    return metric_name("dispatcher", name)


class DispatcherMetrics:
    """Ships owned, lease changes, behaviour steps, errors, ready → request delay and requests
    per behaviour cycle."""

    def __init__(self, registry: MetricsRegistry) -> None:
        r = registry.registry
        self.ships_owned = Gauge(_name("ships_owned"), "Ships this node drives now.", registry=r)
        self.live_nodes = Gauge(_name("live_nodes"), "Dispatcher nodes seen live.", registry=r)
        self.leases = Counter(
            _name("leases"),
            "Lease changes: acquired, renewed, lost (renewal refused or lapsed), released, fenced"
            " (the gateway refused a call as fenced).",
            ["change"],
            registry=r,
        )
        self.steps = Counter(
            _name("behaviour_steps"), "Behaviour steps run.", ["behaviour"], registry=r
        )
        self.errors = Counter(
            _name("errors"),
            "Failed calls and steps, by API error code or outcome.",
            ["behaviour", "code"],
            registry=r,
        )
        self.ready_delay = Histogram(
            _name("ready_to_request_seconds"),
            "From the instant a ship became ready (cooldown over, arrived) to its next request"
            " being sent to the gateway.",
            buckets=_DELAY_BUCKETS,
            registry=r,
        )
        self.requests_per_cycle = Histogram(
            _name("requests_per_cycle"),
            "API requests a ship spent in one cycle of its behaviour.",
            ["behaviour"],
            buckets=_REQUEST_BUCKETS,
            registry=r,
        )
        self.requests = Counter(
            _name("requests"), "API requests sent, by behaviour.", ["behaviour"], registry=r
        )
        self.events_dropped = Counter(
            _name("events_dropped"), "Events and values not published.", ["reason"], registry=r
        )
        self.events_published = Counter(
            _name("events_published"), "Events and KV values acknowledged.", registry=r
        )
