"""The gateway's Prometheus metrics, on the registry the service kit serves at `/metrics` (one
registry per service instance, so tests and benchmarks can run several gateways in one
process). Names come from `flotilla.semconv.metric_name`, labels from its class and outcome
names."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from flotilla.metrics import MetricsRegistry
from flotilla.semconv import metric_name

__all__ = ["LATENCY_BUCKETS", "WAIT_BUCKETS", "GatewayMetrics"]

WAIT_BUCKETS = (0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def _name(name: str) -> str:
    return metric_name("gateway", name)


class GatewayMetrics:
    """Queue depth and wait per class, requests, 429s, retries, limit use, upstream latency,
    fenced calls."""

    def __init__(self, registry: MetricsRegistry) -> None:
        self.registry = registry
        r = registry.registry
        self.queue_depth = Gauge(
            _name("queue_depth"),
            "Calls waiting for a request slot, per priority class.",
            ["group", "priority"],
            registry=r,
        )
        self.queue_wait = Histogram(
            _name("queue_wait_seconds"),
            "Time a call waited in the queue before its first request was sent.",
            ["priority"],
            buckets=WAIT_BUCKETS,
            registry=r,
        )
        self.calls = Counter(
            _name("calls"),
            "Calls answered, by priority class and outcome.",
            ["priority", "outcome"],
            registry=r,
        )
        self.requests_sent = Counter(
            _name("requests_sent"),
            "HTTP requests sent to the API (every attempt), by priority class and status.",
            ["priority", "status"],
            registry=r,
        )
        self.rate_limited = Counter(
            _name("rate_limited"),
            "429 answers received; kind is 'headers' or 'bare' (no rate-limit headers).",
            ["kind"],
            registry=r,
        )
        self.retries = Counter(
            _name("retries"),
            "Attempts repeated, by the reason the previous one failed.",
            ["reason"],
            registry=r,
        )
        self.limit_utilisation = Gauge(
            _name("limit_utilisation"),
            "Requests sent in the last minute as a fraction of the sustained maximum.",
            ["group"],
            registry=r,
        )
        self.in_flight = Gauge(
            _name("in_flight"),
            "Requests on the wire (bounded by the connection pool size).",
            ["group"],
            registry=r,
        )
        self.upstream_latency = Histogram(
            _name("upstream_latency_seconds"),
            "Time of one HTTP exchange with the API.",
            ["method"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.fenced = Counter(
            _name("fenced"),
            "Calls refused without a request because their fencing token is older than one known"
            " for the ship; stage is 'admission', 'queue' (gone stale while it waited) or 'retry'"
            " (gone stale between attempts).",
            ["stage"],
            registry=r,
        )
        self.request_log_dropped = Counter(
            _name("request_log_dropped"),
            "Request-log events that could not be published.",
            registry=r,
        )
