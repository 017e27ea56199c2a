"""Building the multi-row statements every table family uses: columns sent as unnested arrays,
inserts ordered by key, upserts guarded by newness, and append-only inserts keyed by event."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "MINUTE",
    "Column",
    "Row",
    "append_only",
    "insert_from_arrays",
    "newer_observation_upsert",
    "text_array_from_json",
    "to_columns",
]

# Rollup buckets start on whole minutes, independent of the session's time zone.
MINUTE: Final = "date_bin('1 minute', {}, TIMESTAMPTZ '2000-01-01 00:00:00+00')"

Row = tuple[Any, ...]


@dataclass(frozen=True)
class Column:
    """A column written from one unnested array: its name, the array's element type, and the
    expression (over the unnested value `u.<name>`) stored in the column.

    Arrays travel in PostgreSQL's binary format (`%b`), which psycopg encodes about four times
    faster than text. UUIDs travel as text (the events carry them as text) and are cast here.
    """

    name: str
    array_type: str
    expr: str = ""

    @property
    def parameter(self) -> str:
        """The statement parameter that carries this column's array."""
        wire_type = "text" if self.array_type == "uuid" else self.array_type
        return f"%b::{wire_type}[]"

    @property
    def value(self) -> str:
        """The SQL expression stored in the column, over the unnested value."""
        if self.expr:
            return self.expr.format(f"u.{self.name}")
        if self.array_type == "uuid":
            return f"u.{self.name}::uuid"
        return f"u.{self.name}"


def text_array_from_json(name: str) -> Column:
    """A `text[]` column whose rows travel as JSON text.

    Variable-length lists cannot travel as one rectangular SQL array, so each row's list
    travels as JSON and becomes `text[]` in the statement.
    """
    return Column(
        name,
        "text",
        "CASE WHEN {0} IS NULL THEN NULL"
        " ELSE ARRAY(SELECT jsonb_array_elements_text({0}::jsonb)) END",
    )


def insert_from_arrays(table: str, columns: Sequence[Column], order_by: str) -> str:
    """`INSERT INTO table … SELECT … FROM unnest(…)`, rows in key order (so concurrent batches
    lock rows in the same order)."""
    names = ", ".join(c.name for c in columns)
    arrays = ", ".join(c.parameter for c in columns)
    values = ", ".join(c.value for c in columns)
    return (
        f"INSERT INTO {table} AS t ({names})\n"
        f"SELECT {values}\nFROM unnest({arrays}) AS u({names})\nORDER BY {order_by}"
    )


def newer_observation_upsert(table: str, columns: Sequence[Column], key: Sequence[str]) -> str:
    """An upsert that replaces a row only with a later `(observed_at, event_id)`."""
    keys = ", ".join(key)
    updates = ", ".join(f"{c.name} = EXCLUDED.{c.name}" for c in columns if c.name not in key)
    return (
        insert_from_arrays(table, columns, ", ".join(f"u.{k}" for k in key))
        + f"\nON CONFLICT ({keys}) DO UPDATE SET {updates}\n"
        "WHERE (EXCLUDED.observed_at, EXCLUDED.event_id) > (t.observed_at, t.event_id)"
    )


def append_only(table: str, columns: Sequence[Column]) -> str:
    """An insert of records keyed by their event UUID: a redelivered event is skipped."""
    return insert_from_arrays(table, columns, "u.event_id") + "\nON CONFLICT (event_id) DO NOTHING"


def to_columns(rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """Rows to one list per column (what `unnest` takes)."""
    return [list(column) for column in zip(*rows, strict=True)]
