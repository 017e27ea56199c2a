"""What the dashboard reads and writes, as one small interface (`DashboardSource`), so that the
pages do not care whether the figures come from the shared stores directly
(`conductor.web.shared.SharedSource`) or from the conductor's own state.

Every method answers JSON-ready dictionaries (times as milliseconds since the epoch, so the
browser computes countdowns without parsing dates). A source that cannot reach its stores
raises `SourceUnavailable`; a proposed plan that does not hold raises `PlanInvalid` naming the
field.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

__all__ = [
    "DashboardSource",
    "PlanInvalid",
    "SourceUnavailable",
    "UnknownShip",
    "epoch_ms",
]

JSON = dict[str, Any]


class SourceUnavailable(Exception):
    """The source could not reach its data (database or NATS down); the message says which."""


class PlanInvalid(ValueError):
    """A proposed plan does not hold; `field` names the offending field (`roles.0.count`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class UnknownShip(KeyError):
    """No ship has that symbol."""


def epoch_ms(moment: datetime | None) -> int | None:
    """`moment` as whole milliseconds since the epoch (None stays None)."""
    return None if moment is None else round(moment.timestamp() * 1000)


class DashboardSource(Protocol):
    """The data behind the pages."""

    async def overview(self, window: timedelta) -> JSON:
        """Agent, headline figures of the last hour and the weekly table for `window`."""
        ...

    async def ships(self) -> JSON:
        """`{"now": ms, "ships": [row, ...]}`: one compact row per ship (see `ship_row`)."""
        ...

    async def ship(self, symbol: str, window: timedelta) -> JSON:
        """One ship in full: state, assignment, recent calls, earnings in `window`."""
        ...

    async def charts(self, window: timedelta) -> JSON:
        """The chart series over `window`."""
        ...

    async def plan(self) -> JSON:
        """The current plan, desired vs actual per role, and the saturation decisions."""
        ...

    async def dry_run(self, plan: JSON) -> JSON:
        """What applying `plan` would do: purchases and assignments; changes nothing."""
        ...

    async def apply_plan(self, plan: JSON, *, by: str) -> JSON:
        """Replace the plan with `plan`; answer the stored plan."""
        ...

    async def set_override(self, symbol: str, behaviour: str, expires: timedelta | None) -> JSON:
        """Assign `behaviour` to ship `symbol` by hand (kept by the reconciler until it
        expires); answer the ship's assignment."""
        ...

    async def clear_override(self, symbol: str) -> JSON:
        """Give ship `symbol` back to the plan; answer its assignment."""
        ...
