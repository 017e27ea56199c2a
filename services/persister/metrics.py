"""The persister's Prometheus metrics, in a registry of their own (so tests and several
persisters in one process never collide), served on `/metrics`."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_NS = "flotilla_persister"


class PersisterMetrics:
    """Everything the persister measures. `events_total` by type gives events per second
    with `rate()`; the coalescing ratio is state events in per state row written."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.batch_size = Histogram(
            f"{_NS}_batch_size",
            "Messages per fetched batch.",
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000),
            registry=r,
        )
        self.events = Counter(f"{_NS}_events", "Events written, by type.", ["type"], registry=r)
        self.rows = Counter(
            f"{_NS}_rows_written", "Rows inserted or updated, by table.", ["table"], registry=r
        )
        self.statements = Counter(
            f"{_NS}_statements", "SQL statements sent (BEGIN and COMMIT included).", registry=r
        )
        self.coalescing_ratio = Histogram(
            f"{_NS}_coalescing_ratio",
            "State events per state row written, per batch.",
            buckets=(1, 1.5, 2, 3, 5, 10, 20, 50, 100),
            registry=r,
        )
        self.write_seconds = Histogram(
            f"{_NS}_write_seconds",
            "Time to write one batch (one transaction), retries excluded.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.dead_letters = Counter(
            f"{_NS}_dead_letters",
            "Messages sent to the dead-letter subject, by reason.",
            ["reason"],
            registry=r,
        )
        self.database_errors = Counter(
            f"{_NS}_database_errors",
            "Batch writes that failed and will be retried.",
            registry=r,
        )
        self.consumer_lag = Gauge(
            f"{_NS}_consumer_lag",
            "Messages in the stream not yet delivered to the persister consumer.",
            registry=r,
        )
        self.last_commit = Gauge(
            f"{_NS}_last_commit_timestamp_seconds",
            "Unix time of the last committed batch.",
            registry=r,
        )
