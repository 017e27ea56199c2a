"""`SpaceTradersClient`: typed async methods for the API calls the fleet makes, sent through the
gateway. Each returns a typed result or raises a typed `CallError`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter

from flotilla.client.errors import CallFailed, OutcomeUnknown, error_for
from flotilla.client.models import (
    Agent,
    BuyShipResult,
    ChartResult,
    Contract,
    ContractResult,
    Cooldown,
    DeliverResult,
    ExtractResult,
    JumpResult,
    Market,
    MountResult,
    NavigateResult,
    NegotiateResult,
    Page,
    RefuelResult,
    ScanWaypointsResult,
    Ship,
    ShipCargo,
    ShipMount,
    ShipNav,
    Shipyard,
    SiphonResult,
    Survey,
    SurveyResult,
    System,
    TradeResult,
    Waypoint,
)
from flotilla.client.transport import UNSPECIFIED, CallRequest, Transport
from flotilla.v1.api_pb2 import ApiResult

__all__ = [
    "SpaceTradersClient",
    "system_of",
]

M = TypeVar("M", bound=BaseModel)


def system_of(waypoint: str) -> str:
    """The system of a waypoint symbol: X1-DF55-20250Z -> X1-DF55."""
    parts = waypoint.split("-")
    return "-".join(parts[:2]) if len(parts) >= 3 else waypoint


def _ship_path(ship: str, action: str = "") -> str:
    return f"/my/ships/{ship}/{action}" if action else f"/my/ships/{ship}"


class SpaceTradersClient:
    """The SpaceTraders API as typed methods, through the gateway.

    `priority` and `deadline` (seconds the call may wait in the gateway's queue) can be given
    per call; by default the gateway derives the class from the call and
    `default_deadline_seconds` applies (None: no deadline).
    """

    def __init__(self, transport: Transport, *, default_deadline_seconds: float | None = None):
        self.transport = transport
        self.default_deadline_seconds = default_deadline_seconds
        self.last_result: ApiResult | None = None

    # --- the generic call ---------------------------------------------------------------------

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        query: dict[str, str] | None = None,
        priority: int = UNSPECIFIED,
        deadline: float | None = None,
        ship_symbol: str = "",
    ) -> dict[str, Any]:
        """Send any call; return the parsed response body (`{"data": ..., "meta": ...}`, or
        `{}` for an empty answer) or raise the `CallError` its result stands for."""
        request = CallRequest(
            method=method,
            path=path,
            body=body,
            query=query or {},
            priority=priority,
            deadline_seconds=deadline if deadline is not None else self.default_deadline_seconds,
            ship_symbol=ship_symbol,
        )
        result = await self.transport.send(request)
        self.last_result = result
        error = error_for(result)
        if error is not None:
            raise error
        if not result.json_body:
            return {}
        try:
            parsed = json.loads(result.json_body)
        except ValueError:
            # A write the API accepted is done, even if its answer cannot be read: failing it
            # would invite the caller to do it again.
            unreadable = CallFailed if method.upper() == "GET" else OutcomeUnknown
            raise unreadable(
                f"the API answered HTTP {result.status} with a body that is not JSON",
                call_id=result.call_id,
                status=result.status,
                attempts=result.attempts,
            ) from None
        return parsed if isinstance(parsed, dict) else {"data": parsed}

    async def _typed(
        self,
        model: type[M],
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        ship_symbol: str = "",
        priority: int = UNSPECIFIED,
        deadline: float | None = None,
    ) -> M:
        answer = await self.call(
            method,
            path,
            body=body,
            priority=priority,
            deadline=deadline,
            ship_symbol=ship_symbol,
        )
        return model.model_validate(answer.get("data"))

    async def _page(
        self,
        parse: Callable[[Any], list[M]],
        path: str,
        page: int,
        limit: int,
        query: dict[str, str] | None = None,
        *,
        priority: int,
        deadline: float | None,
    ) -> Page[M]:
        params = {"page": str(page), "limit": str(limit), **(query or {})}
        answer = await self.call("GET", path, query=params, priority=priority, deadline=deadline)
        meta = answer.get("meta") or {}
        items = parse(answer.get("data") or [])
        return Page(
            items=items,
            total=int(meta.get("total", len(items))),
            page=int(meta.get("page", page)),
            limit=int(meta.get("limit", limit)),
        )

    # --- agent ------------------------------------------------------------------------------------

    async def get_agent(
        self, *, priority: int = UNSPECIFIED, deadline: float | None = None
    ) -> Agent:
        """The agent whose token the call uses."""
        return await self._typed(Agent, "GET", "/my/agent", priority=priority, deadline=deadline)

    # --- ships: reads -----------------------------------------------------------------------------

    async def get_ship(
        self, ship: str, *, priority: int = UNSPECIFIED, deadline: float | None = None
    ) -> Ship:
        """One ship, whole (a background read: the dispatcher keeps ships in memory instead)."""
        return await self._typed(
            Ship, "GET", _ship_path(ship), ship_symbol=ship, priority=priority, deadline=deadline
        )

    async def list_ships(
        self,
        page: int = 1,
        limit: int = 20,
        *,
        priority: int = UNSPECIFIED,
        deadline: float | None = None,
    ) -> Page[Ship]:
        """One page of the agent's ships."""
        return await self._page(
            TypeAdapter(list[Ship]).validate_python,
            "/my/ships",
            page,
            limit,
            priority=priority,
            deadline=deadline,
        )

    async def all_ships(self, *, deadline: float | None = None) -> list[Ship]:
        """Every ship of the agent, page by page."""
        ships: list[Ship] = []
        page = 1
        while True:
            listing = await self.list_ships(page, 20, deadline=deadline)
            ships.extend(listing.items)
            if listing.last or not listing.items:
                return ships
            page += 1

    async def get_cooldown(self, ship: str, *, deadline: float | None = None) -> Cooldown | None:
        """The ship's cooldown, or None when it has none (the API answers 204)."""
        answer = await self.call(
            "GET", _ship_path(ship, "cooldown"), ship_symbol=ship, deadline=deadline
        )
        data = answer.get("data")
        return Cooldown.model_validate(data) if data else None

    async def get_cargo(self, ship: str, *, deadline: float | None = None) -> ShipCargo:
        """The ship's hold."""
        return await self._typed(
            ShipCargo, "GET", _ship_path(ship, "cargo"), ship_symbol=ship, deadline=deadline
        )

    async def get_nav(self, ship: str, *, deadline: float | None = None) -> ShipNav:
        """Where the ship is and where it is going."""
        return await self._typed(
            ShipNav, "GET", _ship_path(ship, "nav"), ship_symbol=ship, deadline=deadline
        )

    async def get_mounts(self, ship: str, *, deadline: float | None = None) -> list[ShipMount]:
        """The mounts the ship carries."""
        answer = await self.call(
            "GET", _ship_path(ship, "mounts"), ship_symbol=ship, deadline=deadline
        )
        return TypeAdapter(list[ShipMount]).validate_python(answer.get("data") or [])

    # --- ships: actions that start a cooldown or a flight -------------------------------------

    async def extract(
        self,
        ship: str,
        survey: Survey | None = None,
        *,
        priority: int = UNSPECIFIED,
        deadline: float | None = None,
    ) -> ExtractResult:
        """Extract at the ship's waypoint (with `survey`: target that survey's deposits)."""
        if survey is None:
            return await self._typed(
                ExtractResult,
                "POST",
                _ship_path(ship, "extract"),
                ship_symbol=ship,
                priority=priority,
                deadline=deadline,
            )
        return await self._typed(
            ExtractResult,
            "POST",
            _ship_path(ship, "extract/survey"),
            body=survey.to_api(),
            ship_symbol=ship,
            priority=priority,
            deadline=deadline,
        )

    async def siphon(self, ship: str, *, deadline: float | None = None) -> SiphonResult:
        """Siphon gas at the ship's waypoint; starts a cooldown."""
        return await self._typed(
            SiphonResult, "POST", _ship_path(ship, "siphon"), ship_symbol=ship, deadline=deadline
        )

    async def survey(self, ship: str, *, deadline: float | None = None) -> SurveyResult:
        """Survey the ship's waypoint; starts a cooldown."""
        return await self._typed(
            SurveyResult, "POST", _ship_path(ship, "survey"), ship_symbol=ship, deadline=deadline
        )

    async def navigate(
        self, ship: str, waypoint: str, *, deadline: float | None = None
    ) -> NavigateResult:
        """Fly to `waypoint` in the same system; the answer says when the ship arrives."""
        return await self._typed(
            NavigateResult,
            "POST",
            _ship_path(ship, "navigate"),
            body={"waypointSymbol": waypoint},
            ship_symbol=ship,
            deadline=deadline,
        )

    async def warp(
        self, ship: str, waypoint: str, *, deadline: float | None = None
    ) -> NavigateResult:
        """Warp to `waypoint` in another system (needs a warp drive)."""
        return await self._typed(
            NavigateResult,
            "POST",
            _ship_path(ship, "warp"),
            body={"waypointSymbol": waypoint},
            ship_symbol=ship,
            deadline=deadline,
        )

    async def jump(self, ship: str, waypoint: str, *, deadline: float | None = None) -> JumpResult:
        """Jump through the gate to `waypoint` in another system; starts a cooldown."""
        return await self._typed(
            JumpResult,
            "POST",
            _ship_path(ship, "jump"),
            body={"waypointSymbol": waypoint},
            ship_symbol=ship,
            deadline=deadline,
        )

    async def scan_waypoints(
        self, ship: str, *, deadline: float | None = None
    ) -> ScanWaypointsResult:
        """Scan the waypoints around the ship; starts a cooldown."""
        return await self._typed(
            ScanWaypointsResult,
            "POST",
            _ship_path(ship, "scan/waypoints"),
            ship_symbol=ship,
            deadline=deadline,
        )

    # --- ships: actions that unblock a ship ---------------------------------------------------

    async def orbit(self, ship: str, *, deadline: float | None = None) -> ShipNav:
        """Leave the dock for orbit (idempotent)."""
        answer = await self.call(
            "POST", _ship_path(ship, "orbit"), ship_symbol=ship, deadline=deadline
        )
        return ShipNav.model_validate((answer.get("data") or {}).get("nav"))

    async def dock(self, ship: str, *, deadline: float | None = None) -> ShipNav:
        """Dock at the ship's waypoint (idempotent)."""
        answer = await self.call(
            "POST", _ship_path(ship, "dock"), ship_symbol=ship, deadline=deadline
        )
        return ShipNav.model_validate((answer.get("data") or {}).get("nav"))

    async def set_flight_mode(
        self, ship: str, mode: str, *, deadline: float | None = None
    ) -> NavigateResult:
        """Set DRIFT, STEALTH, CRUISE or BURN."""
        return await self._typed(
            NavigateResult,
            "PATCH",
            _ship_path(ship, "nav"),
            body={"flightMode": mode},
            ship_symbol=ship,
            deadline=deadline,
        )

    async def sell(
        self, ship: str, symbol: str, units: int, *, deadline: float | None = None
    ) -> TradeResult:
        """Sell `units` of good `symbol` where the ship is docked (at most its trade volume)."""
        return await self._typed(
            TradeResult,
            "POST",
            _ship_path(ship, "sell"),
            body={"symbol": symbol, "units": units},
            ship_symbol=ship,
            deadline=deadline,
        )

    async def purchase(
        self, ship: str, symbol: str, units: int, *, deadline: float | None = None
    ) -> TradeResult:
        """Buy cargo at the market where the ship is docked."""
        return await self._typed(
            TradeResult,
            "POST",
            _ship_path(ship, "purchase"),
            body={"symbol": symbol, "units": units},
            ship_symbol=ship,
            deadline=deadline,
        )

    async def refuel(
        self,
        ship: str,
        units: int | None = None,
        *,
        from_cargo: bool = False,
        deadline: float | None = None,
    ) -> RefuelResult:
        """Refuel (fully when `units` is None); `from_cargo` burns FUEL from the hold."""
        body: dict[str, Any] = {}
        if units is not None:
            body["units"] = units
        if from_cargo:
            body["fromCargo"] = True
        return await self._typed(
            RefuelResult,
            "POST",
            _ship_path(ship, "refuel"),
            body=body or None,
            ship_symbol=ship,
            deadline=deadline,
        )

    async def jettison(
        self, ship: str, symbol: str, units: int, *, deadline: float | None = None
    ) -> ShipCargo:
        """Throw `units` of good `symbol` out of the hold."""
        answer = await self.call(
            "POST",
            _ship_path(ship, "jettison"),
            body={"symbol": symbol, "units": units},
            ship_symbol=ship,
            deadline=deadline,
        )
        return ShipCargo.model_validate((answer.get("data") or {}).get("cargo"))

    async def transfer(
        self,
        ship: str,
        symbol: str,
        units: int,
        to_ship: str,
        *,
        deadline: float | None = None,
    ) -> ShipCargo:
        """Move cargo to `to_ship`; returns this ship's cargo afterwards."""
        answer = await self.call(
            "POST",
            _ship_path(ship, "transfer"),
            body={"tradeSymbol": symbol, "units": units, "shipSymbol": to_ship},
            ship_symbol=ship,
            deadline=deadline,
        )
        return ShipCargo.model_validate((answer.get("data") or {}).get("cargo"))

    async def chart(self, ship: str, *, deadline: float | None = None) -> ChartResult:
        """Chart the ship's waypoint."""
        return await self._typed(
            ChartResult, "POST", _ship_path(ship, "chart"), ship_symbol=ship, deadline=deadline
        )

    # --- fleet management -------------------------------------------------------------------------

    async def buy_ship(
        self, ship_type: str, waypoint: str, *, deadline: float | None = None
    ) -> BuyShipResult:
        """Buy a `ship_type` at the shipyard at `waypoint` (a ship of ours must be there)."""
        return await self._typed(
            BuyShipResult,
            "POST",
            "/my/ships",
            body={"shipType": ship_type, "waypointSymbol": waypoint},
            deadline=deadline,
        )

    async def install_mount(
        self, ship: str, mount: str, *, deadline: float | None = None
    ) -> MountResult:
        """Install mount `mount` from the hold (docked at a shipyard)."""
        return await self._typed(
            MountResult,
            "POST",
            _ship_path(ship, "mounts/install"),
            body={"symbol": mount},
            ship_symbol=ship,
            deadline=deadline,
        )

    async def remove_mount(
        self, ship: str, mount: str, *, deadline: float | None = None
    ) -> MountResult:
        """Remove mount `mount` into the hold (docked at a shipyard)."""
        return await self._typed(
            MountResult,
            "POST",
            _ship_path(ship, "mounts/remove"),
            body={"symbol": mount},
            ship_symbol=ship,
            deadline=deadline,
        )

    async def list_contracts(
        self, page: int = 1, limit: int = 20, *, deadline: float | None = None
    ) -> Page[Contract]:
        """One page of the agent's contracts."""
        return await self._page(
            TypeAdapter(list[Contract]).validate_python,
            "/my/contracts",
            page,
            limit,
            priority=UNSPECIFIED,
            deadline=deadline,
        )

    async def get_contract(self, contract_id: str, *, deadline: float | None = None) -> Contract:
        """One contract."""
        return await self._typed(Contract, "GET", f"/my/contracts/{contract_id}", deadline=deadline)

    async def accept_contract(
        self, contract_id: str, *, deadline: float | None = None
    ) -> ContractResult:
        """Accept a contract (it pays its advance)."""
        return await self._typed(
            ContractResult, "POST", f"/my/contracts/{contract_id}/accept", deadline=deadline
        )

    async def deliver_contract(
        self,
        contract_id: str,
        ship: str,
        symbol: str,
        units: int,
        *,
        deadline: float | None = None,
    ) -> DeliverResult:
        """Deliver `units` of good `symbol` from `ship` towards a contract."""
        return await self._typed(
            DeliverResult,
            "POST",
            f"/my/contracts/{contract_id}/deliver",
            body={"shipSymbol": ship, "tradeSymbol": symbol, "units": units},
            ship_symbol=ship,
            deadline=deadline,
        )

    async def fulfill_contract(
        self, contract_id: str, *, deadline: float | None = None
    ) -> ContractResult:
        """Fulfil a contract whose deliveries are complete (it pays the rest)."""
        return await self._typed(
            ContractResult, "POST", f"/my/contracts/{contract_id}/fulfill", deadline=deadline
        )

    async def negotiate_contract(
        self, ship: str, *, deadline: float | None = None
    ) -> NegotiateResult:
        """Ask a faction for a new contract (the ship must be at its waypoint)."""
        return await self._typed(
            NegotiateResult,
            "POST",
            _ship_path(ship, "negotiate/contract"),
            ship_symbol=ship,
            deadline=deadline,
        )

    # --- background reads -------------------------------------------------------------------------

    async def get_system(self, system: str, *, deadline: float | None = None) -> System:
        """One star system and its waypoints."""
        return await self._typed(System, "GET", f"/systems/{system}", deadline=deadline)

    async def list_waypoints(
        self,
        system: str,
        page: int = 1,
        limit: int = 20,
        *,
        traits: str | None = None,
        type: str | None = None,
        deadline: float | None = None,
    ) -> Page[Waypoint]:
        """One page of a system's waypoints, optionally only those with `traits`."""
        query: dict[str, str] = {}
        if traits:
            query["traits"] = traits
        if type:
            query["type"] = type
        return await self._page(
            TypeAdapter(list[Waypoint]).validate_python,
            f"/systems/{system}/waypoints",
            page,
            limit,
            query,
            priority=UNSPECIFIED,
            deadline=deadline,
        )

    async def get_waypoint(self, waypoint: str, *, deadline: float | None = None) -> Waypoint:
        """One waypoint."""
        return await self._typed(
            Waypoint,
            "GET",
            f"/systems/{system_of(waypoint)}/waypoints/{waypoint}",
            deadline=deadline,
        )

    async def get_market(self, waypoint: str, *, deadline: float | None = None) -> Market:
        """The market at `waypoint` (prices only while one of the agent's ships is there)."""
        return await self._typed(
            Market,
            "GET",
            f"/systems/{system_of(waypoint)}/waypoints/{waypoint}/market",
            deadline=deadline,
        )

    async def get_shipyard(self, waypoint: str, *, deadline: float | None = None) -> Shipyard:
        """A shipyard; with a ship of ours there the answer carries prices."""
        return await self._typed(
            Shipyard,
            "GET",
            f"/systems/{system_of(waypoint)}/waypoints/{waypoint}/shipyard",
            deadline=deadline,
        )
