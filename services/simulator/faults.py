"""Fault injection for testing clients: the failures the real API and its edge produce.

Each request draws once from a generator seeded with `faults.seed`. Before the action: a
fraction of requests get a 500 from the game server (JSON, after the rate limit counted them),
a 502 or a bare HTML 429 from the edge (no rate-limit headers, not counted), or a connection
dropped with no response at all. After the action: the action runs (and the rate limit counted
it), then its answer is replaced by a JSON 500, an HTML 502 or 504, or a dropped connection.
`latency_ms` delays every request before anything else.
"""

from __future__ import annotations

import random
from enum import Enum

from simulator.config import SimulatorConfig

__all__ = [
    "HTML_429_BODY",
    "HTML_502_BODY",
    "HTML_504_BODY",
    "Fault",
    "FaultInjector",
]


class Fault(Enum):
    """What happens to one request: nothing, or one of the failures clients must survive."""

    NONE = "none"
    DROP = "drop"
    ERROR_500 = "500"
    ERROR_502 = "502"
    HTML_429 = "html-429"
    AFTER_DROP = "after-drop"
    AFTER_ERROR_500 = "after-500"
    AFTER_ERROR_502 = "after-502"
    AFTER_ERROR_504 = "after-504"

    @property
    def after_action(self) -> bool:
        """Whether the action runs before this fault replaces its answer."""
        return self in _AFTER_ACTION


_AFTER_ACTION = frozenset(
    {Fault.AFTER_DROP, Fault.AFTER_ERROR_500, Fault.AFTER_ERROR_502, Fault.AFTER_ERROR_504}
)


HTML_429_BODY = (
    b"<html><head><title>429 Too Many Requests</title></head>"
    b"<body><h1>Too Many Requests</h1></body></html>"
)
HTML_502_BODY = (
    b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"
)
HTML_504_BODY = (
    b"<html><head><title>504 Gateway Time-out</title></head>"
    b"<body><h1>Gateway Time-out</h1></body></html>"
)


class FaultInjector:
    """Decides, request by request and reproducibly, which fault (if any) to inject."""

    def __init__(self, config: SimulatorConfig) -> None:
        faults = config.faults
        self._random = random.Random(faults.seed)
        self._thresholds: list[tuple[float, Fault]] = []
        total = 0.0
        for rate, fault in (
            (faults.drop_rate, Fault.DROP),
            (faults.error_500_rate, Fault.ERROR_500),
            (faults.error_502_rate, Fault.ERROR_502),
            (faults.html_429_rate, Fault.HTML_429),
            (faults.after_drop_rate, Fault.AFTER_DROP),
            (faults.after_error_500_rate, Fault.AFTER_ERROR_500),
            (faults.after_error_502_rate, Fault.AFTER_ERROR_502),
            (faults.after_error_504_rate, Fault.AFTER_ERROR_504),
        ):
            if rate > 0:
                total += rate
                self._thresholds.append((total, fault))
        self.latency_seconds = faults.latency_ms / 1000

    @property
    def enabled(self) -> bool:
        """Whether any fault can be drawn at all."""
        return bool(self._thresholds)

    def draw(self) -> Fault:
        """The fault for the next request (one draw of the seeded generator, so a run repeats
        exactly)."""
        if not self._thresholds:
            return Fault.NONE
        roll = self._random.random()
        for threshold, fault in self._thresholds:
            if roll < threshold:
                return fault
        return Fault.NONE
