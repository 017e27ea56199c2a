"""`ConductorSource`: the dashboard's data where the conductor serves the pages — figures and
ships from the shared stores (as `SharedSource`), the plan, its dry run, desired vs actual,
overrides and decisions from the running `Conductor` itself, so a change made in a page is
the same change the REST API makes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from conductor.core import Conductor
from conductor.plan import FleetPlan
from conductor.plan import PlanInvalid as ConductorPlanInvalid
from conductor.web.shared import SharedSource, assignment_json
from conductor.web.source import JSON, PlanInvalid, UnknownShip, epoch_ms
from flotilla.clock import Clock
from flotilla.db.pool import ConnectionPool

__all__ = ["ConductorSource"]

DECISIONS = 50


def _plan(document: Any) -> FleetPlan:
    try:
        return FleetPlan.from_data(document)
    except ConductorPlanInvalid as exc:
        first = exc.errors[0]
        raise PlanInvalid(first.field, first.message) from None


class ConductorSource(SharedSource):
    """Reads as `SharedSource`; the plan and every write through `conductor`."""

    def __init__(self, conductor: Conductor, pool: ConnectionPool, clock: Clock) -> None:
        super().__init__(pool, conductor.js, clock)
        self.conductor = conductor

    async def plan(self) -> JSON:
        """The conductor's plan, its desired vs matched ships per role, and its decisions."""
        stored = await self.conductor.get_plan()
        actions = await self.conductor.dry_run()
        parked_roles: dict[str, int] = {}
        for symbol in self.conductor.parked:
            assignment = self.assignments.get(symbol)
            if assignment is not None:
                parked_roles[assignment.role] = parked_roles.get(assignment.role, 0) + 1
        roles = [
            {
                "name": role.name,
                "ship_type": role.ship_type,
                "behaviour": role.behaviour,
                "desired": actions.desired.get(role.name, role.count),
                "actual": actions.actual.get(role.name, 0),
                "parked": parked_roles.get(role.name, 0),
            }
            for role in (stored.plan.roles if stored else ())
        ]
        decisions = await self.conductor.decisions(limit=DECISIONS)
        return {
            "now": epoch_ms(self._now()),
            "plan": None
            if stored is None or not stored.plan.roles
            else {
                "version": stored.revision,
                "updated_at": epoch_ms(stored.created_at),
                "updated_by": stored.author,
                "document": stored.plan.to_data(),
            },
            "revision": stored.revision if stored else 0,
            "roles": roles,
            "ships": len(self.conductor.list_ships()),
            "assigned": len(self.assignments),
            "outside_plan": 0,
            "notes": list(actions.notes),
            "decisions": [
                {
                    "at": epoch_ms(d.at),
                    "action": d.kind,
                    "ships": [d.ship] if d.ship else [],
                    "role": d.role,
                    "reason": d.reason,
                }
                for d in decisions
            ],
            "decisions_note": "",
        }

    async def dry_run(self, plan: JSON) -> JSON:
        """The conductor's own dry run of `plan`."""
        data = (await self.conductor.dry_run(_plan(plan))).as_data()
        return {
            "purchases": [{**p, "count": 1} for p in data["purchases"]],
            "assignments": data["assignments"],
            "desired": data["desired"],
            "actual": data["actual"],
            "notes": data["notes"],
        }

    async def apply_plan(self, plan: JSON, *, by: str) -> JSON:
        """The plan's next revision, stored and reconciled to by the conductor."""
        stored = await self.conductor.replace_plan(_plan(plan), author=by)
        return {"version": stored.revision, "document": stored.plan.to_data()}

    async def set_override(self, symbol: str, behaviour: str, expires: timedelta | None) -> JSON:
        """The conductor's override (kept by its reconciler until it expires)."""
        until = self._now() + expires if expires else None
        try:
            await self.conductor.set_override(
                symbol, behaviour, reason="set in the dashboard", expires_at=until
            )
        except KeyError:
            raise UnknownShip(symbol) from None
        except ValueError as exc:
            raise PlanInvalid("behaviour", str(exc)) from None
        return {"ship": symbol, "behaviour": behaviour, "expires_at": epoch_ms(until)}

    async def clear_override(self, symbol: str) -> JSON:
        """Remove the override: the plan assigns the ship again."""
        removed = await self.conductor.clear_override(symbol)
        return {"ship": symbol, "removed": removed, "assignment": assignment_json(None)}
