"""The API's JSON shapes: game state rendered as the official models (Ship, Waypoint, Market, …).

Timestamps are real UTC in ISO 8601 with milliseconds and a `Z`. A cooldown reports its game
length in `totalSeconds` and the real time left in `remainingSeconds` (rounded up), so that a
client that sleeps until `expiration` or for `remainingSeconds` is right at any time scale.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from simulator import catalog, mechanics
from simulator.catalog import EngineSpec, FrameSpec, ModuleSpec, MountSpec, ReactorSpec
from simulator.game import Game
from simulator.state import Agent, Contract, Market, Ship, Shipyard, Survey
from simulator.universe import System, Waypoint

__all__ = [
    "Json",
    "agent_view",
    "cargo_view",
    "chart_view",
    "contract_view",
    "cooldown_view",
    "crew_view",
    "engine_view",
    "faction_view",
    "frame_view",
    "fuel_view",
    "iso",
    "jump_gate_view",
    "market_view",
    "meta",
    "module_view",
    "mount_view",
    "nav_view",
    "reactor_view",
    "route_waypoint_view",
    "scanned_ship_view",
    "scanned_waypoint_view",
    "ship_price",
    "ship_view",
    "shipyard_view",
    "survey_view",
    "system_view",
    "system_waypoint_view",
    "trade_good_view",
    "trait_view",
    "waypoint_view",
]

Json = dict[str, Any]


def iso(moment: datetime) -> str:
    """`2025-01-01T12:00:00.000Z`."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def meta(total: int, page: int, limit: int) -> Json:
    """The `meta` object of a paged response."""
    return {"total": total, "page": page, "limit": limit}


def agent_view(agent: Agent, game: Game, *, private: bool = True) -> Json:
    """An Agent; `private` adds the account id, which only the agent itself sees."""
    view: Json = {
        "symbol": agent.symbol,
        "headquarters": agent.headquarters,
        "credits": agent.credits,
        "startingFaction": agent.faction,
        "shipCount": sum(1 for s in game.ships.values() if s.agent_symbol == agent.symbol),
    }
    if private:
        view = {"accountId": agent.account_id, **view}
    return view


def faction_view(symbol: str, game: Game) -> Json:
    """A Faction, with its headquarters in this universe."""
    spec = catalog.FACTIONS[symbol]
    return {
        "symbol": spec.symbol,
        "name": spec.name,
        "description": spec.description,
        "headquarters": game.universe.headquarters.get(symbol, ""),
        "traits": [catalog.faction_trait_view(t) for t in spec.traits],
        "isRecruiting": spec.is_recruiting,
    }


# --- systems and waypoints --------------------------------------------------------------------


def system_waypoint_view(waypoint: Waypoint) -> Json:
    """A waypoint as listed inside its System."""
    view: Json = {
        "symbol": waypoint.symbol,
        "type": waypoint.type,
        "x": waypoint.x,
        "y": waypoint.y,
        "orbitals": [{"symbol": s} for s in waypoint.orbitals],
    }
    if waypoint.orbits:
        view["orbits"] = waypoint.orbits
    return view


def system_view(system: System, game: Game) -> Json:
    """A System with its waypoints."""
    return {
        "symbol": system.symbol,
        "sectorSymbol": system.symbol.split("-")[0],
        "constellation": system.constellation,
        "name": system.name,
        "type": system.type,
        "x": system.x,
        "y": system.y,
        "waypoints": [system_waypoint_view(game.universe.waypoints[w]) for w in system.waypoints],
        "factions": [{"symbol": system.faction}] if system.faction else [],
    }


def trait_view(symbol: str) -> Json:
    """A WaypointTrait."""
    return catalog.TRAITS[symbol].view()


def chart_view(waypoint: Waypoint, game: Game) -> Json | None:
    """A waypoint's Chart (None while it is uncharted)."""
    if not waypoint.charted:
        return None
    return {
        "waypointSymbol": waypoint.symbol,
        "submittedBy": waypoint.charted_by or "COSMIC",
        "submittedOn": iso(waypoint.charted_on or game.started_at),
    }


def waypoint_view(waypoint: Waypoint, game: Game) -> Json:
    """A Waypoint with its visible traits, its current modifiers and its chart."""
    view: Json = {
        "symbol": waypoint.symbol,
        "type": waypoint.type,
        "systemSymbol": waypoint.system_symbol,
        "x": waypoint.x,
        "y": waypoint.y,
        "orbitals": [{"symbol": s} for s in waypoint.orbitals],
    }
    if waypoint.orbits:
        view["orbits"] = waypoint.orbits
    if waypoint.faction:
        view["faction"] = {"symbol": waypoint.faction}
    view["traits"] = [trait_view(t) for t in waypoint.visible_traits()]
    view["modifiers"] = [catalog.MODIFIERS[m].view() for m in game.site_modifiers(waypoint)]
    chart = chart_view(waypoint, game)
    if chart is not None:
        view["chart"] = chart
    view["isUnderConstruction"] = False
    return view


def scanned_waypoint_view(waypoint: Waypoint, game: Game) -> Json:
    """A ScannedWaypoint: a Waypoint without modifiers or construction state."""
    view = waypoint_view(waypoint, game)
    view.pop("modifiers", None)
    view.pop("isUnderConstruction", None)
    return view


def jump_gate_view(waypoint: Waypoint, game: Game) -> Json:
    """A JumpGate and the gates it connects to."""
    system = game.universe.systems[waypoint.system_symbol]
    return {
        "symbol": waypoint.symbol,
        "connections": [game.universe.systems[s].jump_gate for s in system.connections],
    }


# --- markets and shipyards --------------------------------------------------------------------


def trade_good_view(symbol: str) -> Json:
    """A TradeGood."""
    spec = catalog.TRADE_GOODS[symbol]
    return {"symbol": symbol, "name": spec.name, "description": spec.description}


def market_view(market: Market, *, with_prices: bool) -> Json:
    """A Market; `with_prices` adds prices and transactions, which the API shows only with a ship
    present."""
    by_type: dict[str, list[Json]] = {"EXPORT": [], "IMPORT": [], "EXCHANGE": []}
    for good in market.goods.values():
        by_type[good.type].append(trade_good_view(good.symbol))
    view: Json = {
        "symbol": market.waypoint,
        "exports": by_type["EXPORT"],
        "imports": by_type["IMPORT"],
        "exchange": by_type["EXCHANGE"],
    }
    if with_prices:
        view["transactions"] = list(market.transactions)
        trade_goods = []
        for good in market.goods.values():
            row: Json = {
                "symbol": good.symbol,
                "type": good.type,
                "tradeVolume": good.trade_volume,
                "supply": mechanics.supply_level(good.supply_index),
            }
            if good.activity is not None:
                row["activity"] = good.activity
            row["purchasePrice"] = mechanics.purchase_price(
                good.base_price, good.type, good.supply_index
            )
            row["sellPrice"] = mechanics.sell_price(good.base_price, good.type, good.supply_index)
            trade_goods.append(row)
        view["tradeGoods"] = trade_goods
    return view


def ship_price(shipyard: Shipyard, ship_type: str) -> int:
    """What the shipyard asks for `ship_type` now (its price follows supply like a market's)."""
    offer = shipyard.offers[ship_type]
    return math.ceil(mechanics.mid_price(offer.base_price, offer.supply_index))


def shipyard_view(shipyard: Shipyard, *, with_prices: bool) -> Json:
    """A Shipyard; `with_prices` adds ships, prices and transactions, which the API shows only with
    a ship present."""
    view: Json = {
        "symbol": shipyard.waypoint,
        "shipTypes": [{"type": t} for t in shipyard.offers],
    }
    if with_prices:
        view["transactions"] = list(shipyard.transactions)
        ships = []
        for ship_type, offer in shipyard.offers.items():
            spec = catalog.SHIP_TYPES[ship_type]
            ships.append(
                {
                    "type": ship_type,
                    "name": spec.name,
                    "description": spec.description,
                    "supply": mechanics.supply_level(offer.supply_index + 2),
                    "activity": offer.activity,
                    "purchasePrice": ship_price(shipyard, ship_type),
                    "frame": frame_view(catalog.FRAMES[spec.frame]),
                    "reactor": reactor_view(catalog.REACTORS[spec.reactor]),
                    "engine": engine_view(catalog.ENGINES[spec.engine]),
                    "modules": [module_view(catalog.MODULES[m]) for m in spec.modules],
                    "mounts": [mount_view(catalog.MOUNTS[m]) for m in spec.mounts],
                    "crew": {"required": spec.crew_required, "capacity": spec.crew_capacity},
                }
            )
        view["ships"] = ships
    view["modificationsFee"] = shipyard.modifications_fee
    return view


# --- ships ------------------------------------------------------------------------------------


def frame_view(frame: FrameSpec) -> Json:
    """A ShipFrame."""
    return {
        "symbol": frame.symbol,
        "name": frame.name,
        "description": frame.description,
        "condition": 1.0,
        "integrity": 1.0,
        "moduleSlots": frame.module_slots,
        "mountingPoints": frame.mounting_points,
        "fuelCapacity": frame.fuel_capacity,
        "requirements": frame.requirements.view(),
        "quality": frame.quality,
    }


def reactor_view(reactor: ReactorSpec) -> Json:
    """A ShipReactor."""
    return {
        "symbol": reactor.symbol,
        "name": reactor.name,
        "description": reactor.description,
        "condition": 1.0,
        "integrity": 1.0,
        "powerOutput": reactor.power_output,
        "requirements": reactor.requirements.view(),
        "quality": reactor.quality,
    }


def engine_view(engine: EngineSpec) -> Json:
    """A ShipEngine."""
    return {
        "symbol": engine.symbol,
        "name": engine.name,
        "description": engine.description,
        "condition": 1.0,
        "integrity": 1.0,
        "speed": engine.speed,
        "requirements": engine.requirements.view(),
        "quality": engine.quality,
    }


def module_view(module: ModuleSpec) -> Json:
    """A ShipModule."""
    view: Json = {"symbol": module.symbol}
    if module.capacity is not None:
        view["capacity"] = module.capacity
    if module.range is not None:
        view["range"] = module.range
    view.update(
        name=module.name, description=module.description, requirements=module.requirements.view()
    )
    return view


def mount_view(mount: MountSpec) -> Json:
    """A ShipMount."""
    view: Json = {"symbol": mount.symbol, "name": mount.name, "description": mount.description}
    if mount.strength is not None:
        view["strength"] = mount.strength
    if mount.deposits:
        view["deposits"] = list(mount.deposits)
    view["requirements"] = mount.requirements.view()
    return view


def route_waypoint_view(symbol: str, game: Game) -> Json:
    """A ShipNavRouteWaypoint."""
    waypoint = game.universe.waypoints[symbol]
    return {
        "symbol": waypoint.symbol,
        "type": waypoint.type,
        "systemSymbol": waypoint.system_symbol,
        "x": waypoint.x,
        "y": waypoint.y,
    }


def nav_view(ship: Ship, game: Game) -> Json:
    """A ShipNav, with the arrival settled first."""
    game.settle(ship)
    nav = ship.nav
    return {
        "systemSymbol": nav.system_symbol,
        "waypointSymbol": nav.waypoint_symbol,
        "route": {
            "destination": route_waypoint_view(nav.destination, game),
            "origin": route_waypoint_view(nav.origin, game),
            "departureTime": iso(nav.departure_time),
            "arrival": iso(nav.arrival),
        },
        "status": nav.status,
        "flightMode": nav.flight_mode,
    }


def fuel_view(ship: Ship) -> Json:
    """A ShipFuel, with the last consumption when there was one."""
    view: Json = {"current": ship.fuel, "capacity": ship.fuel_capacity}
    if ship.fuel_consumed is not None:
        amount, when = ship.fuel_consumed
        view["consumed"] = {"amount": amount, "timestamp": iso(when)}
    return view


def cargo_view(ship: Ship) -> Json:
    """A ShipCargo."""
    return {
        "capacity": ship.cargo_capacity,
        "units": ship.cargo_units,
        "inventory": [
            {**trade_good_view(symbol), "units": units} for symbol, units in ship.cargo.items()
        ],
    }


def cooldown_view(ship: Ship, game: Game) -> Json:
    """A Cooldown: game length in `totalSeconds`, real time left in `remainingSeconds`."""
    remaining = game.cooldown_remaining(ship)
    if remaining <= 0 or ship.cooldown.expiration is None:
        return {"shipSymbol": ship.symbol, "totalSeconds": 0, "remainingSeconds": 0}
    return {
        "shipSymbol": ship.symbol,
        "totalSeconds": ship.cooldown.total_game_seconds,
        "remainingSeconds": math.ceil(remaining),
        "expiration": iso(ship.cooldown.expiration),
    }


def crew_view(ship: Ship) -> Json:
    """A ShipCrew (crews never change here: the required crew, full morale, no wages)."""
    return {
        "current": ship.crew_required,
        "required": ship.crew_required,
        "capacity": ship.crew_capacity,
        "rotation": "STRICT",
        "morale": 100,
        "wages": 0,
    }


def ship_view(ship: Ship, game: Game) -> Json:
    """A Ship with every part."""
    return {
        "symbol": ship.symbol,
        "registration": {"name": ship.name, "factionSymbol": ship.faction, "role": ship.role},
        "nav": nav_view(ship, game),
        "crew": crew_view(ship),
        "frame": frame_view(ship.frame),
        "reactor": reactor_view(ship.reactor),
        "engine": engine_view(ship.engine),
        "cooldown": cooldown_view(ship, game),
        "modules": [module_view(m) for m in ship.modules],
        "mounts": [mount_view(m) for m in ship.mounts],
        "cargo": cargo_view(ship),
        "fuel": fuel_view(ship),
    }


def scanned_ship_view(ship: Ship, game: Game) -> Json:
    """A ScannedShip: what another ship's sensors see."""
    return {
        "symbol": ship.symbol,
        "registration": {"name": ship.name, "factionSymbol": ship.faction, "role": ship.role},
        "nav": nav_view(ship, game),
        "frame": {"symbol": ship.frame.symbol},
        "reactor": {"symbol": ship.reactor.symbol},
        "engine": {"symbol": ship.engine.symbol},
        "mounts": [{"symbol": m.symbol} for m in ship.mounts],
    }


# --- contracts and surveys --------------------------------------------------------------------


def contract_view(contract: Contract) -> Json:
    """A Contract."""
    return {
        "id": contract.id,
        "factionSymbol": contract.faction,
        "type": contract.type,
        "terms": {
            "deadline": iso(contract.deadline),
            "payment": {"onAccepted": contract.on_accepted, "onFulfilled": contract.on_fulfilled},
            "deliver": [
                {
                    "tradeSymbol": d.trade_symbol,
                    "destinationSymbol": d.destination,
                    "unitsRequired": d.units_required,
                    "unitsFulfilled": d.units_fulfilled,
                }
                for d in contract.deliveries
            ],
        },
        "accepted": contract.accepted,
        "fulfilled": contract.fulfilled,
        "expiration": iso(contract.deadline_to_accept),
        "deadlineToAccept": iso(contract.deadline_to_accept),
    }


def survey_view(survey: Survey) -> Json:
    """A Survey, exactly as it must be sent back to extract with it."""
    return {
        "signature": survey.signature,
        "symbol": survey.waypoint,
        "deposits": [{"symbol": d} for d in survey.deposits],
        "expiration": iso(survey.expiration),
        "size": survey.size,
    }
