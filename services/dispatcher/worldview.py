"""The shared world view: what any node has observed of markets, shipyards, waypoints and
surveys, latest per waypoint (per signature for surveys) in NATS KV, so that every node decides
from the same data; and the same observations as events for history.

Each node keeps the buckets in memory through one watcher per bucket. An observation made here
is applied locally at once, then written to its bucket and to the events stream off the ship's
path. Surveys expire from their bucket with the survey (a per-message TTL); miners reserve a
survey's slots (one per extraction in flight; more for larger surveys) with TTL'd keys in the
reservations bucket, so that miners on different nodes do not exhaust one survey at once.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from nats.js import JetStreamContext

from dispatcher.events import Publisher
from dispatcher.kvops import claim, delete_if_unchanged
from flotilla import names
from flotilla.client import models
from flotilla.clock import Clock
from flotilla.timestamps import to_datetime, to_timestamp
from flotilla.v1 import cluster_pb2, events_pb2
from flotilla.watching import watch_bucket

__all__ = [
    "SURVEY_SLOTS",
    "Claims",
    "KvClaims",
    "PriceQuote",
    "SurveyHold",
    "WorldView",
    "distance",
]

# How many miners may work one survey at once, by its size.
SURVEY_SLOTS = {"SMALL": 1, "MODERATE": 2, "LARGE": 3}


def distance(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Euclidean distance between two waypoints of a system."""
    return math.hypot(a[0] - b[0], a[1] - b[1])


@dataclass(frozen=True, slots=True)
class PriceQuote:
    """A good's price at one market, as last observed."""

    waypoint: str
    symbol: str
    sell_price: int
    purchase_price: int
    trade_volume: int
    observed_at: datetime


@dataclass(frozen=True, slots=True)
class SurveyHold:
    """A reserved slot of a survey; give it back with `WorldView.release`."""

    signature: str
    key: str
    revision: int


class Claims(Protocol):
    """Exclusive keys with a TTL (survey slots): NATS KV in production, memory in unit tests."""

    async def claim(self, key: str, payload: bytes, ttl_seconds: int) -> int | None:
        """Take `key` unless held; the revision written (None: held)."""

    async def release(self, key: str, revision: int) -> None:
        """Give `key` back if it is still at `revision`."""


class KvClaims:
    """Survey slots as keys of the reservations bucket."""

    def __init__(self, js: JetStreamContext) -> None:
        self._js = js

    async def claim(self, key: str, payload: bytes, ttl_seconds: int) -> int | None:
        """Take `key` unless held; the revision written (None: held)."""
        return await claim(self._js, names.SURVEY_RESERVATIONS_BUCKET, key, payload, ttl_seconds)

    async def release(self, key: str, revision: int) -> None:
        """Give `key` back if it is still at `revision`."""
        await delete_if_unchanged(self._js, names.SURVEY_RESERVATIONS_BUCKET, key, revision)


class WorldView:
    """The node's copy of the shared world view, and the one way to add to it."""

    def __init__(
        self,
        js: JetStreamContext | None,
        publisher: Publisher,
        clock: Clock,
        *,
        node: str,
        agent: str = "",
        claims: Claims | None = None,
        reservation_ttl_seconds: int = 120,
        stale_seconds: float = 3600.0,
    ) -> None:
        self._js = js
        self._claims: Claims | None = claims or (KvClaims(js) if js is not None else None)
        self._publisher = publisher
        self._clock = clock
        self.node = node
        self.agent = agent
        self.reservation_ttl = reservation_ttl_seconds
        self.stale_seconds = stale_seconds
        self.markets: dict[str, events_pb2.MarketObservation] = {}
        self.shipyards: dict[str, events_pb2.ShipyardObservation] = {}
        self.waypoints: dict[str, events_pb2.WaypointObservation] = {}
        self.surveys: dict[str, events_pb2.SurveyObservation] = {}
        self.synced = asyncio.Event()

    # --- keeping the copy current ------------------------------------------------------------

    def _applier(
        self, table: dict[str, object], parse: Callable[[bytes], object]
    ) -> Callable[[str, bytes | None, int], None]:
        def apply(key: str, value: bytes | None, revision: int) -> None:
            """Apply one update of the bucket to the table."""
            if value is None:
                table.pop(key, None)
                return
            try:
                table[key] = parse(value)
            except Exception:
                table.pop(key, None)

        return apply

    async def run(self, stopping: asyncio.Event) -> None:
        """Watch the four buckets until `stopping` is set."""
        assert self._js is not None, "a world view without NATS cannot watch"
        js = self._js
        done = [asyncio.Event() for _ in range(4)]
        tables: list[tuple[str, dict[str, object], Callable[[bytes], object]]] = [
            (names.MARKETS_BUCKET, self.markets, events_pb2.MarketObservation.FromString),  # type: ignore[list-item]
            (names.SHIPYARDS_BUCKET, self.shipyards, events_pb2.ShipyardObservation.FromString),  # type: ignore[list-item]
            (names.WAYPOINTS_BUCKET, self.waypoints, events_pb2.WaypointObservation.FromString),  # type: ignore[list-item]
            (names.SURVEYS_BUCKET, self.surveys, events_pb2.SurveyObservation.FromString),  # type: ignore[list-item]
        ]
        watches = [
            asyncio.create_task(
                watch_bucket(js, bucket, self._applier(table, parse), stopping, synced)
            )
            for (bucket, table, parse), synced in zip(tables, done, strict=True)
        ]

        async def all_synced() -> None:
            """Mark the view synced once every bucket is."""
            for event in done:
                await event.wait()
            self.synced.set()

        marker = asyncio.create_task(all_synced())
        try:
            await asyncio.gather(*watches)
        finally:
            marker.cancel()

    # --- observing ---------------------------------------------------------------------------

    def _now(self) -> datetime:
        return self._clock.now()

    def record_market(self, market: models.Market, system: str) -> events_pb2.MarketObservation:
        """A market seen by a ship there (with prices) or from afar (goods listed only)."""
        observation = events_pb2.MarketObservation(
            event_id=str(uuid.uuid4()),
            waypoint_symbol=market.symbol,
            system_symbol=system,
            observed_at=to_timestamp(self._now()),
            exports=[g.symbol for g in market.exports],
            imports=[g.symbol for g in market.imports],
            exchange=[g.symbol for g in market.exchange],
        )
        for good in market.trade_goods or []:
            observation.goods.add(
                symbol=good.symbol,
                type=good.type,
                trade_volume=good.trade_volume,
                supply=good.supply,
                activity=good.activity or "",
                purchase_price=good.purchase_price,
                sell_price=good.sell_price,
            )
        previous = self.markets.get(market.symbol)
        if not market.trade_goods and previous is not None and previous.goods:
            # A look from afar has no prices: keep the last prices seen.
            observation.goods.extend(previous.goods)
        self.markets[market.symbol] = observation
        self._publisher.value(names.MARKETS_BUCKET, market.symbol, observation)
        self._publisher.event(names.MARKET_SUBJECT, observation, observation.event_id)
        return observation

    def record_trade(self, transaction: models.MarketTransaction) -> None:
        """Correct the known price of a good from a transaction made at its market."""
        observation = self.markets.get(transaction.waypoint_symbol)
        if observation is None:
            return
        for good in observation.goods:
            if good.symbol == transaction.trade_symbol:
                if transaction.type == "SELL":
                    good.sell_price = transaction.price_per_unit
                else:
                    good.purchase_price = transaction.price_per_unit

    def record_shipyard(
        self, shipyard: models.Shipyard, system: str
    ) -> events_pb2.ShipyardObservation:
        """A shipyard seen by a ship (with prices) or from afar."""
        observation = events_pb2.ShipyardObservation(
            event_id=str(uuid.uuid4()),
            waypoint_symbol=shipyard.symbol,
            system_symbol=system,
            observed_at=to_timestamp(self._now()),
            ship_types=[t.type for t in shipyard.ship_types],
            modifications_fee=shipyard.modifications_fee,
        )
        for ship in shipyard.ships or []:
            observation.ships.add(ship_type=ship.type, purchase_price=ship.purchase_price)
        self.shipyards[shipyard.symbol] = observation
        self._publisher.value(names.SHIPYARDS_BUCKET, shipyard.symbol, observation)
        self._publisher.event(names.SHIPYARD_SUBJECT, observation, observation.event_id)
        return observation

    def record_waypoints(self, waypoints: Iterable[models.Waypoint], observed_by: str = "") -> None:
        """Waypoints from a listing, a scan or a chart."""
        for waypoint in waypoints:
            observation = events_pb2.WaypointObservation(
                event_id=str(uuid.uuid4()),
                waypoint_symbol=waypoint.symbol,
                system_symbol=waypoint.system_symbol,
                type=waypoint.type,
                x=waypoint.x,
                y=waypoint.y,
                traits=[t.symbol for t in waypoint.traits],
                orbitals=[o.symbol for o in waypoint.orbitals],
                orbits=waypoint.orbits or "",
                charted=waypoint.chart is not None
                and not any(t.symbol == "UNCHARTED" for t in waypoint.traits),
                under_construction=waypoint.is_under_construction,
                observed_at=to_timestamp(self._now()),
                observed_by=observed_by,
            )
            self.waypoints[waypoint.symbol] = observation
            self._publisher.value(names.WAYPOINTS_BUCKET, waypoint.symbol, observation)
            self._publisher.event(names.WAYPOINT_SUBJECT, observation, observation.event_id)

    def record_surveys(self, surveys: Iterable[models.Survey], ship: str) -> int:
        """Surveys a ship made: shared until they expire. Returns how many were recorded."""
        now = self._now()
        count = 0
        for survey in surveys:
            ttl = int((survey.expiration - now).total_seconds())
            if ttl < 1:
                continue
            observation = events_pb2.SurveyObservation(
                event_id=str(uuid.uuid4()),
                agent=self.agent,
                ship_symbol=ship,
                waypoint_symbol=survey.symbol,
                signature=survey.signature,
                size=survey.size,
                expiration=to_timestamp(survey.expiration),
                observed_at=to_timestamp(now),
            )
            for deposit in survey.deposits:
                observation.deposits.add(symbol=deposit.symbol)
            self.surveys[survey.signature] = observation
            self._publisher.value(
                names.SURVEYS_BUCKET, survey.signature, observation, ttl_seconds=ttl
            )
            self._publisher.event(names.SURVEY_SUBJECT, observation, observation.event_id)
            count += 1
        return count

    def drop_survey(self, signature: str) -> None:
        """A survey the API refused (exhausted, expired): nobody should use it again."""
        self.surveys.pop(signature, None)
        self._publisher.delete(names.SURVEYS_BUCKET, signature)

    # --- deciding ----------------------------------------------------------------------------

    def _fresh(self, observed_at: datetime) -> bool:
        return (self._now() - observed_at).total_seconds() <= self.stale_seconds

    def quotes(self, symbol: str, system: str | None = None) -> list[PriceQuote]:
        """Fresh prices of good `symbol` (in `system`, if given)."""
        out: list[PriceQuote] = []
        for waypoint, market in self.markets.items():
            if system is not None and market.system_symbol != system:
                continue
            observed = to_datetime(market.observed_at)
            if not self._fresh(observed):
                continue
            for good in market.goods:
                if good.symbol == symbol:
                    out.append(
                        PriceQuote(
                            waypoint,
                            symbol,
                            good.sell_price,
                            good.purchase_price,
                            good.trade_volume,
                            observed,
                        )
                    )
        return out

    def trades(self, waypoint: str, symbol: str) -> bool:
        """Does the market at `waypoint` list good `symbol` (import, export or exchange)?"""
        market = self.markets.get(waypoint)
        if market is None:
            return False
        listed = {*market.imports, *market.exports, *market.exchange}
        return symbol in listed or any(g.symbol == symbol for g in market.goods)

    def position(self, waypoint: str) -> tuple[int, int] | None:
        """A waypoint's coordinates, if known."""
        observation = self.waypoints.get(waypoint)
        return (observation.x, observation.y) if observation is not None else None

    def system_waypoints(self, system: str) -> list[events_pb2.WaypointObservation]:
        """Every known waypoint of `system`."""
        return [w for w in self.waypoints.values() if w.system_symbol == system]

    def surveys_at(self, waypoint: str) -> list[events_pb2.SurveyObservation]:
        """Unexpired surveys of `waypoint`."""
        now = self._now()
        return [
            s
            for s in self.surveys.values()
            if s.waypoint_symbol == waypoint and to_datetime(s.expiration) > now
        ]

    # --- survey reservations -----------------------------------------------------------------

    async def reserve(self, survey: events_pb2.SurveyObservation, ship: str) -> SurveyHold | None:
        """Take a free slot of `survey` for one extraction (None: all slots are taken)."""
        value = cluster_pb2.SurveyReservation(
            signature=survey.signature,
            ship_symbol=ship,
            node=self.node,
            reserved_at=to_timestamp(self._now()),
        ).SerializeToString()
        if self._claims is None:
            return None
        for slot in range(SURVEY_SLOTS.get(survey.size, 1)):
            key = f"{survey.signature}.{slot}"
            revision = await self._claims.claim(key, value, self.reservation_ttl)
            if revision is not None:
                return SurveyHold(survey.signature, key, revision)
        return None

    async def release(self, hold: SurveyHold) -> None:
        """Give a survey slot back."""
        if self._claims is not None:
            await self._claims.release(hold.key, hold.revision)
