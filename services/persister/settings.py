"""The persister's settings: batching, the shared consumer, the connection pool, retries while
the database is away, and its probe endpoint (port 9464 unless told otherwise).

Every variable follows the one naming rule of `flotilla.settings`: `FLOTILLA_PERSISTER_` plus
the section and the field, e.g. `batch.size` is `FLOTILLA_PERSISTER_BATCH_SIZE`.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from flotilla.backoff import Backoff
from flotilla.db.pool import PoolSection
from flotilla.settings import DatabaseSettings, ProbeSection, Section

__all__ = [
    "DEFAULT_PROBE_PORT",
    "BatchSection",
    "ConsumerSection",
    "PersisterSettings",
    "RetrySection",
]

# The port Prometheus scrapes a persister on unless FLOTILLA_PROBES_PORT says otherwise.
DEFAULT_PROBE_PORT = 9464


class BatchSection(Section):
    """How events are taken from JetStream: a batch is one fetch and one transaction."""

    size: int = Field(
        default=5000, ge=1, le=100_000, description="events per fetched batch (one transaction)"
    )
    max_wait_seconds: float = Field(
        default=0.5, gt=0, le=30, description="how long a fetch waits to fill a batch"
    )
    concurrency: int = Field(
        default=2,
        ge=1,
        le=16,
        description="batches in flight per replica (one decoded while another is written)",
    )


class ConsumerSection(Section):
    """The durable JetStream consumer every persister replica shares."""

    ack_wait_seconds: float = Field(
        default=30.0,
        gt=0,
        description="unacked events are redelivered (to any replica) after this long",
    )
    max_ack_pending: int = Field(
        default=50_000, ge=1, description="unacked events the shared consumer may have out"
    )


class RetrySection(Section):
    """Waits while the database is unreachable, as a `flotilla.backoff.Backoff`: doubling
    from the base up to the maximum, with jitter."""

    base_seconds: float = Field(
        default=0.5,
        gt=0,
        description="first wait while the database is unreachable (doubles, with jitter)",
    )
    max_seconds: float = Field(default=10.0, gt=0, description="longest wait between retries")

    @model_validator(mode="after")
    def _base_within_max(self) -> RetrySection:
        if self.base_seconds > self.max_seconds:
            raise ValueError("the base wait must not be longer than the longest wait")
        return self

    def backoff(self) -> Backoff:
        """The backoff these settings describe."""
        return Backoff(base_seconds=self.base_seconds, max_seconds=self.max_seconds)


def _probes() -> ProbeSection:
    return ProbeSection(port=DEFAULT_PROBE_PORT)


class PersisterSettings(DatabaseSettings):
    """`FLOTILLA_PERSISTER_*` variables plus the shared database, NATS, logging and probe ones."""

    settings_prefix = "FLOTILLA_PERSISTER_"

    batch: BatchSection = Field(default_factory=BatchSection)
    consumer: ConsumerSection = Field(default_factory=ConsumerSection)
    pool: PoolSection = Field(default_factory=PoolSection)
    retry: RetrySection = Field(default_factory=RetrySection)
    probes: ProbeSection = Field(default_factory=_probes)
