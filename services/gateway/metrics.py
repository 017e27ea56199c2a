"""The gateway's Prometheus metrics, on a registry of their own (so tests and benchmarks can run
several gateways in one process)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

WAIT_BUCKETS = (0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class GatewayMetrics:
    """Queue depth and wait per class, requests, 429s, retries, limit use, upstream latency."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.queue_depth = Gauge(
            "flotilla_gateway_queue_depth",
            "Calls waiting for a request slot, per priority class.",
            ["group", "priority"],
            registry=r,
        )
        self.queue_wait = Histogram(
            "flotilla_gateway_queue_wait_seconds",
            "Time a call waited in the queue before its first request was sent.",
            ["priority"],
            buckets=WAIT_BUCKETS,
            registry=r,
        )
        self.calls = Counter(
            "flotilla_gateway_calls",
            "Calls answered, by priority class and outcome.",
            ["priority", "outcome"],
            registry=r,
        )
        self.requests_sent = Counter(
            "flotilla_gateway_requests_sent",
            "HTTP requests sent to the API (every attempt), by priority class and status.",
            ["priority", "status"],
            registry=r,
        )
        self.rate_limited = Counter(
            "flotilla_gateway_rate_limited",
            "429 answers received; kind is 'headers' or 'bare' (no rate-limit headers).",
            ["kind"],
            registry=r,
        )
        self.retries = Counter(
            "flotilla_gateway_retries",
            "Attempts repeated, by the reason the previous one failed.",
            ["reason"],
            registry=r,
        )
        self.limit_utilisation = Gauge(
            "flotilla_gateway_limit_utilisation",
            "Requests sent in the last minute as a fraction of the sustained maximum.",
            ["group"],
            registry=r,
        )
        self.in_flight = Gauge(
            "flotilla_gateway_in_flight",
            "Requests on the wire (bounded by the connection pool size).",
            ["group"],
            registry=r,
        )
        self.upstream_latency = Histogram(
            "flotilla_gateway_upstream_latency_seconds",
            "Time of one HTTP exchange with the API.",
            ["method"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.request_log_dropped = Counter(
            "flotilla_gateway_request_log_dropped",
            "Request-log events that could not be published.",
            registry=r,
        )
        self._refreshers: list[Callable[[], None]] = []

    def on_scrape(self, refresh: Callable[[], None]) -> None:
        """Run `refresh` before every exposition (for gauges computed from live state)."""
        self._refreshers.append(refresh)

    def exposition(self) -> bytes:
        """The metrics in the Prometheus text format."""
        for refresh in self._refreshers:
            refresh()
        return generate_latest(self.registry)
