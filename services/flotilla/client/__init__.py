"""The client other services use to call the SpaceTraders API through the gateway.

    transport = GatewayTransport(nc, agent="")   # "" = the gateway's default agent
    api = SpaceTradersClient(transport, default_deadline_seconds=60)
    ship = (await api.all_ships())[0]
    await api.orbit(ship.symbol)
    try:
        result = await api.scan_waypoints(ship.symbol)
        print(f"{len(result.waypoints)} waypoints around")
    except CooldownActive as exc:
        print(f"cooling down until {exc.expiration}")

(`tests/test_docs.py` runs this example and the README's against a gateway and the simulator.)

Methods return typed results (`flotilla.client.models`); failures raise typed errors
(`flotilla.client.errors`): `ApiError` subclasses when the API refused the call, and
`CallExpired`, `GatewayOverloaded`, `OutcomeUnknown`, `CallFailed`, `CallRejected`,
`CallFenced` or `GatewayUnavailable` when there is no API answer to act on.
"""

from flotilla.client.errors import (
    AlreadyAtDestination,
    ApiError,
    CallError,
    CallExpired,
    CallFailed,
    CallFenced,
    CallRejected,
    CargoFull,
    CargoMissing,
    ContractError,
    CooldownActive,
    GatewayError,
    GatewayOverloaded,
    GatewayUnavailable,
    InsufficientCredits,
    InsufficientFuel,
    MarketDoesNotTrade,
    NotDocked,
    NotFound,
    NotInOrbit,
    OutcomeUnknown,
    RateLimited,
    ShipInTransit,
    SurveyUnusable,
    TradeVolumeExceeded,
    Unauthorized,
    api_error,
    error_for,
)
from flotilla.client.spacetraders import SpaceTradersClient, system_of
from flotilla.client.transport import CallRequest, GatewayTransport, Transport

__all__ = [
    "AlreadyAtDestination",
    "ApiError",
    "CallError",
    "CallExpired",
    "CallFailed",
    "CallFenced",
    "CallRejected",
    "CallRequest",
    "CargoFull",
    "CargoMissing",
    "ContractError",
    "CooldownActive",
    "GatewayError",
    "GatewayOverloaded",
    "GatewayTransport",
    "GatewayUnavailable",
    "InsufficientCredits",
    "InsufficientFuel",
    "MarketDoesNotTrade",
    "NotDocked",
    "NotFound",
    "NotInOrbit",
    "OutcomeUnknown",
    "RateLimited",
    "ShipInTransit",
    "SpaceTradersClient",
    "SurveyUnusable",
    "TradeVolumeExceeded",
    "Transport",
    "Unauthorized",
    "api_error",
    "error_for",
    "system_of",
]
