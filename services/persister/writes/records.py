"""The append-only tables (transactions, extractions, the request log), keyed by event UUID,
surveys keyed by their signature (a survey never changes once made), and the per-minute rollups
(`credit_minutes`, `request_minutes`) that are incremented in the same statement from the rows
actually inserted, so a redelivered event counts nothing twice.

Priority classes, call outcomes and transaction kinds are stored in their one spelling from
`flotilla.semconv` (`cooldown_start`, `completed`, `sell`), which `flotilla.db.analytics` reads.
"""

from __future__ import annotations

import json
from typing import Final

from flotilla.semconv import OUTCOME_NAMES, PRIORITY_NAMES, TRANSACTION_KIND_NAMES
from flotilla.timestamps import to_datetime
from persister.coalesce import CoalescedBatch
from persister.writes.sql import (
    MINUTE,
    Column,
    Row,
    append_only,
    insert_from_arrays,
    text_array_from_json,
)

__all__ = [
    "EXTRACTIONS_SQL",
    "REQUESTS_SQL",
    "REQUEST_COLUMNS",
    "SURVEYS_SQL",
    "TRANSACTIONS_SQL",
    "TRANSACTION_COLUMNS",
    "extraction_rows",
    "request_rows",
    "survey_rows",
    "transaction_rows",
]

SURVEYS_SQL: Final = (
    insert_from_arrays(
        "surveys",
        [
            Column("signature", "text"),
            Column("waypoint_symbol", "text"),
            Column("size", "text"),
            text_array_from_json("deposits"),
            Column("expiration", "timestamptz"),
            Column("observed_at", "timestamptz"),
            Column("agent", "text"),
            Column("ship_symbol", "text"),
        ],
        "u.signature",
    )
    + "\nON CONFLICT (signature) DO NOTHING"
)

TRANSACTION_COLUMNS: Final = [
    Column("event_id", "uuid"),
    Column("agent", "text"),
    Column("ship_symbol", "text"),
    Column("waypoint_symbol", "text"),
    Column("kind", "text"),
    Column("trade_symbol", "text"),
    Column("units", "int4"),
    Column("price_per_unit", "int4"),
    Column("total_price", "int8"),
    Column("timestamp", "timestamptz"),
    Column("behaviour", "text"),
]
TRANSACTIONS_SQL: Final = f"""
WITH fresh AS (
{append_only("transactions", TRANSACTION_COLUMNS)}
RETURNING timestamp, agent, ship_symbol, behaviour, kind, total_price
), rolled AS (
INSERT INTO credit_minutes AS m (minute, agent, ship_symbol, behaviour, kind, credits, transactions)
SELECT {MINUTE.format("timestamp")}, agent, coalesce(ship_symbol, ''), coalesce(behaviour, ''),
       kind, sum(total_price), count(*)
FROM fresh GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
ON CONFLICT (minute, agent, ship_symbol, behaviour, kind) DO UPDATE SET
    credits = m.credits + EXCLUDED.credits, transactions = m.transactions + EXCLUDED.transactions
RETURNING 1
)
SELECT (SELECT count(*) FROM fresh), (SELECT count(*) FROM rolled)
"""

EXTRACTIONS_SQL: Final = append_only(
    "extractions",
    [
        Column("event_id", "uuid"),
        Column("agent", "text"),
        Column("ship_symbol", "text"),
        Column("waypoint_symbol", "text"),
        Column("trade_symbol", "text"),
        Column("units", "int4"),
        Column("survey_signature", "text"),
        Column("timestamp", "timestamptz"),
    ],
)

REQUEST_COLUMNS: Final = [
    Column("event_id", "uuid"),
    Column("agent", "text"),
    Column("ship_symbol", "text"),
    Column("endpoint", "text"),
    Column("method", "text"),
    Column("priority", "text"),
    Column("status", "int4"),
    Column("error_code", "int4"),
    Column("queued_ms", "float8"),
    Column("wire_ms", "float8"),
    Column("attempts", "int4"),
    Column("timestamp", "timestamptz"),
    Column("outcome", "text"),
    Column("call_id", "text"),
    Column("node", "text"),
    Column("fence_token", "int8"),
]
REQUESTS_SQL: Final = f"""
WITH fresh AS (
{append_only("request_log", REQUEST_COLUMNS)}
RETURNING timestamp, agent, priority, status, attempts, queued_ms, wire_ms
), rolled AS (
INSERT INTO request_minutes AS m
    (minute, agent, priority, calls, sent, attempts, throttled, non_throttled,
     queued_us_sum, wire_us_sum)
SELECT {MINUTE.format("timestamp")}, agent, priority,
       count(*),
       count(*) FILTER (WHERE attempts > 0),
       sum(attempts),
       count(*) FILTER (WHERE attempts > 0 AND status = 429),
       count(*) FILTER (WHERE attempts > 0 AND status <> 429),
       sum(round(queued_ms * 1000)::bigint),
       coalesce(sum(round(wire_ms * 1000)::bigint) FILTER (WHERE attempts > 0), 0)
FROM fresh GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
ON CONFLICT (minute, agent, priority) DO UPDATE SET
    calls = m.calls + EXCLUDED.calls,
    sent = m.sent + EXCLUDED.sent,
    attempts = m.attempts + EXCLUDED.attempts,
    throttled = m.throttled + EXCLUDED.throttled,
    non_throttled = m.non_throttled + EXCLUDED.non_throttled,
    queued_us_sum = m.queued_us_sum + EXCLUDED.queued_us_sum,
    wire_us_sum = m.wire_us_sum + EXCLUDED.wire_us_sum
RETURNING 1
)
SELECT (SELECT count(*) FROM fresh), (SELECT count(*) FROM rolled)
"""


def transaction_rows(batch: CoalescedBatch) -> list[Row]:
    """Every distinct transaction of the batch, its kind spelled as in `flotilla.semconv`."""
    kinds = TRANSACTION_KIND_NAMES
    return [
        (
            event_id,
            t.agent,
            t.ship_symbol or None,
            t.waypoint_symbol or None,
            kinds[t.kind],
            t.trade_symbol or None,
            t.units,
            t.price_per_unit,
            t.total_price,
            to_datetime(t.timestamp),
            t.behaviour or None,
        )
        for event_id, t in batch.transactions.items()
    ]


def extraction_rows(batch: CoalescedBatch) -> list[Row]:
    """Every distinct extraction of the batch."""
    return [
        (
            event_id,
            x.agent,
            x.ship_symbol,
            x.waypoint_symbol or None,
            x.trade_symbol,
            x.units,
            x.survey_signature or None,
            to_datetime(x.timestamp),
        )
        for event_id, x in batch.extractions.items()
    ]


def request_rows(batch: CoalescedBatch) -> list[Row]:
    """Every distinct request-log event of the batch, its priority class and outcome spelled
    as in `flotilla.semconv`."""
    priorities = PRIORITY_NAMES
    outcomes = OUTCOME_NAMES
    return [
        (
            event_id,
            r.agent,
            r.ship_symbol or None,
            r.endpoint,
            r.method,
            priorities[r.priority],
            r.status,
            r.error_code,
            r.queued_ms,
            r.wire_ms,
            r.attempts,
            to_datetime(r.timestamp),
            outcomes[r.outcome],
            r.call_id or None,
            r.node or None,
            r.fence_token or None,
        )
        for event_id, r in batch.requests.items()
    ]


def survey_rows(batch: CoalescedBatch) -> list[Row]:
    """Every distinct survey of the batch (by signature)."""
    return [
        (
            signature,
            v.waypoint_symbol,
            v.size,
            json.dumps([d.symbol for d in v.deposits]),
            to_datetime(v.expiration),
            to_datetime(v.observed_at),
            v.agent or None,
            v.ship_symbol or None,
        )
        for signature, v in batch.surveys.items()
    ]
