"""Typed errors of API calls made through the gateway.

`CallError` is the root. `ApiError` means the API answered with an error: it carries the game's
error code, and codes a fleet reacts to have their own class (`CooldownActive` with the
cooldown, `ShipInTransit` with the arrival, `CargoFull`, `InsufficientCredits`, ...).
`GatewayError` means there is no API answer to act on: the call expired in the queue, the
gateway was overloaded, the outcome of a state-changing call is unknown, or no answer came.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, ClassVar

from flotilla.client.models import Cooldown
from flotilla.v1.api_pb2 import ApiResult, CallOutcome

__all__ = [
    "AlreadyAtDestination",
    "ApiError",
    "CallError",
    "CallExpired",
    "CallFailed",
    "CallFenced",
    "CallRejected",
    "CargoFull",
    "CargoMissing",
    "ContractError",
    "CooldownActive",
    "GatewayError",
    "GatewayOverloaded",
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
    "SurveyUnusable",
    "TradeVolumeExceeded",
    "Unauthorized",
    "api_error",
    "error_for",
]


class CallError(Exception):
    """A call through the gateway did not produce a successful API answer."""

    def __init__(self, message: str, *, call_id: str = "", status: int = 0, attempts: int = 0):
        super().__init__(message)
        self.message = message
        self.call_id = call_id
        self.status = status
        self.attempts = attempts


# --- the API answered with an error ------------------------------------------------------------


class ApiError(CallError):
    """The API refused the call: `code` is its error code, `data` its error details."""

    codes: ClassVar[tuple[int, ...]] = ()

    def __init__(
        self,
        code: int,
        message: str,
        *,
        data: dict[str, Any] | None = None,
        status: int = 0,
        call_id: str = "",
        attempts: int = 0,
    ) -> None:
        super().__init__(
            f"[{code}] {message}" if message else f"API error {code}",
            call_id=call_id,
            status=status,
            attempts=attempts,
        )
        self.code = code
        self.api_message = message
        self.data: dict[str, Any] = data or {}


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


class CooldownActive(ApiError):
    """The ship is cooling down (4000); `cooldown` says until when."""

    codes = (4000,)

    @property
    def cooldown(self) -> Cooldown | None:
        """The cooldown the error carries, if the API sent one."""
        raw = self.data.get("cooldown")
        if not isinstance(raw, dict):
            return None
        return Cooldown.model_validate(raw)

    @property
    def expiration(self) -> datetime | None:
        """When the cooldown ends (None when the API did not say)."""
        cooldown = self.cooldown
        return cooldown.expiration if cooldown is not None else None

    @property
    def remaining_seconds(self) -> float:
        """Seconds of cooldown left when the API answered."""
        cooldown = self.cooldown
        return float(cooldown.remaining_seconds) if cooldown is not None else 0.0


class ShipInTransit(ApiError):
    """The ship is still travelling (4214, or 4200 when navigating); `arrival` says until when."""

    codes = (4214, 4200)

    @property
    def arrival(self) -> datetime | None:
        """When the ship arrives (None when the API did not say)."""
        return _datetime(self.data.get("arrival"))

    @property
    def seconds_to_arrival(self) -> float:
        """Seconds of flight left when the API answered."""
        value = self.data.get("secondsToArrival")
        return float(value) if isinstance(value, int | float) else 0.0


class CargoFull(ApiError):
    """The hold has no room for what the call would add (4228; 4217 cargo over capacity)."""

    codes = (4228, 4217)


class InsufficientCredits(ApiError):
    """The agent cannot afford it (market 4600, ship 4216, mount 4248, 4265, module 4268)."""

    codes = (4600, 4216, 4248, 4265, 4268)


class InsufficientFuel(ApiError):
    """Not enough fuel for the flight (4203)."""

    codes = (4203,)


class NotInOrbit(ApiError):
    """The action needs the ship in orbit (4236)."""

    codes = (4236,)


class NotDocked(ApiError):
    """The action needs the ship docked (4244)."""

    codes = (4244,)


class AlreadyAtDestination(ApiError):
    """The ship is already at the waypoint it was sent to (4204)."""

    codes = (4204,)


class TradeVolumeExceeded(ApiError):
    """More units than the market trades per transaction (4604)."""

    codes = (4604,)


class CargoMissing(ApiError):
    """The ship does not carry (enough of) that good (4218, 4219)."""

    codes = (4218, 4219)


class MarketDoesNotTrade(ApiError):
    """The market does not buy or sell that good (4601, 4602)."""

    codes = (4601, 4602)


class SurveyUnusable(ApiError):
    """The survey is invalid, expired or exhausted (4220, 4221, 4224)."""

    codes = (4220, 4221, 4224)


class ContractError(ApiError):
    """A contract cannot be accepted, delivered to or fulfilled as asked (45xx)."""

    codes = (4500, 4501, 4502, 4503, 4504, 4505, 4506, 4508, 4509, 4510, 4511)


class NotFound(ApiError):
    """The ship, waypoint, market or other thing does not exist (404)."""

    codes = (404,)


class Unauthorized(ApiError):
    """The token is missing, invalid or from before a reset (401 / 41xx)."""

    codes = (401, 4100, 4101, 4102, 4103, 4104, 4105, 4107, 4113, 4115, 4116)


class RateLimited(ApiError):
    """The API kept answering 429 after the gateway's bounded retries."""

    codes = (429,)

    @property
    def retry_after(self) -> float:
        """Seconds the API asked to wait before trying again."""
        value = self.data.get("retryAfter")
        return float(value) if isinstance(value, int | float) else 1.0


_BY_CODE: dict[int, type[ApiError]] = {
    code: cls
    for cls in (
        CooldownActive,
        ShipInTransit,
        CargoFull,
        InsufficientCredits,
        InsufficientFuel,
        NotInOrbit,
        NotDocked,
        AlreadyAtDestination,
        TradeVolumeExceeded,
        CargoMissing,
        MarketDoesNotTrade,
        SurveyUnusable,
        ContractError,
        NotFound,
        Unauthorized,
        RateLimited,
    )
    for code in cls.codes
}


# --- no API answer to act on -------------------------------------------------------------------


class GatewayError(CallError):
    """The call did not get an API answer the caller can act on."""


class CallExpired(GatewayError):
    """The deadline passed while the call waited in the gateway's queue; nothing was sent."""


class GatewayOverloaded(GatewayError):
    """The call's priority queue was full (or the gateway is shutting down); nothing was sent."""


class OutcomeUnknown(GatewayError):
    """A state-changing call may have reached the API without an answer coming back (a 5xx, a
    timeout, a dropped connection, or no reply from the gateway): it may have taken effect, and
    the gateway did not send it again. Look at the game state before repeating it."""


class CallFailed(GatewayError):
    """No usable answer after the gateway's bounded retries: a read that kept failing, or a
    write that never reached the API (calling it again is safe)."""


class CallRejected(GatewayError):
    """The gateway refused the call itself (unknown agent, bad method or body)."""


class GatewayUnavailable(GatewayError):
    """No gateway is serving calls; nothing was sent."""


class CallFenced(GatewayError):
    """The call's fencing token is older than one the gateway has seen for the ship: another
    node owns it now. Nothing was sent; the sender must stop driving the ship."""


_BY_OUTCOME: dict[int, type[GatewayError]] = {
    CallOutcome.CALL_OUTCOME_EXPIRED: CallExpired,
    CallOutcome.CALL_OUTCOME_OVERLOADED: GatewayOverloaded,
    CallOutcome.CALL_OUTCOME_UNKNOWN: OutcomeUnknown,
    CallOutcome.CALL_OUTCOME_FAILED: CallFailed,
    CallOutcome.CALL_OUTCOME_REJECTED: CallRejected,
    CallOutcome.CALL_OUTCOME_FENCED: CallFenced,
}


def api_error(
    code: int,
    message: str,
    *,
    data: dict[str, Any] | None = None,
    status: int = 0,
    call_id: str = "",
    attempts: int = 0,
) -> ApiError:
    """The most specific `ApiError` class for `code`."""
    cls = _BY_CODE.get(code, ApiError)
    return cls(code, message, data=data, status=status, call_id=call_id, attempts=attempts)


def _error_envelope(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        return {}
    error = parsed.get("error") if isinstance(parsed, dict) else None
    return dict(error) if isinstance(error, dict) else {}


def error_for(result: ApiResult) -> CallError | None:
    """The error a result stands for, or None when it is a successful API answer."""
    if result.outcome == CallOutcome.CALL_OUTCOME_COMPLETED and result.status < 400:
        return None
    if result.outcome == CallOutcome.CALL_OUTCOME_COMPLETED:
        envelope = _error_envelope(result.json_body)
        data = envelope.get("data")
        return api_error(
            result.error_code or result.status,
            str(envelope.get("message") or result.error_message),
            data=data if isinstance(data, dict) else None,
            status=result.status,
            call_id=result.call_id,
            attempts=result.attempts,
        )
    cls = _BY_OUTCOME.get(result.outcome, CallFailed)
    message = result.error_message or cls.__name__
    return cls(message, call_id=result.call_id, status=result.status, attempts=result.attempts)
