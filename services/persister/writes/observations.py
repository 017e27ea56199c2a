"""The observation tables: agents, markets and their trade goods, shipyards and their ship
prices. Each row is the newest observation of its key; a row is replaced only by a later
`(observed_at, event_id)`, so a late or redelivered observation never wins."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Final

from flotilla.timestamps import to_datetime
from persister.coalesce import CoalescedBatch, system_of
from persister.writes.sql import Column, Row, newer_observation_upsert, text_array_from_json

__all__ = [
    "AGENTS_SQL",
    "MARKETS_SQL",
    "MARKET_GOODS_SQL",
    "OBSERVATION_WRITES",
    "SHIPYARDS_SQL",
    "SHIPYARD_SHIPS_SQL",
    "agent_rows",
    "market_good_rows",
    "market_rows",
    "shipyard_rows",
    "shipyard_ship_rows",
]

AGENTS_SQL: Final = newer_observation_upsert(
    "agents",
    [
        Column("symbol", "text"),
        Column("credits", "int8"),
        Column("headquarters", "text"),
        Column("starting_faction", "text"),
        Column("ship_count", "int4"),
        Column("observed_at", "timestamptz"),
        Column("event_id", "uuid"),
    ],
    ["symbol"],
)
MARKETS_SQL: Final = newer_observation_upsert(
    "markets",
    [
        Column("waypoint_symbol", "text"),
        Column("system_symbol", "text"),
        text_array_from_json("exports"),
        text_array_from_json("imports"),
        text_array_from_json("exchange"),
        Column("observed_at", "timestamptz"),
        Column("event_id", "uuid"),
    ],
    ["waypoint_symbol"],
)
MARKET_GOODS_SQL: Final = newer_observation_upsert(
    "market_trade_goods",
    [
        Column("waypoint_symbol", "text"),
        Column("symbol", "text"),
        Column("type", "text"),
        Column("trade_volume", "int4"),
        Column("supply", "text"),
        Column("activity", "text"),
        Column("purchase_price", "int4"),
        Column("sell_price", "int4"),
        Column("observed_at", "timestamptz"),
        Column("event_id", "uuid"),
    ],
    ["waypoint_symbol", "symbol"],
)
SHIPYARDS_SQL: Final = newer_observation_upsert(
    "shipyards",
    [
        Column("waypoint_symbol", "text"),
        Column("system_symbol", "text"),
        text_array_from_json("ship_types"),
        Column("modifications_fee", "int4"),
        Column("observed_at", "timestamptz"),
        Column("event_id", "uuid"),
    ],
    ["waypoint_symbol"],
)
SHIPYARD_SHIPS_SQL: Final = newer_observation_upsert(
    "shipyard_ships",
    [
        Column("waypoint_symbol", "text"),
        Column("ship_type", "text"),
        Column("purchase_price", "int4"),
        Column("observed_at", "timestamptz"),
        Column("event_id", "uuid"),
    ],
    ["waypoint_symbol", "ship_type"],
)


def agent_rows(batch: CoalescedBatch) -> list[Row]:
    """The newest observation of each agent in the batch."""
    rows: list[Row] = []
    for observed in batch.agents.values():
        a = observed.message
        rows.append(
            (
                a.symbol,
                a.credits,
                a.headquarters,
                a.starting_faction,
                a.ship_count,
                to_datetime(a.observed_at),
                observed.event_id,
            )
        )
    return rows


def market_rows(batch: CoalescedBatch) -> list[Row]:
    """The newest observation of each market in the batch."""
    rows: list[Row] = []
    for observed in batch.markets.values():
        m = observed.message
        rows.append(
            (
                m.waypoint_symbol,
                m.system_symbol or system_of(m.waypoint_symbol),
                json.dumps(list(m.exports)),
                json.dumps(list(m.imports)),
                json.dumps(list(m.exchange)),
                to_datetime(m.observed_at),
                observed.event_id,
            )
        )
    return rows


def market_good_rows(batch: CoalescedBatch) -> list[Row]:
    """The newest listing of each (market, trade good) in the batch."""
    rows: list[Row] = []
    for (waypoint, symbol), listed in batch.market_goods.items():
        g = listed.listing
        rows.append(
            (
                waypoint,
                symbol,
                g.type,
                g.trade_volume,
                g.supply,
                g.activity,
                g.purchase_price,
                g.sell_price,
                to_datetime(listed.observation.observed_at),
                listed.event_id,
            )
        )
    return rows


def shipyard_rows(batch: CoalescedBatch) -> list[Row]:
    """The newest observation of each shipyard in the batch."""
    rows: list[Row] = []
    for observed in batch.shipyards.values():
        y = observed.message
        rows.append(
            (
                y.waypoint_symbol,
                y.system_symbol or system_of(y.waypoint_symbol),
                json.dumps(list(y.ship_types)),
                y.modifications_fee,
                to_datetime(y.observed_at),
                observed.event_id,
            )
        )
    return rows


def shipyard_ship_rows(batch: CoalescedBatch) -> list[Row]:
    """The newest price of each (shipyard, ship type) in the batch."""
    return [
        (
            waypoint,
            ship_type,
            listed.listing.purchase_price,
            to_datetime(listed.observation.observed_at),
            listed.event_id,
        )
        for (waypoint, ship_type), listed in batch.shipyard_ships.items()
    ]


# Observation tables in write order (the order every batch locks them in).
OBSERVATION_WRITES: Final[list[tuple[str, str, Callable[[CoalescedBatch], list[Row]]]]] = [
    ("agents", AGENTS_SQL, agent_rows),
    ("markets", MARKETS_SQL, market_rows),
    ("market_trade_goods", MARKET_GOODS_SQL, market_good_rows),
    ("shipyards", SHIPYARDS_SQL, shipyard_rows),
    ("shipyard_ships", SHIPYARD_SHIPS_SQL, shipyard_ship_rows),
]
