"""`BatchWriter`: one coalesced batch, one transaction, one statement per table family, in a
fixed table order (so concurrent batches take their locks in the same order)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg import AsyncConnection

from persister.coalesce import CoalescedBatch
from persister.writes.observations import OBSERVATION_WRITES
from persister.writes.places import (
    SYSTEMS_SQL,
    WAYPOINTS_SQL,
    PlaceCache,
    system_rows,
    waypoint_rows,
)
from persister.writes.records import (
    EXTRACTIONS_SQL,
    REQUESTS_SQL,
    SURVEYS_SQL,
    TRANSACTIONS_SQL,
    extraction_rows,
    request_rows,
    survey_rows,
    transaction_rows,
)
from persister.writes.ships import SHIPS_SQL, ship_rows
from persister.writes.sql import to_columns

__all__ = ["BatchWriter", "WriteResult"]


@dataclass
class WriteResult:
    """What one batch wrote: rows inserted or updated per table, and statements sent."""

    rows: Counter[str] = field(default_factory=Counter)
    statements: int = 0

    @property
    def total_rows(self) -> int:
        """Rows inserted or updated in every table, rollups included."""
        return sum(self.rows.values())


class BatchWriter:
    """Writes coalesced batches; keeps the place cache across batches."""

    def __init__(self) -> None:
        self.places = PlaceCache()

    async def write(self, conn: AsyncConnection[Any], batch: CoalescedBatch) -> WriteResult:
        """Write `batch` in one transaction on `conn`; the transaction ends before this returns."""
        result = WriteResult()
        sightings = sorted(
            (s for s in batch.waypoint_sightings().values() if self.places.is_new(s)),
            key=lambda s: s.symbol,
        )
        systems = sorted(
            {s.system_symbol for s in sightings if s.system_symbol not in self.places.systems}
        )
        async with conn.transaction():
            result.statements += 2  # BEGIN and COMMIT
            cur = conn.cursor()

            async def run(table: str, sql: str, rows: Sequence[Sequence[Any]]) -> None:
                await cur.execute(sql, to_columns(rows))
                result.statements += 1
                result.rows[table] += max(cur.rowcount, 0)

            async def run_with_rollup(
                table: str, rollup: str, sql: str, rows: Sequence[Sequence[Any]]
            ) -> None:
                await cur.execute(sql, to_columns(rows))
                result.statements += 1
                counts = await cur.fetchone()
                assert counts is not None
                result.rows[table] += int(counts[0])
                result.rows[rollup] += int(counts[1])

            if systems:
                await run("systems", SYSTEMS_SQL, system_rows(systems))
            if sightings:
                await run("waypoints", WAYPOINTS_SQL, waypoint_rows(sightings))
            if batch.ships:
                await run("ships", SHIPS_SQL, ship_rows(batch))
            for table, sql, make_rows in OBSERVATION_WRITES:
                rows = make_rows(batch)
                if rows:
                    await run(table, sql, rows)
            if batch.surveys:
                await run("surveys", SURVEYS_SQL, survey_rows(batch))
            if batch.transactions:
                await run_with_rollup(
                    "transactions", "credit_minutes", TRANSACTIONS_SQL, transaction_rows(batch)
                )
            if batch.extractions:
                await run("extractions", EXTRACTIONS_SQL, extraction_rows(batch))
            if batch.requests:
                await run_with_rollup(
                    "request_log", "request_minutes", REQUESTS_SQL, request_rows(batch)
                )
        self.places.remember(systems, sightings)
        return result
