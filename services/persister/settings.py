"""The persister's settings: batching, the connection pool, retries and metrics."""

from __future__ import annotations

from pydantic import Field

from flotilla.settings import DatabaseSettings


class PersisterSettings(DatabaseSettings):
    """`FLOTILLA_PERSISTER_*` variables plus the shared database, NATS and logging ones."""

    # Events per batch (one transaction) and how long a fetch waits to fill it.
    persister_batch_size: int = Field(default=5000, ge=1, le=100_000)
    persister_max_wait_seconds: float = Field(default=0.5, gt=0, le=30)
    # Batches in flight per replica: one is decoded while another is written.
    persister_concurrency: int = Field(default=2, ge=1, le=16)
    # How long JetStream waits for an ack before it redelivers a message (to any replica).
    persister_ack_wait_seconds: float = Field(default=30.0, gt=0)
    # Unacked messages the consumer may have out across all replicas.
    persister_max_ack_pending: int = Field(default=50_000, ge=1)

    persister_pool_size: int = Field(default=4, ge=1, le=64)
    persister_pool_timeout_seconds: float = Field(default=10.0, gt=0)
    persister_statement_timeout_seconds: float = Field(default=30.0, gt=0)
    persister_idle_in_transaction_timeout_seconds: float = Field(default=10.0, gt=0)

    # Backoff while the database is unreachable: doubles from initial up to max, with jitter.
    persister_retry_initial_seconds: float = Field(default=0.5, gt=0)
    persister_retry_max_seconds: float = Field(default=10.0, gt=0)

    # Probes and Prometheus metrics on http://HOST:PORT (/healthz, /readyz, /metrics);
    # port 0 turns the endpoint off.
    persister_metrics_host: str = "0.0.0.0"
    persister_metrics_port: int = Field(default=9464, ge=0, le=65535)
