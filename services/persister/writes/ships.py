"""The `ships` table: one row per ship, written part by part (nav, fuel, cargo, …), each part
guarded by the version of the event that set it, so an older event never replaces a newer part
and a part an event did not carry is never touched."""

from __future__ import annotations

import json
from typing import Any, Final

from flotilla.timestamps import to_datetime
from persister.coalesce import CoalescedBatch, ShipMerge
from persister.contract import optional_datetime
from persister.writes.sql import Column, Row, insert_from_arrays, text_array_from_json

__all__ = ["SHIPS_SQL", "SHIP_COLUMNS", "SHIP_PART_COLUMNS", "ship_row", "ship_rows"]

SHIP_PART_COLUMNS: Final[dict[str, list[Column]]] = {
    "role": [Column("role", "text")],
    "frame": [Column("frame", "text")],
    "behaviour": [Column("behaviour", "text")],
    "nav": [
        Column("nav_system_symbol", "text"),
        Column("nav_waypoint_symbol", "text"),
        Column("nav_status", "text"),
        Column("nav_flight_mode", "text"),
        Column("nav_origin_symbol", "text"),
        Column("nav_destination_symbol", "text"),
        Column("nav_departure_time", "timestamptz"),
        Column("nav_arrival", "timestamptz"),
    ],
    "fuel": [Column("fuel_current", "int4"), Column("fuel_capacity", "int4")],
    "cargo": [
        Column("cargo_capacity", "int4"),
        Column("cargo_units", "int4"),
        Column("cargo_inventory", "text", "{}::jsonb"),
    ],
    "cooldown": [
        Column("cooldown_total_seconds", "int4"),
        Column("cooldown_expiration", "timestamptz"),
    ],
    "mounts": [text_array_from_json("mounts")],
}
SHIP_COLUMNS: Final = [
    Column("symbol", "text"),
    Column("agent", "text"),
    Column("version", "int8"),
    Column("updated_at", "timestamptz"),
] + [
    column
    for part, part_columns in SHIP_PART_COLUMNS.items()
    for column in [*part_columns, Column(f"{part}_version", "int8")]
]


def _ship_upsert() -> str:
    sets = [
        "version = GREATEST(t.version, EXCLUDED.version)",
        "updated_at = CASE WHEN EXCLUDED.version > t.version"
        " THEN EXCLUDED.updated_at ELSE t.updated_at END",
    ]
    newer = ["EXCLUDED.version > t.version"]
    for part, part_columns in SHIP_PART_COLUMNS.items():
        guard = f"EXCLUDED.{part}_version > t.{part}_version"
        newer.append(guard)
        sets += [
            f"{c.name} = CASE WHEN {guard} THEN EXCLUDED.{c.name} ELSE t.{c.name} END"
            for c in part_columns
        ]
        sets.append(f"{part}_version = GREATEST(t.{part}_version, EXCLUDED.{part}_version)")
    return (
        insert_from_arrays("ships", SHIP_COLUMNS, "u.symbol")
        + "\nON CONFLICT (symbol) DO UPDATE SET "
        + ", ".join(sets)
        + "\nWHERE "
        + " OR ".join(newer)
    )


SHIPS_SQL: Final = _ship_upsert()


def ship_row(merge: ShipMerge) -> list[Any]:
    """One ship's row in `SHIP_COLUMNS` order; a part the batch did not change has version 0,
    which the guard never lets win."""
    newest = merge.newest
    row: list[Any] = [merge.symbol, merge.agent, newest.version, to_datetime(newest.observed_at)]
    parts = merge.parts
    for part in ("role", "frame", "behaviour"):
        state = parts.get(part)
        row += [getattr(state, part), state.version] if state is not None else [None, 0]
    state = parts.get("nav")
    if state is not None:
        nav = state.nav
        row += [
            nav.system_symbol,
            nav.waypoint_symbol,
            nav.status or None,
            nav.flight_mode or None,
            nav.origin.symbol or None,
            nav.destination.symbol or None,
            optional_datetime(nav, "departure_time"),
            optional_datetime(nav, "arrival"),
            state.version,
        ]
    else:
        row += [None] * 8 + [0]
    state = parts.get("fuel")
    row += [state.fuel.current, state.fuel.capacity, state.version] if state else [None, None, 0]
    state = parts.get("cargo")
    if state is not None:
        cargo = state.cargo
        inventory = [{"symbol": i.symbol, "units": i.units} for i in cargo.inventory]
        row += [cargo.capacity, cargo.units, json.dumps(inventory), state.version]
    else:
        row += [None, None, None, 0]
    state = parts.get("cooldown")
    if state is not None:
        cooldown = state.cooldown
        row += [
            cooldown.total_seconds,
            optional_datetime(cooldown, "expiration"),
            state.version,
        ]
    else:
        row += [None, None, 0]
    state = parts.get("mounts")
    row += [json.dumps(list(state.mounts.symbols)), state.version] if state else [None, 0]
    return row


def ship_rows(batch: CoalescedBatch) -> list[Row]:
    """The rows of every ship the batch changed."""
    return [tuple(ship_row(merge)) for merge in batch.ships.values()]
