"""Writing a coalesced batch to PostgreSQL in one transaction, one statement per table.

Every statement is a multi-row `INSERT … SELECT … FROM unnest(arrays) … ON CONFLICT`, so a batch
of thousands of events costs a handful of statements:

- state tables are upserted with a guard: a ship part is replaced only by a higher part
  version (`ships`), an observation only by a later `(observed_at, event_id)`
  (`observations`); places only accumulate facts (`places`). So older events never overwrite
  newer rows, and any delivery order ends in the same rows;
- append-only tables are inserted with `ON CONFLICT (event_id) DO NOTHING` (their key is the
  event UUID, so only a redelivery of the same event is skipped), and the per-minute rollups are
  incremented in the same statement from the rows that were actually inserted, so a replay adds
  nothing (`records`);
- rows are sorted by key, so concurrent batches lock rows in the same order and cannot deadlock.

`sql` builds the statements; `batch.BatchWriter` runs them in one transaction.
"""

from persister.writes.batch import BatchWriter, WriteResult

__all__ = ["BatchWriter", "WriteResult"]
