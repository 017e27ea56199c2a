"""One spelling in the database: priority classes, call outcomes and transaction kinds as
`flotilla.semconv` spells them (`cooldown_start`, `completed`, `sell`) instead of the protobuf
enum names (`COOLDOWN_START`, `COMPLETED`, `SELL`) that revision 0001 stored.

Converts the rows of `request_log` (priority, outcome), `request_minutes` (priority),
`transactions` (kind) and `credit_minutes` (kind), and recreates the `fleet_minutes` view,
which filters on transaction kinds. A rollup row whose converted key already exists is merged
into it (its sums added), so the conversion never fails on a key and never loses a count.
The mappings are written out here, not read from `flotilla.semconv`, so that this revision
keeps doing what it did when the names change again.

Revision ID: 0002
Revises: 0001
Create Date: 2026-02-01
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

# Old spelling (revision 0001) -> new spelling (flotilla.semconv at this revision).
PRIORITIES: Mapping[str, str] = {
    "UNSPECIFIED": "unspecified",
    "COOLDOWN_START": "cooldown_start",
    "SHIP_UNBLOCK": "ship_unblock",
    "FLEET": "fleet",
    "BACKGROUND": "background",
}
OUTCOMES: Mapping[str, str] = {
    "UNSPECIFIED": "unspecified",
    "COMPLETED": "completed",
    "EXPIRED": "expired",
    "OVERLOADED": "overloaded",
    "UNKNOWN": "unknown",
    "FAILED": "failed",
    "REJECTED": "rejected",
}
KINDS: Mapping[str, str] = {
    "SELL": "sell",
    "PURCHASE": "purchase",
    "FUEL": "fuel",
    "SHIP": "ship",
    "MOUNT": "mount",
    "CONTRACT": "contract",
    "OTHER": "other",
}

REQUEST_MINUTES_KEY = ("minute", "agent", "priority")
REQUEST_MINUTES_SUMS = (
    "calls",
    "sent",
    "attempts",
    "throttled",
    "non_throttled",
    "queued_us_sum",
    "wire_us_sum",
)
CREDIT_MINUTES_KEY = ("minute", "agent", "ship_symbol", "behaviour", "kind")
CREDIT_MINUTES_SUMS = ("credits", "transactions")

_FLEET_MINUTES_VIEW = """
CREATE VIEW fleet_minutes AS
WITH credits AS (
    SELECT minute, agent,
           coalesce(sum(credits) FILTER (WHERE kind IN ({income})), 0) AS gross_credits,
           coalesce(sum(credits) FILTER (WHERE kind IN ({expense})), 0) AS spent_credits
    FROM credit_minutes GROUP BY minute, agent
), requests AS (
    SELECT minute, agent, sum(calls) AS calls, sum(attempts) AS requests,
           sum(non_throttled) AS non_throttled_requests, sum(throttled) AS throttled_requests
    FROM request_minutes GROUP BY minute, agent
)
SELECT coalesce(c.minute, r.minute) AS minute,
       coalesce(c.agent, r.agent) AS agent,
       coalesce(c.gross_credits, 0) AS gross_credits,
       coalesce(c.gross_credits, 0) - coalesce(c.spent_credits, 0) AS net_credits,
       coalesce(r.calls, 0) AS calls,
       coalesce(r.requests, 0) AS requests,
       coalesce(r.non_throttled_requests, 0) AS non_throttled_requests,
       coalesce(r.throttled_requests, 0) AS throttled_requests,
       coalesce(r.requests, 0) / 150.0 AS saturation
FROM credits c FULL JOIN requests r ON c.minute = r.minute AND c.agent = r.agent
"""
_INCOME = ("SELL", "CONTRACT")
_EXPENSE = ("PURCHASE", "FUEL", "SHIP", "MOUNT")


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _values(mapping: Mapping[str, str]) -> str:
    """The mapping as an SQL `VALUES` list of (old, new) pairs."""
    return ", ".join(f"({_literal(old)}, {_literal(new)})" for old, new in mapping.items())


def _fleet_minutes_view(mapping: Mapping[str, str] | None) -> str:
    def kinds(names: Sequence[str]) -> str:
        return ", ".join(_literal(mapping[name] if mapping else name) for name in names)

    return _FLEET_MINUTES_VIEW.format(income=kinds(_INCOME), expense=kinds(_EXPENSE))


def _rename(table: str, column: str, mapping: Mapping[str, str]) -> None:
    """Respell `column` in every row of `table` (a column outside the primary key)."""
    op.execute(
        f"UPDATE {table} AS t SET {column} = m.new"
        f" FROM (VALUES {_values(mapping)}) AS m(old, new) WHERE t.{column} = m.old"
    )


def _rename_in_key(
    table: str, column: str, mapping: Mapping[str, str], key: Sequence[str], sums: Sequence[str]
) -> None:
    """Respell `column`, part of the primary key `key` of rollup `table`: each respelled row
    is added into the row that has its new key (created when missing), then removed."""
    keys = ", ".join(key)
    new_key = ", ".join("m.new" if k == column else f"r.{k}" for k in key)
    totals = ", ".join(f"sum(r.{s})" for s in sums)
    updates = ", ".join(f"{s} = t.{s} + EXCLUDED.{s}" for s in sums)
    pairs = f"(VALUES {_values(mapping)}) AS m(old, new)"
    op.execute(
        f"INSERT INTO {table} AS t ({keys}, {', '.join(sums)})"
        f" SELECT {new_key}, {totals} FROM {table} AS r JOIN {pairs} ON r.{column} = m.old"
        f" GROUP BY {new_key}"
        f" ON CONFLICT ({keys}) DO UPDATE SET {updates}"
    )
    op.execute(f"DELETE FROM {table} AS r USING {pairs} WHERE r.{column} = m.old")


def _convert(
    priorities: Mapping[str, str], outcomes: Mapping[str, str], kinds: Mapping[str, str]
) -> None:
    _rename("request_log", "priority", priorities)
    _rename("request_log", "outcome", outcomes)
    _rename("transactions", "kind", kinds)
    _rename_in_key(
        "request_minutes", "priority", priorities, REQUEST_MINUTES_KEY, REQUEST_MINUTES_SUMS
    )
    _rename_in_key("credit_minutes", "kind", kinds, CREDIT_MINUTES_KEY, CREDIT_MINUTES_SUMS)


def _reversed(mapping: Mapping[str, str]) -> dict[str, str]:
    return {new: old for old, new in mapping.items()}


def upgrade() -> None:
    """Respell the rows in the `flotilla.semconv` names; the view filters on those."""
    op.execute("DROP VIEW IF EXISTS fleet_minutes")
    _convert(PRIORITIES, OUTCOMES, KINDS)
    op.execute(_fleet_minutes_view(KINDS))


def downgrade() -> None:
    """Back to revision 0001's enum names, and its view."""
    op.execute("DROP VIEW IF EXISTS fleet_minutes")
    _convert(_reversed(PRIORITIES), _reversed(OUTCOMES), _reversed(KINDS))
    op.execute(_fleet_minutes_view(None))
