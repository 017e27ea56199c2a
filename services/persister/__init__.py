"""The persister: the single writer to PostgreSQL.

It pulls events from the `FLOTILLA_EVENTS` JetStream stream in batches, keeps only the newest
state per key and every append-only record, writes a batch in one transaction with multi-row
upserts guarded so that an older event never overwrites a newer row, and acks after the commit.
The schema, its migrations and the analytics the conductor reads are shared, in `flotilla.db`;
the service is declared in `persister.declaration`.
"""

__all__: list[str] = []
