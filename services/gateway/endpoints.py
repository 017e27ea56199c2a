"""What the gateway knows about each SpaceTraders endpoint: its path template (for the request
log and metrics), the priority class a call gets when the caller does not set one, and whether
repeating it blindly could change the game twice."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from flotilla.semconv import BACKGROUND, COOLDOWN_START, FLEET, SHIP_UNBLOCK

__all__ = ["METHODS", "Endpoint", "ResolvedCall", "normalize_path", "resolve"]

# The HTTP methods the API uses; a call with any other is rejected.
METHODS: Final = frozenset({"GET", "POST", "PATCH", "PUT", "DELETE"})

_SHIP = "/my/ships/{shipSymbol}"


@dataclass(frozen=True)
class Endpoint:
    """One API operation: `template` names its path parameters like the API reference does."""

    method: str
    template: str
    priority: int
    # True when the operation changes game state and repeating it could do so twice; such a
    # call is never resent after an ambiguous failure (the reply says the outcome is unknown).
    changes_state: bool


def _ship(action: str) -> str:
    return f"{_SHIP}/{action}"


# (method, template, priority, changes_state). Orbit, dock and setting the flight mode are
# idempotent: doing them twice leaves the ship as doing them once.
_TABLE: Final[tuple[tuple[str, str, int, bool], ...]] = (
    # Cooldown- or flight-starting ship actions.
    ("POST", _ship("extract"), COOLDOWN_START, True),
    ("POST", _ship("extract/survey"), COOLDOWN_START, True),
    ("POST", _ship("siphon"), COOLDOWN_START, True),
    ("POST", _ship("survey"), COOLDOWN_START, True),
    ("POST", _ship("navigate"), COOLDOWN_START, True),
    ("POST", _ship("jump"), COOLDOWN_START, True),
    ("POST", _ship("warp"), COOLDOWN_START, True),
    ("POST", _ship("refine"), COOLDOWN_START, True),
    ("POST", _ship("scan/systems"), COOLDOWN_START, True),
    ("POST", _ship("scan/waypoints"), COOLDOWN_START, True),
    ("POST", _ship("scan/ships"), COOLDOWN_START, True),
    # Ship actions that unblock a ship.
    ("POST", _ship("orbit"), SHIP_UNBLOCK, False),
    ("POST", _ship("dock"), SHIP_UNBLOCK, False),
    ("PATCH", _ship("nav"), SHIP_UNBLOCK, False),
    ("POST", _ship("sell"), SHIP_UNBLOCK, True),
    ("POST", _ship("purchase"), SHIP_UNBLOCK, True),
    ("POST", _ship("refuel"), SHIP_UNBLOCK, True),
    ("POST", _ship("jettison"), SHIP_UNBLOCK, True),
    ("POST", _ship("transfer"), SHIP_UNBLOCK, True),
    ("POST", _ship("chart"), SHIP_UNBLOCK, True),
    ("POST", "/my/contracts/{contractId}/deliver", SHIP_UNBLOCK, True),
    (
        "POST",
        "/systems/{systemSymbol}/waypoints/{waypointSymbol}/construction/supply",
        SHIP_UNBLOCK,
        True,
    ),
    # Fleet management.
    ("POST", "/my/ships", FLEET, True),
    ("POST", _ship("mounts/install"), FLEET, True),
    ("POST", _ship("mounts/remove"), FLEET, True),
    ("POST", _ship("modules/install"), FLEET, True),
    ("POST", _ship("modules/remove"), FLEET, True),
    ("POST", _ship("negotiate/contract"), FLEET, True),
    ("POST", _ship("repair"), FLEET, True),
    ("POST", _ship("scrap"), FLEET, True),
    ("POST", "/my/contracts/{contractId}/accept", FLEET, True),
    ("POST", "/my/contracts/{contractId}/fulfill", FLEET, True),
    ("POST", "/register", FLEET, True),
    # Background reads.
    ("GET", "/", BACKGROUND, False),
    ("GET", "/my/agent", BACKGROUND, False),
    ("GET", "/agents", BACKGROUND, False),
    ("GET", "/agents/{agentSymbol}", BACKGROUND, False),
    ("GET", "/factions", BACKGROUND, False),
    ("GET", "/factions/{factionSymbol}", BACKGROUND, False),
    ("GET", "/my/contracts", BACKGROUND, False),
    ("GET", "/my/contracts/{contractId}", BACKGROUND, False),
    ("GET", "/my/ships", BACKGROUND, False),
    ("GET", _SHIP, BACKGROUND, False),
    ("GET", _ship("cargo"), BACKGROUND, False),
    ("GET", _ship("cooldown"), BACKGROUND, False),
    ("GET", _ship("nav"), BACKGROUND, False),
    ("GET", _ship("mounts"), BACKGROUND, False),
    ("GET", _ship("modules"), BACKGROUND, False),
    ("GET", _ship("repair"), BACKGROUND, False),
    ("GET", _ship("scrap"), BACKGROUND, False),
    ("GET", "/systems", BACKGROUND, False),
    ("GET", "/systems/{systemSymbol}", BACKGROUND, False),
    ("GET", "/systems/{systemSymbol}/waypoints", BACKGROUND, False),
    ("GET", "/systems/{systemSymbol}/waypoints/{waypointSymbol}", BACKGROUND, False),
    ("GET", "/systems/{systemSymbol}/waypoints/{waypointSymbol}/market", BACKGROUND, False),
    ("GET", "/systems/{systemSymbol}/waypoints/{waypointSymbol}/shipyard", BACKGROUND, False),
    ("GET", "/systems/{systemSymbol}/waypoints/{waypointSymbol}/jump-gate", BACKGROUND, False),
    ("GET", "/systems/{systemSymbol}/waypoints/{waypointSymbol}/construction", BACKGROUND, False),
    ("GET", "/market/supply-chain", BACKGROUND, False),
)

_PARAM = re.compile(r"\{([A-Za-z]+)\}")


def _pattern(template: str) -> re.Pattern[str]:
    parts = _PARAM.split(template)
    # split() alternates literal text and parameter names.
    regex = "".join(
        re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts)
    )
    return re.compile(f"^{regex}$")


_COMPILED: Final = tuple(
    (Endpoint(method, template, priority, changes), _pattern(template))
    for method, template, priority, changes in _TABLE
)


@dataclass(frozen=True)
class ResolvedCall:
    """A concrete method and path matched to its endpoint, with the path's parameters."""

    endpoint: Endpoint
    path: str
    params: dict[str, str]

    @property
    def ship_symbol(self) -> str:
        """The ship the path names (`/my/ships/{shipSymbol}/...`), or "" when it names none."""
        return self.params.get("shipSymbol", "")


def normalize_path(path: str) -> str:
    """The path without its query string and trailing slash, with exactly one leading slash."""
    path = path.split("?", 1)[0].strip()
    path = "/" + path.strip("/")
    return path


def resolve(method: str, path: str) -> ResolvedCall:
    """Match `method path` to a known endpoint.

    An unknown path keeps its literal path as the template; an unknown read is a background
    read, and an unknown write is treated as fleet management that changes state.
    """
    method = method.upper()
    path = normalize_path(path)
    for endpoint, pattern in _COMPILED:
        if endpoint.method != method:
            continue
        match = pattern.match(path)
        if match is not None:
            return ResolvedCall(endpoint, path, dict(match.groupdict()))
    if method == "GET":
        unknown = Endpoint(method, path, BACKGROUND, changes_state=False)
    else:
        unknown = Endpoint(method, path, FLEET, changes_state=True)
    return ResolvedCall(unknown, path, {})
