"""What the API asks of the running conductor: the plan and its history, the dry run, manual
overrides, pause and resume, and saturation control. The conductor's state object implements
this protocol; the API never reaches around it (fleet and stats reads go to the database)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from conductor.saturation import Load, LoadMonitor, SaturationController

__all__ = ["ConductorControl", "DryRun", "Override", "PauseState", "PlanRevision"]


@dataclass(frozen=True)
class PlanRevision:
    """One stored revision of the plan, as a JSON-able document."""

    revision: int
    document: Mapping[str, Any]
    updated_at: datetime
    updated_by: str


@dataclass(frozen=True)
class DryRun:
    """What the reconciler would do for a plan: purchases and assignments (JSON-able)."""

    purchases: Sequence[Mapping[str, Any]]
    assignments: Sequence[Mapping[str, Any]]
    notes: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class Override:
    """An operator's assignment of one ship, held until it expires (or forever)."""

    ship_symbol: str
    behaviour: str
    params: Mapping[str, str]
    waypoint_symbol: str
    expires_at: datetime | None
    set_at: datetime


@dataclass(frozen=True)
class PauseState:
    """What is paused: purchases, every action, and saturation's own hold on purchases."""

    purchases: bool
    everything: bool
    saturation_holds_purchases: bool


class ConductorControl(Protocol):
    """The conductor as the API sees it."""

    @property
    def saturation(self) -> SaturationController:
        """Saturation control (its decisions, parked ships and purchase hold)."""
        ...

    @property
    def load_monitor(self) -> LoadMonitor:
        """The load it decides from."""
        ...

    def now_load(self) -> Load:
        """The load now."""
        ...

    def validate_plan(self, document: Any) -> Any:
        """The plan `document` describes; raises `pydantic.ValidationError` naming each bad
        field (unknown ship type, behaviour or mount, negative count …)."""
        ...

    async def current_plan(self) -> PlanRevision | None:
        """The plan in force; None before the first one."""
        ...

    async def plan_history(self, limit: int) -> list[PlanRevision]:
        """The latest `limit` revisions, newest first."""
        ...

    async def replace_plan(self, plan: Any, *, updated_by: str) -> PlanRevision:
        """Store `plan` (from `validate_plan`) as the next revision."""
        ...

    async def dry_run(self, plan: Any) -> DryRun:
        """What the reconciler would do now for `plan`, without doing it."""
        ...

    async def overrides(self) -> Mapping[str, Override]:
        """Overrides in force, by ship."""
        ...

    async def set_override(
        self,
        ship_symbol: str,
        *,
        behaviour: str,
        params: Mapping[str, str],
        waypoint_symbol: str,
        expires_at: datetime | None,
    ) -> Override:
        """Hold `ship_symbol` on `behaviour` until `expires_at` (None: until removed); raises
        `KeyError` for an unknown ship, `ValueError` for an unknown behaviour."""
        ...

    async def clear_override(self, ship_symbol: str) -> bool:
        """Remove the ship's override; False when it had none."""
        ...

    def pause_state(self) -> PauseState:
        """What is paused now."""
        ...

    async def pause(self, *, everything: bool) -> PauseState:
        """Pause purchases, or (`everything`) every action."""
        ...

    async def resume(self, *, everything: bool) -> PauseState:
        """Resume purchases, or (`everything`) every action."""
        ...
