"""`ShipControl`: the actions a behaviour takes with its ship. Each sends one API call (and only
when it is needed: docking a docked ship costs nothing), applies the answer to the ship in
memory, and queues the events the answer stands for (transactions, extractions, observations).
The ship's changed parts are published once per step (`flush`)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from dispatcher.events import Publisher
from dispatcher.ship import ShipModel
from dispatcher.timing import ServerClock
from dispatcher.worldview import WorldView
from flotilla import names
from flotilla.client import SpaceTradersClient, models
from flotilla.clock import Clock
from flotilla.timestamps import to_datetime, to_timestamp
from flotilla.v1 import events_pb2
from flotilla.v1.events_pb2 import TransactionKind

__all__ = ["ShipControl"]

_KINDS = {
    "SELL": TransactionKind.TRANSACTION_KIND_SELL,
    "PURCHASE": TransactionKind.TRANSACTION_KIND_PURCHASE,
}


class ShipControl:
    """One ship's actions, for the behaviour that drives it."""

    __slots__ = (
        "_deadline",
        "_publisher",
        "_read_deadline",
        "api",
        "behaviour",
        "clock",
        "peers",
        "server_clock",
        "ship",
        "snapshot_written",
        "world",
    )

    def __init__(
        self,
        ship: ShipModel,
        api: SpaceTradersClient,
        world: WorldView,
        publisher: Publisher,
        clock: Clock,
        server_clock: ServerClock,
        *,
        action_deadline: float = 60.0,
        read_deadline: float = 120.0,
        peers: Callable[[str], Awaitable[events_pb2.ShipState | None]] | None = None,
    ) -> None:
        self.ship = ship
        self.api = api
        self.world = world
        self._publisher = publisher
        self.clock = clock
        self.server_clock = server_clock
        self._deadline = action_deadline
        self._read_deadline = read_deadline
        self.behaviour = ""
        self.peers = peers
        self.snapshot_written = False

    # --- time --------------------------------------------------------------------------------

    def monotonic(self) -> float:
        """Now, on the monotonic clock ship tasks sleep on."""
        return self.clock.monotonic()

    def server_now(self) -> datetime:
        """The game server's time now (as well as this node can tell)."""
        return self.clock.now() + timedelta(seconds=self.server_clock.offset())

    def local(self, instant: datetime | None) -> float:
        """A server instant as a local monotonic instant (now when None)."""
        if instant is None:
            return self.monotonic()
        return self.server_clock.to_monotonic(instant)

    def cooldown_over_at(self) -> float:
        """When the ship's cooldown ends (now when it has none)."""
        return max(self.monotonic(), self.local(self.ship.cooldown_expiration))

    def arrival_at(self) -> float:
        """When the ship's flight ends (now when not flying)."""
        if self.ship.status != "IN_TRANSIT":
            return self.monotonic()
        return max(self.monotonic(), self.local(self.ship.arrival))

    def in_transit(self) -> bool:
        """Still flying (the ship's arrival, on the server's clock, is ahead)."""
        self.ship.arrived(self.server_now())
        return self.ship.status == "IN_TRANSIT"

    def cooling_down(self) -> bool:
        """Is a cooldown still running?"""
        expiration = self.ship.cooldown_expiration
        return expiration is not None and expiration > self.server_now()

    def _learn_server_time(self, server_instant: datetime | None) -> None:
        if server_instant is not None:
            self.server_clock.observe(server_instant, self.clock.time())

    def _learn_from_cooldown(self, cooldown: models.Cooldown) -> None:
        # The cooldown began when the server handled the call, `remainingSeconds` (the real
        # time left, rounded up) before `expiration`, or earlier: `expiration` less it is no
        # later than the server's "now". `totalSeconds` is the game length: the same on the
        # real game, but under the simulator's time scale longer (faster universe) or shorter
        # (slower) than the real time; shorter would date the call too late and wake ships
        # before their cooldown is over. It is the fallback when nothing is left.
        length = cooldown.remaining_seconds or cooldown.total_seconds
        if cooldown.expiration is not None and length > 0:
            self._learn_server_time(cooldown.expiration - timedelta(seconds=length))

    # --- events ------------------------------------------------------------------------------

    def flush(self) -> events_pb2.ShipState | None:
        """Publish the ship's changed parts (one event per step) and its snapshot (also once
        when its new owner starts, so that other ships can find it in the ships bucket)."""
        now = self.clock.now()
        self.ship.set_behaviour(self.behaviour)
        event = self.ship.take_changes(self.clock.time(), now)
        if event is not None:
            self._publisher.event(names.SHIP_STATE_SUBJECT, event, event.event_id)
        if event is not None or not self.snapshot_written:
            self._publisher.value(names.SHIPS_BUCKET, self.ship.symbol, self.ship.snapshot(now))
            self.snapshot_written = True
        return event

    def _transaction(
        self,
        kind: int,
        *,
        waypoint: str,
        symbol: str = "",
        units: int = 0,
        price: int = 0,
        total: int = 0,
        timestamp: datetime | None = None,
    ) -> None:
        event = events_pb2.Transaction(
            event_id=str(uuid.uuid4()),
            agent=self.ship.agent,
            ship_symbol=self.ship.symbol,
            waypoint_symbol=waypoint,
            kind=kind,  # type: ignore[arg-type]
            trade_symbol=symbol,
            units=units,
            price_per_unit=price,
            total_price=abs(total),
            timestamp=to_timestamp(timestamp or self.clock.now()),
            behaviour=self.behaviour,
        )
        self._publisher.event(names.TRANSACTION_SUBJECT, event, event.event_id)

    def _market_transaction(
        self, transaction: models.MarketTransaction, kind: int | None = None
    ) -> None:
        self._transaction(
            kind
            if kind is not None
            else _KINDS.get(transaction.type, TransactionKind.TRANSACTION_KIND_OTHER),
            waypoint=transaction.waypoint_symbol,
            symbol=transaction.trade_symbol,
            units=transaction.units,
            price=transaction.price_per_unit,
            total=transaction.total_price,
            timestamp=transaction.timestamp,
        )

    def _agent(self, agent: models.Agent | None) -> None:
        if agent is None:
            return
        event = events_pb2.AgentState(
            event_id=str(uuid.uuid4()),
            symbol=agent.symbol,
            credits=agent.credits,
            headquarters=agent.headquarters,
            starting_faction=agent.starting_faction,
            ship_count=agent.ship_count,
            observed_at=to_timestamp(self.clock.now()),
        )
        self._publisher.event(names.AGENT_SUBJECT, event, event.event_id)

    # --- moving ------------------------------------------------------------------------------

    async def orbit(self) -> bool:
        """Put the ship in orbit; True when a call was needed."""
        if self.ship.status == "IN_ORBIT":
            return False
        nav = await self.api.orbit(self.ship.symbol, deadline=self._deadline)
        self.ship.apply_nav(nav)
        return True

    async def dock(self) -> bool:
        """Dock the ship; True when a call was needed."""
        if self.ship.status == "DOCKED":
            return False
        nav = await self.api.dock(self.ship.symbol, deadline=self._deadline)
        self.ship.apply_nav(nav)
        return True

    async def set_flight_mode(self, mode: str) -> bool:
        """Set the flight mode; True when a call was needed."""
        if self.ship.flight_mode == mode:
            return False
        result = await self.api.set_flight_mode(self.ship.symbol, mode, deadline=self._deadline)
        self.ship.apply_nav(result.nav)
        self.ship.apply_fuel(result.fuel)
        return True

    async def navigate(self, waypoint: str) -> None:
        """Fly to `waypoint` (in orbit, same system)."""
        result = await self.api.navigate(self.ship.symbol, waypoint, deadline=self._deadline)
        self._learn_server_time(result.nav.route.departure_time)
        self.ship.apply_nav(result.nav)
        self.ship.apply_fuel(result.fuel)

    async def jump(self, waypoint: str) -> None:
        """Jump through the gate here to `waypoint` in another system."""
        result = await self.api.jump(self.ship.symbol, waypoint, deadline=self._deadline)
        self._learn_from_cooldown(result.cooldown)
        self.ship.apply_nav(result.nav)
        self.ship.apply_cooldown(result.cooldown)
        if result.transaction is not None:
            self._market_transaction(result.transaction, TransactionKind.TRANSACTION_KIND_OTHER)
        self._agent(result.agent)

    async def refuel(self, units: int | None = None, *, from_cargo: bool = False) -> None:
        """Refuel at the market here (docked)."""
        result = await self.api.refuel(
            self.ship.symbol, units, from_cargo=from_cargo, deadline=self._deadline
        )
        self.ship.apply_fuel(result.fuel)
        if result.cargo is not None:
            self.ship.apply_cargo(result.cargo)
        self._market_transaction(result.transaction, TransactionKind.TRANSACTION_KIND_FUEL)
        self._agent(result.agent)

    # --- working -----------------------------------------------------------------------------

    async def extract(self, survey: events_pb2.SurveyObservation | None = None) -> models.Yield:
        """Extract here (targeting `survey`'s deposits when given); the yield."""
        target = _survey_model(survey) if survey is not None else None
        result = await self.api.extract(self.ship.symbol, target, deadline=self._deadline)
        self._learn_from_cooldown(result.cooldown)
        self.ship.apply_cooldown(result.cooldown)
        self.ship.apply_cargo(result.cargo)
        extracted = result.extraction.yield_
        event = events_pb2.Extraction(
            event_id=str(uuid.uuid4()),
            agent=self.ship.agent,
            ship_symbol=self.ship.symbol,
            waypoint_symbol=self.ship.waypoint,
            trade_symbol=extracted.symbol,
            units=extracted.units,
            survey_signature=survey.signature if survey is not None else "",
            timestamp=to_timestamp(self.clock.now()),
        )
        self._publisher.event(names.EXTRACTION_SUBJECT, event, event.event_id)
        return extracted

    async def survey(self) -> int:
        """Survey here; the surveys are shared through the world view. How many it made."""
        result = await self.api.survey(self.ship.symbol, deadline=self._deadline)
        self._learn_from_cooldown(result.cooldown)
        self.ship.apply_cooldown(result.cooldown)
        return self.world.record_surveys(result.surveys, self.ship.symbol)

    async def sell(self, symbol: str, units: int) -> models.MarketTransaction:
        """Sell `units` of `symbol` at the market here (docked)."""
        result = await self.api.sell(self.ship.symbol, symbol, units, deadline=self._deadline)
        self.ship.apply_cargo(result.cargo)
        self._market_transaction(result.transaction)
        self.world.record_trade(result.transaction)
        self._agent(result.agent)
        return result.transaction

    async def purchase(self, symbol: str, units: int) -> models.MarketTransaction:
        """Buy `units` of `symbol` at the market here (docked)."""
        result = await self.api.purchase(self.ship.symbol, symbol, units, deadline=self._deadline)
        self.ship.apply_cargo(result.cargo)
        self._market_transaction(result.transaction)
        self.world.record_trade(result.transaction)
        self._agent(result.agent)
        return result.transaction

    async def jettison(self, symbol: str, units: int) -> None:
        """Drop cargo into space."""
        cargo = await self.api.jettison(self.ship.symbol, symbol, units, deadline=self._deadline)
        self.ship.apply_cargo(cargo)

    async def transfer(self, symbol: str, units: int, to_ship: str) -> None:
        """Hand cargo to another ship at the same waypoint."""
        cargo = await self.api.transfer(
            self.ship.symbol, symbol, units, to_ship, deadline=self._deadline
        )
        self.ship.apply_cargo(cargo)

    async def cargo(self) -> None:
        """Look at the hold (when another ship may have changed it)."""
        self.ship.apply_cargo(
            await self.api.get_cargo(self.ship.symbol, deadline=self._read_deadline)
        )

    # --- observing ---------------------------------------------------------------------------

    async def market(self, waypoint: str | None = None) -> events_pb2.MarketObservation:
        """Look at the market here (with prices) or at `waypoint`."""
        where = waypoint or self.ship.waypoint
        market = await self.api.get_market(where, deadline=self._read_deadline)
        return self.world.record_market(market, _system(where))

    async def shipyard(self, waypoint: str | None = None) -> events_pb2.ShipyardObservation:
        """Look at the shipyard here (with prices) or at `waypoint`."""
        where = waypoint or self.ship.waypoint
        shipyard = await self.api.get_shipyard(where, deadline=self._read_deadline)
        return self.world.record_shipyard(shipyard, _system(where))

    async def chart(self) -> None:
        """Chart the waypoint here."""
        result = await self.api.chart(self.ship.symbol, deadline=self._deadline)
        self.world.record_waypoints([result.waypoint], self.ship.symbol)
        self._agent(result.agent)

    async def scan_waypoints(self) -> int:
        """Scan the waypoints around; how many were seen."""
        result = await self.api.scan_waypoints(self.ship.symbol, deadline=self._deadline)
        self._learn_from_cooldown(result.cooldown)
        self.ship.apply_cooldown(result.cooldown)
        self.world.record_waypoints(result.waypoints, self.ship.symbol)
        return len(result.waypoints)

    async def list_waypoints(self, system: str) -> int:
        """List every waypoint of `system` into the world view (one read per page of 20)."""
        page = 1
        seen = 0
        while True:
            listing = await self.api.list_waypoints(system, page, 20, deadline=self._read_deadline)
            self.world.record_waypoints(listing.items, self.ship.symbol)
            seen += len(listing.items)
            if listing.last or not listing.items:
                return seen
            page += 1

    async def jump_gate_connections(self, gate: str) -> list[str]:
        """The systems' waypoints a jump gate connects to."""
        answer = await self.api.call(
            "GET",
            f"/systems/{_system(gate)}/waypoints/{gate}/jump-gate",
            deadline=self._read_deadline,
        )
        data = answer.get("data") or {}
        return [str(c) for c in data.get("connections", []) if isinstance(c, str)]

    async def peer(self, symbol: str) -> events_pb2.ShipState | None:
        """Another ship's last known state, from the ships bucket (no API call)."""
        if self.peers is None:
            return None
        return await self.peers(symbol)

    async def resync(self) -> None:
        """Look at the whole ship: after an answer that never came, the game is the truth."""
        self.ship.apply_ship(
            await self.api.get_ship(self.ship.symbol, deadline=self._read_deadline)
        )

    # --- the fleet ---------------------------------------------------------------------------

    async def install_mount(self, mount: str) -> None:
        """Install a mount from the hold (docked at a shipyard)."""
        result = await self.api.install_mount(self.ship.symbol, mount, deadline=self._deadline)
        self.ship.apply_mounts(result.mounts)
        self.ship.apply_cargo(result.cargo)
        self._mount_transaction(result.transaction)
        self._agent(result.agent)

    async def remove_mount(self, mount: str) -> None:
        """Remove a mount into the hold (docked at a shipyard)."""
        result = await self.api.remove_mount(self.ship.symbol, mount, deadline=self._deadline)
        self.ship.apply_mounts(result.mounts)
        self.ship.apply_cargo(result.cargo)
        self._mount_transaction(result.transaction)
        self._agent(result.agent)

    def _mount_transaction(self, transaction: models.ShipModificationTransaction) -> None:
        self._transaction(
            TransactionKind.TRANSACTION_KIND_MOUNT,
            waypoint=transaction.waypoint_symbol,
            symbol=transaction.trade_symbol,
            units=1,
            price=transaction.total_price,
            total=transaction.total_price,
            timestamp=transaction.timestamp,
        )

    async def contracts(self) -> list[models.Contract]:
        """The agent's contracts (first page)."""
        return (await self.api.list_contracts(deadline=self._read_deadline)).items

    async def accept_contract(self, contract: models.Contract) -> models.Contract:
        """Accept a contract (its advance is paid)."""
        result = await self.api.accept_contract(contract.id, deadline=self._deadline)
        self._contract_payment(result.contract.terms.payment.on_accepted)
        self._agent(result.agent)
        return result.contract

    async def deliver(self, contract: models.Contract, symbol: str, units: int) -> models.Contract:
        """Deliver cargo to a contract (docked at its destination)."""
        result = await self.api.deliver_contract(
            contract.id, self.ship.symbol, symbol, units, deadline=self._deadline
        )
        self.ship.apply_cargo(result.cargo)
        return result.contract

    async def fulfill(self, contract: models.Contract) -> models.Contract:
        """Fulfil a fully delivered contract (its payment is made)."""
        result = await self.api.fulfill_contract(contract.id, deadline=self._deadline)
        self._contract_payment(result.contract.terms.payment.on_fulfilled)
        self._agent(result.agent)
        return result.contract

    async def negotiate(self) -> models.Contract:
        """Ask the faction here for a new contract."""
        return (
            await self.api.negotiate_contract(self.ship.symbol, deadline=self._deadline)
        ).contract

    def _contract_payment(self, credits: int) -> None:
        self._transaction(
            TransactionKind.TRANSACTION_KIND_CONTRACT,
            waypoint=self.ship.waypoint,
            units=1,
            price=credits,
            total=credits,
        )


def _system(waypoint: str) -> str:
    parts = waypoint.split("-")
    return "-".join(parts[:2]) if len(parts) >= 3 else waypoint


def _survey_model(survey: events_pb2.SurveyObservation) -> models.Survey:
    return models.Survey(
        signature=survey.signature,
        symbol=survey.waypoint_symbol,
        deposits=[models.SurveyDeposit(symbol=d.symbol) for d in survey.deposits],
        expiration=to_datetime(survey.expiration),
        size=survey.size,
    )
