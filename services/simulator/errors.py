"""The API's errors: one exception carrying the game's error code, HTTP status and data.

Codes are the official ones (the `ErrorCode` names follow the published list); the HTTP status
follows what the live server answers: 409 for a cooldown conflict and a taken agent symbol, 401
for token problems, 404 for something that does not exist, 422 for a malformed request and 400
for every other broken game rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Any

__all__ = [
    "INTERNAL_ERROR",
    "METHOD_NOT_ALLOWED",
    "NOT_FOUND",
    "TOO_MANY_REQUESTS",
    "UNPROCESSABLE",
    "ApiError",
    "ErrorCode",
    "not_found",
    "status_for",
]


class ErrorCode(IntEnum):
    """Error codes of the SpaceTraders v2 API that the simulator answers with."""

    RESPONSE_SERIALIZATION = 3000
    UNPROCESSABLE_INPUT = 3001

    COOLDOWN_CONFLICT = 4000
    WAYPOINT_NO_ACCESS = 4001

    MISSING_TOKEN_REQUEST = 4103
    INVALID_TOKEN_REQUEST = 4104
    AGENT_NOT_EXISTS = 4107
    REGISTER_AGENT_SYMBOL_RESERVED = 4110
    REGISTER_AGENT_CONFLICT_SYMBOL = 4111
    REGISTER_NO_STARTING_LOCATIONS = 4112
    TOKEN_RESET_DATE_MISMATCH = 4113

    NAVIGATE_INVALID_DESTINATION = 4201
    NAVIGATE_OUTSIDE_SYSTEM = 4202
    NAVIGATE_INSUFFICIENT_FUEL = 4203
    NAVIGATE_SAME_DESTINATION = 4204
    EXTRACT_INVALID_WAYPOINT = 4205
    SHIP_IN_TRANSIT = 4214
    MISSING_SENSOR_ARRAYS = 4215
    PURCHASE_SHIP_CREDITS = 4216
    CARGO_EXCEEDS_LIMIT = 4217
    CARGO_MISSING = 4218
    CARGO_UNIT_COUNT = 4219
    SURVEY_VERIFICATION = 4220
    SURVEY_EXPIRATION = 4221
    SURVEY_WAYPOINT_TYPE = 4222
    SURVEY_EXHAUSTED = 4224
    CARGO_FULL = 4228
    WAYPOINT_CHARTED = 4230
    TRANSFER_SHIP_NOT_FOUND = 4231
    TRANSFER_AGENT_CONFLICT = 4232
    TRANSFER_SAME_SHIP = 4233
    TRANSFER_LOCATION_CONFLICT = 4234
    NOT_IN_ORBIT = 4236
    MISSING_SURVEYOR = 4240
    MISSING_MINING_LASERS = 4243
    NOT_DOCKED = 4244
    PURCHASE_SHIP_NOT_PRESENT = 4245
    MOUNT_NO_SHIPYARD = 4246
    MISSING_MOUNT = 4247
    MOUNT_INSUFFICIENT_CREDITS = 4248
    MISSING_POWER = 4249
    MISSING_SLOTS = 4250
    JUMP_INVALID_ORIGIN = 4254
    JUMP_INVALID_WAYPOINT = 4255
    MISSING_GAS_SIPHONS = 4258
    SIPHON_INVALID_WAYPOINT = 4259
    AGENT_INSUFFICIENT_CREDITS = 4265
    CANT_SLOW_DOWN_WHILE_IN_TRANSIT = 4269
    EXTRACT_INVALID_SURVEY_LOCATION = 4270
    TRANSFER_DOCKED_ORBIT_CONFLICT = 4271

    CONTRACT_ACCEPT_CONFLICT = 4501
    CONTRACT_FULFILL_DELIVERY = 4502
    CONTRACT_DEADLINE = 4503
    CONTRACT_FULFILLED = 4504
    CONTRACT_NOT_ACCEPTED = 4505
    CONTRACT_DELIVER_TERMS = 4508
    CONTRACT_DELIVER_FULFILLED = 4509
    CONTRACT_DELIVER_INVALID_LOCATION = 4510
    EXISTING_CONTRACT = 4511

    MARKET_INSUFFICIENT_CREDITS = 4600
    MARKET_NO_PURCHASE = 4601
    MARKET_NOT_SOLD = 4602
    MARKET_TRADE_UNIT_LIMIT = 4604
    SHIP_NOT_AVAILABLE_FOR_PURCHASE = 4605

    WAYPOINT_NO_FACTION = 4700


# Not game codes but HTTP statuses the server repeats as the code (404, 405, 422, 429, 500).
NOT_FOUND = 404
METHOD_NOT_ALLOWED = 405
UNPROCESSABLE = 422
TOO_MANY_REQUESTS = 429
INTERNAL_ERROR = 500

_STATUS_BY_CODE: dict[int, int] = {
    ErrorCode.COOLDOWN_CONFLICT: 409,
    ErrorCode.REGISTER_AGENT_CONFLICT_SYMBOL: 409,
    ErrorCode.MISSING_TOKEN_REQUEST: 401,
    ErrorCode.INVALID_TOKEN_REQUEST: 401,
    ErrorCode.AGENT_NOT_EXISTS: 401,
    ErrorCode.TOKEN_RESET_DATE_MISMATCH: 401,
    ErrorCode.UNPROCESSABLE_INPUT: 422,
    ErrorCode.RESPONSE_SERIALIZATION: 500,
}


def status_for(code: int) -> int:
    """The HTTP status the server answers with for error `code`."""
    if code < 1000:
        return code
    return _STATUS_BY_CODE.get(code, 400)


class ApiError(Exception):
    """A request the game refuses: answered as `{"error": {code, message, data?}}`."""

    def __init__(
        self,
        code: int,
        message: str,
        data: Mapping[str, Any] | None = None,
        *,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = int(code)
        self.message = message
        self.data = dict(data) if data is not None else None
        self.status = status if status is not None else status_for(self.code)

    def body(self, request_id: str | None = None) -> dict[str, Any]:
        """The response body of this error."""
        error: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.data is not None:
            error["data"] = self.data
        if request_id is not None:
            error["requestId"] = request_id
        return {"error": error}


def not_found(what: str) -> ApiError:
    """`what` does not exist (or is not the caller's)."""
    return ApiError(NOT_FOUND, f"{what} not found.")
