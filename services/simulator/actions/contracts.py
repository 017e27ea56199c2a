"""Contracts: accept for the advance, deliver goods, fulfil for the rest, negotiate a new one."""

from __future__ import annotations

from simulator.actions.rules import require_cargo, require_docked, require_positive_units
from simulator.errors import ApiError, ErrorCode
from simulator.game import Game
from simulator.state import Agent, Contract, Ship
from simulator.views import Json, agent_view, cargo_view, contract_view

__all__ = [
    "accept",
    "deliver",
    "fulfill",
    "negotiate",
]


def _require_open(game: Game, contract: Contract) -> None:
    if contract.fulfilled:
        raise ApiError(
            ErrorCode.CONTRACT_FULFILLED,
            f"Contract {contract.id} has already been fulfilled.",
            {"contractId": contract.id},
        )
    if game.time.now() > contract.deadline:
        raise ApiError(
            ErrorCode.CONTRACT_DEADLINE,
            f"Contract {contract.id} has passed its deadline.",
            {"contractId": contract.id, "deadline": contract_view(contract)["terms"]["deadline"]},
        )


def accept(game: Game, agent: Agent, contract: Contract) -> Json:
    """Accept an open contract before its acceptance deadline; the advance (`onAccepted`) is paid at
    once."""
    if contract.accepted:
        raise ApiError(
            ErrorCode.CONTRACT_ACCEPT_CONFLICT,
            f"Contract {contract.id} has already been accepted.",
            {"contractId": contract.id},
        )
    _require_open(game, contract)
    if game.time.now() > contract.deadline_to_accept:
        raise ApiError(
            ErrorCode.CONTRACT_DEADLINE,
            f"Contract {contract.id} can no longer be accepted.",
            {"contractId": contract.id},
        )
    contract.accepted = True
    agent.credits += contract.on_accepted
    return {"agent": agent_view(agent, game), "contract": contract_view(contract)}


def deliver(
    game: Game, agent: Agent, contract: Contract, ship: Ship, symbol: str, units: int
) -> Json:
    """Deliver cargo towards an accepted contract from a ship docked at the delivery's destination;
    never more than the contract still needs."""
    if not contract.accepted:
        raise ApiError(
            ErrorCode.CONTRACT_NOT_ACCEPTED,
            f"Contract {contract.id} must be accepted before delivering.",
            {"contractId": contract.id},
        )
    if contract.fulfilled:
        raise ApiError(
            ErrorCode.CONTRACT_DELIVER_FULFILLED,
            f"Contract {contract.id} has already been fulfilled.",
            {"contractId": contract.id},
        )
    _require_open(game, contract)
    require_positive_units(units)
    delivery = next((d for d in contract.deliveries if d.trade_symbol == symbol), None)
    if delivery is None:
        raise ApiError(
            ErrorCode.CONTRACT_DELIVER_TERMS,
            f"Contract {contract.id} does not ask for {symbol}.",
            {"contractId": contract.id, "tradeSymbol": symbol},
        )
    require_docked(game, ship)
    if ship.nav.waypoint_symbol != delivery.destination:
        raise ApiError(
            ErrorCode.CONTRACT_DELIVER_INVALID_LOCATION,
            f"{symbol} for contract {contract.id} goes to {delivery.destination}, not "
            f"{ship.nav.waypoint_symbol}.",
            {
                "contractId": contract.id,
                "destinationSymbol": delivery.destination,
                "waypointSymbol": ship.nav.waypoint_symbol,
            },
        )
    still_needed = delivery.units_required - delivery.units_fulfilled
    if units > still_needed:
        raise ApiError(
            ErrorCode.CONTRACT_DELIVER_TERMS,
            f"Contract {contract.id} needs only {still_needed} more {symbol}.",
            {"contractId": contract.id, "tradeSymbol": symbol, "unitsRemaining": still_needed},
        )
    require_cargo(ship, symbol, units)
    ship.remove_cargo(symbol, units)
    delivery.units_fulfilled += units
    return {"contract": contract_view(contract), "cargo": cargo_view(ship)}


def fulfill(game: Game, agent: Agent, contract: Contract) -> Json:
    """Close an accepted contract whose deliveries are all complete and pay the rest
    (`onFulfilled`)."""
    if not contract.accepted:
        raise ApiError(
            ErrorCode.CONTRACT_NOT_ACCEPTED,
            f"Contract {contract.id} must be accepted before it is fulfilled.",
            {"contractId": contract.id},
        )
    _require_open(game, contract)
    if any(d.units_fulfilled < d.units_required for d in contract.deliveries):
        raise ApiError(
            ErrorCode.CONTRACT_FULFILL_DELIVERY,
            f"Contract {contract.id} still has goods to deliver.",
            {"contractId": contract.id},
        )
    contract.fulfilled = True
    agent.credits += contract.on_fulfilled
    return {"agent": agent_view(agent, game), "contract": contract_view(contract)}


def negotiate(game: Game, agent: Agent, ship: Ship) -> Json:
    """A new contract from the faction of the waypoint where the ship is docked."""
    require_docked(game, ship)
    waypoint = game.waypoint(ship.nav.waypoint_symbol)
    if waypoint.faction is None:
        raise ApiError(
            ErrorCode.WAYPOINT_NO_FACTION,
            f"Waypoint {waypoint.symbol} has no faction to negotiate with.",
            {"waypointSymbol": waypoint.symbol},
        )
    now = game.time.now()
    for contract in game.agent_contracts(agent):
        open_offer = not contract.accepted and now <= contract.deadline_to_accept
        in_progress = contract.accepted and not contract.fulfilled and now <= contract.deadline
        if open_offer or in_progress:
            raise ApiError(
                ErrorCode.EXISTING_CONTRACT,
                f"Agent {agent.symbol} already has an open contract.",
                {"contractId": contract.id},
            )
    contract = game.new_contract(agent, waypoint.faction, waypoint.symbol)
    return {"contract": contract_view(contract)}
