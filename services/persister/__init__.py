"""The persister: the single writer to PostgreSQL.

It pulls events from the `FLOTILLA_EVENTS` JetStream stream in batches, keeps only the newest
state per key and every append-only record, writes a batch in one transaction with multi-row
upserts guarded so that an older event never overwrites a newer row, and acks after the commit.
It owns the schema (`persister.schema`, Alembic migrations in `persister.migrations`) and the
analytics the conductor reads (`persister.analytics`).
"""
