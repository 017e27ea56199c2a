"""Coalescing a batch of events to what must be written: the newest state per key and every
append-only record once.

State keys: a ship (part by part: the newest event that changed each part), an agent, a market,
a market's trade good, a shipyard, a shipyard's ship type and a waypoint observation.
Append-only records (transactions, extractions, request log) are kept by event UUID, so a
duplicate delivery within a batch is written once and simultaneous events are all kept; surveys
by their signature (a survey never changes once made).

"Newest" is the order the SQL guards use (`contract.newness`, ship versions), so coalescing a
batch and writing it gives the same rows as writing its events one by one in any order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar, cast

from flotilla.v1 import events_pb2
from persister.contract import Event, newness

__all__ = [
    "BEHAVIOUR_PART",
    "CoalescedBatch",
    "Listing",
    "NewnessKey",
    "Observation",
    "ShipMerge",
    "WaypointSighting",
    "coalesce_batch",
    "sector_of",
    "system_of",
]

BEHAVIOUR_PART = "behaviour"

NewnessKey = tuple[int, int, str]
M = TypeVar("M")
L = TypeVar("L")
Obs = TypeVar("Obs")


@dataclass(slots=True)
class ShipMerge:
    """The events of one ship in a batch that still matter: per part, the newest one."""

    symbol: str
    agent: str
    newest: events_pb2.ShipState
    parts: dict[str, events_pb2.ShipState] = field(default_factory=dict)

    def add(self, state: events_pb2.ShipState) -> None:
        """Keep `state` for each part it changed, if it is newer than what is kept."""
        if state.version > self.newest.version:
            self.newest = state
        parts = self.parts
        for part in state.changed:
            current = parts.get(part)
            if current is None or state.version > current.version:
                parts[part] = state
        if state.behaviour:
            current = parts.get(BEHAVIOUR_PART)
            if current is None or state.version > current.version:
                parts[BEHAVIOUR_PART] = state


@dataclass(slots=True)
class Observation(Generic[M]):
    """The newest observation of one key, with what made it newest."""

    key: NewnessKey
    event_id: str
    message: M


@dataclass(slots=True)
class Listing(Generic[L, Obs]):
    """The newest listing of one (place, item) key and the observation it came from."""

    key: NewnessKey
    event_id: str
    listing: L
    observation: Obs


@dataclass(slots=True)
class WaypointSighting:
    """What a batch says about a waypoint; unknown fields are None, flags only ever turn on."""

    symbol: str
    system_symbol: str
    type: str | None = None
    x: int | None = None
    y: int | None = None
    has_market: bool = False
    has_shipyard: bool = False
    # From a waypoint observation only (None otherwise): its facts, and what made it newest.
    traits: tuple[str, ...] | None = None
    orbits: str | None = None
    charted: bool | None = None
    observed: Observation[events_pb2.WaypointObservation] | None = None

    def merge(self, other: WaypointSighting) -> None:
        """Take in what `other` says about the same waypoint."""
        if other.type is not None:
            self.type, self.x, self.y = other.type, other.x, other.y
        self.has_market |= other.has_market
        self.has_shipyard |= other.has_shipyard
        if other.observed is not None and (
            self.observed is None or other.observed.key > self.observed.key
        ):
            self.traits, self.orbits, self.charted = other.traits, other.orbits, other.charted
            self.observed = other.observed

    @classmethod
    def of_observation(
        cls, observed: Observation[events_pb2.WaypointObservation]
    ) -> WaypointSighting:
        """What a waypoint observation says: everything (a market or shipyard by its traits)."""
        w = observed.message
        traits = tuple(w.traits)
        return cls(
            w.waypoint_symbol,
            w.system_symbol or system_of(w.waypoint_symbol),
            type=w.type,
            x=w.x,
            y=w.y,
            has_market="MARKETPLACE" in traits,
            has_shipyard="SHIPYARD" in traits,
            traits=traits,
            orbits=w.orbits or None,
            charted=w.charted,
            observed=observed,
        )


def system_of(waypoint_symbol: str) -> str:
    """The system a waypoint belongs to: `X1-DF55-20250Z` → `X1-DF55`."""
    return waypoint_symbol.rpartition("-")[0] or waypoint_symbol


def sector_of(system_symbol: str) -> str:
    """The sector of a system: `X1-DF55` → `X1`."""
    return system_symbol.partition("-")[0]


@dataclass
class CoalescedBatch:
    """A batch reduced to the rows it must write."""

    ships: dict[str, ShipMerge] = field(default_factory=dict)
    agents: dict[str, Observation[events_pb2.AgentState]] = field(default_factory=dict)
    markets: dict[str, Observation[events_pb2.MarketObservation]] = field(default_factory=dict)
    market_goods: dict[
        tuple[str, str], Listing[events_pb2.MarketGood, events_pb2.MarketObservation]
    ] = field(default_factory=dict)
    shipyards: dict[str, Observation[events_pb2.ShipyardObservation]] = field(default_factory=dict)
    shipyard_ships: dict[
        tuple[str, str], Listing[events_pb2.ShipyardListing, events_pb2.ShipyardObservation]
    ] = field(default_factory=dict)
    transactions: dict[str, events_pb2.Transaction] = field(default_factory=dict)
    extractions: dict[str, events_pb2.Extraction] = field(default_factory=dict)
    requests: dict[str, events_pb2.RequestLog] = field(default_factory=dict)
    surveys: dict[str, events_pb2.SurveyObservation] = field(default_factory=dict)
    waypoints: dict[str, Observation[events_pb2.WaypointObservation]] = field(default_factory=dict)
    # What any waypoint observation of the batch said, not only the newest: these facts only
    # turn on (has a market, has a shipyard, charted), as the database merges them.
    waypoint_flags: dict[str, tuple[bool, bool, bool]] = field(default_factory=dict)
    events: Counter[str] = field(default_factory=Counter)
    # State events in (ship, agent, market, shipyard, waypoint observations), to report the
    # coalescing ratio.
    state_events: int = 0
    navs: list[events_pb2.ShipNav] = field(default_factory=list)

    @property
    def state_rows(self) -> int:
        """State rows this batch writes at most (before the database's own guards)."""
        return (
            len(self.ships)
            + len(self.agents)
            + len(self.markets)
            + len(self.market_goods)
            + len(self.shipyards)
            + len(self.shipyard_ships)
            + len(self.waypoints)
        )

    def add(self, event: Event) -> None:
        """Fold one decoded event into the batch."""
        kind = event.kind
        self.events[kind] += 1
        if kind == "ship":
            self._add_ship(cast(events_pb2.ShipState, event.message))
        elif kind == "request":
            self.requests[event.event_id] = cast(events_pb2.RequestLog, event.message)
        elif kind == "market":
            self._add_market(event.event_id, cast(events_pb2.MarketObservation, event.message))
        elif kind == "transaction":
            self.transactions[event.event_id] = cast(events_pb2.Transaction, event.message)
        elif kind == "extraction":
            self.extractions[event.event_id] = cast(events_pb2.Extraction, event.message)
        elif kind == "shipyard":
            self._add_shipyard(event.event_id, cast(events_pb2.ShipyardObservation, event.message))
        elif kind == "agent":
            self._add_agent(event.event_id, cast(events_pb2.AgentState, event.message))
        elif kind == "survey":
            survey = cast(events_pb2.SurveyObservation, event.message)
            self.surveys.setdefault(survey.signature, survey)
        elif kind == "waypoint":
            self._add_waypoint(event.event_id, cast(events_pb2.WaypointObservation, event.message))
        else:  # pragma: no cover - contract.EVENT_TYPES lists every kind
            raise ValueError(f"unknown event kind {kind}")

    def _add_ship(self, state: events_pb2.ShipState) -> None:
        self.state_events += 1
        merge = self.ships.get(state.ship_symbol)
        if merge is None:
            merge = self.ships[state.ship_symbol] = ShipMerge(state.ship_symbol, state.agent, state)
        merge.add(state)
        if state.HasField("nav") and "nav" in state.changed:
            # Every route in the batch, not only the newest per ship: what a route says about
            # a waypoint (type, coordinates) must not depend on how events were batched.
            self.navs.append(state.nav)

    def _add_agent(self, event_id: str, state: events_pb2.AgentState) -> None:
        self.state_events += 1
        key = newness(state.observed_at, event_id)
        current = self.agents.get(state.symbol)
        if current is None or key > current.key:
            self.agents[state.symbol] = Observation(key, event_id, state)

    def _add_waypoint(self, event_id: str, waypoint: events_pb2.WaypointObservation) -> None:
        self.state_events += 1
        key = newness(waypoint.observed_at, event_id)
        symbol = waypoint.waypoint_symbol
        current = self.waypoints.get(symbol)
        if current is None or key > current.key:
            self.waypoints[symbol] = Observation(key, event_id, waypoint)
        market, shipyard, charted = self.waypoint_flags.get(symbol, (False, False, False))
        self.waypoint_flags[symbol] = (
            market or "MARKETPLACE" in waypoint.traits,
            shipyard or "SHIPYARD" in waypoint.traits,
            charted or waypoint.charted,
        )

    def _add_market(self, event_id: str, market: events_pb2.MarketObservation) -> None:
        self.state_events += 1
        key = newness(market.observed_at, event_id)
        waypoint = market.waypoint_symbol
        current = self.markets.get(waypoint)
        if current is None or key > current.key:
            self.markets[waypoint] = Observation(key, event_id, market)
        goods = self.market_goods
        for good in market.goods:
            good_key = (waypoint, good.symbol)
            listed = goods.get(good_key)
            if listed is None or key > listed.key:
                goods[good_key] = Listing(key, event_id, good, market)

    def _add_shipyard(self, event_id: str, shipyard: events_pb2.ShipyardObservation) -> None:
        self.state_events += 1
        key = newness(shipyard.observed_at, event_id)
        waypoint = shipyard.waypoint_symbol
        current = self.shipyards.get(waypoint)
        if current is None or key > current.key:
            self.shipyards[waypoint] = Observation(key, event_id, shipyard)
        for listing in shipyard.ships:
            listing_key = (waypoint, listing.ship_type)
            listed = self.shipyard_ships.get(listing_key)
            if listed is None or key > listed.key:
                self.shipyard_ships[listing_key] = Listing(key, event_id, listing, shipyard)

    def waypoint_sightings(self) -> dict[str, WaypointSighting]:
        """Waypoints the rows of this batch mention, with what they reveal about them."""
        sightings: dict[str, WaypointSighting] = {}

        def see(sighting: WaypointSighting) -> None:
            known = sightings.get(sighting.symbol)
            if known is None:
                sightings[sighting.symbol] = sighting
            else:
                known.merge(sighting)

        for nav in self.navs:
            if nav.waypoint_symbol not in sightings:
                see(WaypointSighting(nav.waypoint_symbol, nav.system_symbol))
            for point in (nav.origin, nav.destination):
                known = sightings.get(point.symbol)
                if point.symbol and (known is None or (known.type is None and point.type)):
                    see(
                        WaypointSighting(
                            point.symbol,
                            point.system_symbol or system_of(point.symbol),
                            type=point.type or None,
                            x=point.x if point.type else None,
                            y=point.y if point.type else None,
                        )
                    )
        for symbol, observed in self.waypoints.items():
            sighting = WaypointSighting.of_observation(observed)
            any_market, any_shipyard, any_charted = self.waypoint_flags[symbol]
            sighting.has_market |= any_market
            sighting.has_shipyard |= any_shipyard
            sighting.charted = bool(sighting.charted) or any_charted
            see(sighting)
        for market in self.markets.values():
            m = market.message
            see(
                WaypointSighting(
                    m.waypoint_symbol,
                    m.system_symbol or system_of(m.waypoint_symbol),
                    has_market=True,
                )
            )
        for shipyard in self.shipyards.values():
            s = shipyard.message
            see(
                WaypointSighting(
                    s.waypoint_symbol,
                    s.system_symbol or system_of(s.waypoint_symbol),
                    has_shipyard=True,
                )
            )
        return sightings


def coalesce_batch(events: Iterable[Event]) -> CoalescedBatch:
    """Reduce `events` to the newest state per key and the distinct append-only records."""
    batch = CoalescedBatch()
    for event in events:
        batch.add(event)
    return batch
