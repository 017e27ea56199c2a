"""The persister as the service kit runs it: `flotilla persister`, `python -m persister`, its
probes on port 9464 by default, and its one process in `flotilla up`."""

from __future__ import annotations

from collections.abc import Sequence

from flotilla.kit import NATS_CHECK, ChildSpec, LocalStack, Service
from persister.metrics import SERVICE_NAME, PersisterMetrics
from persister.service import DATABASE_CHECK, SCHEMA_CHECK, run
from persister.settings import PersisterSettings

__all__ = ["SERVICE", "local_processes"]


def local_processes(stack: LocalStack) -> Sequence[ChildSpec]:
    """One persister for `flotilla up` (which migrates the database before starting it)."""
    return [ChildSpec(name=SERVICE_NAME, args=[SERVICE_NAME])]


SERVICE: Service[PersisterSettings, PersisterMetrics] = Service(
    name=SERVICE_NAME,
    summary="write events from JetStream to PostgreSQL (batched, dirty-only upserts)",
    description=(
        "Run the persister, the single writer to PostgreSQL: it pulls batches from the "
        "FLOTILLA_EVENTS stream, keeps the newest state per key and every record, writes each "
        "batch in one transaction and acks it after the commit. It waits for the schema "
        "(`flotilla migrate`) and never migrates by itself."
    ),
    settings=PersisterSettings,
    metrics=PersisterMetrics,
    body=run,
    checks=(NATS_CHECK, DATABASE_CHECK, SCHEMA_CHECK),
    local=local_processes,
)
