"""The persister's Prometheus metrics, on the registry the service kit serves on `/metrics` (one
registry per running persister, so tests and benchmarks can run several in one process)."""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge, Histogram

from flotilla.metrics import MetricsRegistry
from flotilla.semconv import metric_name

__all__ = ["SERVICE_NAME", "PersisterMetrics"]

SERVICE_NAME: Final = "persister"


def _name(name: str) -> str:
    return metric_name(SERVICE_NAME, name)


class PersisterMetrics:
    """Everything the persister measures. `events_total` by type gives events per second
    with `rate()`; the coalescing ratio is state events in per state row written."""

    def __init__(self, registry: MetricsRegistry) -> None:
        r = registry.registry
        self.batch_size = Histogram(
            _name("batch_size"),
            "Messages per fetched batch.",
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000),
            registry=r,
        )
        self.events = Counter(_name("events"), "Events written, by type.", ["type"], registry=r)
        self.rows = Counter(
            _name("rows_written"), "Rows inserted or updated, by table.", ["table"], registry=r
        )
        self.statements = Counter(
            _name("statements"), "SQL statements sent (BEGIN and COMMIT included).", registry=r
        )
        self.coalescing_ratio = Histogram(
            _name("coalescing_ratio"),
            "State events per state row written, per batch.",
            buckets=(1, 1.5, 2, 3, 5, 10, 20, 50, 100),
            registry=r,
        )
        self.write_seconds = Histogram(
            _name("write_seconds"),
            "Time to write one batch (one transaction), retries excluded.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.dead_letters = Counter(
            _name("dead_letters"),
            "Messages sent to the dead-letter subject, by reason.",
            ["reason"],
            registry=r,
        )
        self.database_errors = Counter(
            _name("database_errors"),
            "Batch writes that failed and will be retried.",
            registry=r,
        )
        self.consumer_lag = Gauge(
            _name("consumer_lag"),
            "Messages in the stream not yet delivered to the persister consumer.",
            registry=r,
        )
        self.last_commit = Gauge(
            _name("last_commit_timestamp_seconds"),
            "Unix time of the last committed batch.",
            registry=r,
        )
