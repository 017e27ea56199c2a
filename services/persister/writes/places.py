"""The `systems` and `waypoints` tables: places the events mention. Their facts only accumulate
(a waypoint's type and coordinates do not change, its market and shipyard flags only turn on),
so the merge needs no version; a cache keeps the same facts from being upserted with every
ship movement."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

from flotilla.timestamps import to_datetime
from persister.coalesce import NewnessKey, WaypointSighting, sector_of
from persister.writes.sql import Column, Row, insert_from_arrays, text_array_from_json

__all__ = ["SYSTEMS_SQL", "WAYPOINTS_SQL", "PlaceCache", "system_rows", "waypoint_rows"]

SYSTEMS_SQL: Final = (
    insert_from_arrays(
        "systems", [Column("symbol", "text"), Column("sector_symbol", "text")], "u.symbol"
    )
    + "\nON CONFLICT (symbol) DO NOTHING"
)
# A waypoint observation's own facts (traits, the body it orbits) are taken from the newest
# observation by `observed_at` (two observed in the same microsecond: the first written stays);
# charted only turns on.
_NEWER_OBSERVATION = (
    "EXCLUDED.observed_at IS NOT NULL"
    " AND (t.observed_at IS NULL OR EXCLUDED.observed_at > t.observed_at)"
)
WAYPOINTS_SQL: Final = (
    insert_from_arrays(
        "waypoints",
        [
            Column("symbol", "text"),
            Column("system_symbol", "text"),
            Column("type", "text"),
            Column("x", "int4"),
            Column("y", "int4"),
            Column("has_market", "bool"),
            Column("has_shipyard", "bool"),
            text_array_from_json("traits"),
            Column("orbits", "text"),
            Column("charted", "bool"),
            Column("observed_at", "timestamptz"),
        ],
        "u.symbol",
    )
    + "\nON CONFLICT (symbol) DO UPDATE SET"
    " type = coalesce(EXCLUDED.type, t.type),"
    " x = CASE WHEN EXCLUDED.type IS NULL THEN t.x ELSE EXCLUDED.x END,"
    " y = CASE WHEN EXCLUDED.type IS NULL THEN t.y ELSE EXCLUDED.y END,"
    " has_market = t.has_market OR EXCLUDED.has_market,"
    " has_shipyard = t.has_shipyard OR EXCLUDED.has_shipyard,"
    f" traits = CASE WHEN {_NEWER_OBSERVATION} THEN EXCLUDED.traits ELSE t.traits END,"
    f" orbits = CASE WHEN {_NEWER_OBSERVATION} THEN EXCLUDED.orbits ELSE t.orbits END,"
    " charted = CASE WHEN EXCLUDED.charted IS NULL THEN t.charted"
    " ELSE coalesce(t.charted, false) OR EXCLUDED.charted END,"
    " observed_at = CASE WHEN t.observed_at IS NULL OR EXCLUDED.observed_at > t.observed_at"
    " THEN coalesce(EXCLUDED.observed_at, t.observed_at) ELSE t.observed_at END"
    "\nWHERE (EXCLUDED.type IS NOT NULL AND (t.type IS DISTINCT FROM EXCLUDED.type"
    " OR t.x IS DISTINCT FROM EXCLUDED.x OR t.y IS DISTINCT FROM EXCLUDED.y))"
    " OR (EXCLUDED.has_market AND NOT t.has_market)"
    " OR (EXCLUDED.has_shipyard AND NOT t.has_shipyard)"
    f" OR ({_NEWER_OBSERVATION})"
    " OR (EXCLUDED.charted AND NOT coalesce(t.charted, false))"
)


def system_rows(systems: Sequence[str]) -> list[Row]:
    """Rows of `systems` (symbols), with the sector each belongs to."""
    return [(symbol, sector_of(symbol)) for symbol in systems]


def waypoint_rows(sightings: Sequence[WaypointSighting]) -> list[Row]:
    """Rows of what a batch reveals about waypoints."""
    return [
        (
            s.symbol,
            s.system_symbol,
            s.type,
            s.x,
            s.y,
            s.has_market,
            s.has_shipyard,
            None if s.traits is None else json.dumps(list(s.traits)),
            s.orbits,
            s.charted,
            None if s.observed is None else to_datetime(s.observed.message.observed_at),
        )
        for s in sightings
    ]


class PlaceCache:
    """Systems and waypoints this process has already written, so that the same facts are not
    upserted again with every ship movement. Bounded: it forgets everything when full."""

    def __init__(self, max_entries: int = 200_000) -> None:
        self.max_entries = max_entries
        self.systems: set[str] = set()
        self.waypoints: dict[str, tuple[str | None, bool, bool]] = {}
        # The newest waypoint observation written per waypoint.
        self.observed: dict[str, NewnessKey] = {}
        self.charted: set[str] = set()

    def is_new(self, sighting: WaypointSighting) -> bool:
        """True when `sighting` says something about its waypoint this cache has not written."""
        if sighting.observed is not None:
            written = self.observed.get(sighting.symbol)
            if written is None or sighting.observed.key > written:
                return True
        if sighting.charted and sighting.symbol not in self.charted:
            return True  # an older observation may still chart it
        known = self.waypoints.get(sighting.symbol)
        if known is None:
            return True
        known_type, has_market, has_shipyard = known
        return (
            (sighting.type is not None and known_type is None)
            or (sighting.has_market and not has_market)
            or (sighting.has_shipyard and not has_shipyard)
        )

    def remember(self, systems: Sequence[str], sightings: Sequence[WaypointSighting]) -> None:
        """Record what a committed batch wrote."""
        if len(self.waypoints) + len(sightings) > self.max_entries:
            self.systems.clear()
            self.waypoints.clear()
            self.observed.clear()
            self.charted.clear()
        self.systems.update(systems)
        for s in sightings:
            if s.charted:
                self.charted.add(s.symbol)
            if s.observed is not None:
                self.observed[s.symbol] = max(
                    s.observed.key, self.observed.get(s.symbol, s.observed.key)
                )
            known_type, has_market, has_shipyard = self.waypoints.get(
                s.symbol, (None, False, False)
            )
            self.waypoints[s.symbol] = (
                s.type or known_type,
                has_market or s.has_market,
                has_shipyard or s.has_shipyard,
            )
