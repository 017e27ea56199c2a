"""Desired against actual, level-triggered: `plan_actions(plan, world)` is a pure function from
the plan and one snapshot of the fleet (`World`) to the `Actions` that would bring the fleet to
the plan. The leader runs it every pass and applies the answer; the dry run returns it.

How it decides:

1. **Types**: a role's ship type is its own, or for `auto` the allowed type earning most per
   credit spent (credits per hour per ship of that type ÷ its cheapest price), the cheapest
   when nothing is measured yet; each choice carries its figures.
2. **Matching**: a ship keeps the role it has (its assignment names it) while the role exists,
   wants its type and has room; roles are then filled, by priority, from ships of their type
   that no role holds. A ship no role needs is assigned `idle`.
3. **Assignments**: a matched ship runs its role's behaviour (bound to the role's waypoint, or
   for `mine`/`probe` without one, an asteroid / a market of its system from the view), or
   `upgrade` at a shipyard of its system while its mounts differ from the role's spec; an active
   manual override replaces all that; a ship parked by saturation control keeps its work but
   `parked`. Only differences from the current assignment become actions.
4. **Purchases**: each missing ship, roles by priority, at the cheapest known shipyard selling
   the type where a ship of ours is present (not in transit), while credits minus the price
   stay at or above the reserve; the first unaffordable ship stops buying (a cheaper ship of a
   later role does not jump the queue). Nothing is bought while purchases are paused.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from conductor.catalog import AUTO, IDLE, UPGRADE
from conductor.plan import FleetPlan, Role
from conductor.store import Override

__all__ = [
    "Actions",
    "Assign",
    "AutoChoice",
    "CurrentAssignment",
    "Offer",
    "Purchase",
    "ShipView",
    "WaypointView",
    "World",
    "choose_type",
    "plan_actions",
]

_ASTEROID_TYPES = ("ENGINEERED_ASTEROID", "ASTEROID", "ASTEROID_FIELD")


@dataclass(frozen=True)
class ShipView:
    """One ship as the conductor sees it: its type, where it is and what it carries (`mounts`
    None: not known yet)."""

    symbol: str
    ship_type: str
    system: str = ""
    waypoint: str = ""
    status: str = ""
    mounts: tuple[str, ...] | None = None


@dataclass(frozen=True)
class CurrentAssignment:
    """A ship's assignment as the assignments bucket holds it."""

    ship: str
    role: str
    behaviour: str
    params: Mapping[str, str] = field(default_factory=dict)
    waypoint: str = ""
    mount_spec: tuple[str, ...] = ()
    parked: bool = False
    manual: bool = False


@dataclass(frozen=True)
class Offer:
    """A ship type sold at a shipyard, at a price, as last observed."""

    shipyard: str
    system: str
    ship_type: str
    price: int


@dataclass(frozen=True)
class WaypointView:
    """A waypoint of the view: its type and traits."""

    symbol: str
    system: str
    type: str
    traits: tuple[str, ...] = ()


@dataclass(frozen=True)
class World:
    """One snapshot of everything the conductor decides from."""

    now: datetime
    ships: Mapping[str, ShipView]
    assignments: Mapping[str, CurrentAssignment] = field(default_factory=dict)
    offers: Sequence[Offer] = ()
    waypoints: Sequence[WaypointView] = ()
    credits: int | None = None
    overrides: Mapping[str, Override] = field(default_factory=dict)
    parked: Mapping[str, str] = field(default_factory=dict)
    # Measured credits per hour per ship, by ship type.
    earnings: Mapping[str, float] = field(default_factory=dict)
    purchases_paused: bool = False


@dataclass(frozen=True)
class Purchase:
    """Buy one `ship_type` at `shipyard` for `role`."""

    role: str
    ship_type: str
    shipyard: str
    price: int
    credits_after: int
    behaviour: str


@dataclass(frozen=True)
class Assign:
    """Write this assignment for `ship`."""

    ship: str
    role: str
    behaviour: str
    params: Mapping[str, str] = field(default_factory=dict)
    waypoint: str = ""
    mount_spec: tuple[str, ...] = ()
    parked: bool = False
    manual: bool = False
    reason: str = ""

    def same_as(self, current: CurrentAssignment | None) -> bool:
        """True when `current` already says exactly this."""
        return current is not None and (
            current.role,
            current.behaviour,
            dict(current.params),
            current.waypoint,
            tuple(current.mount_spec),
            current.parked,
            current.manual,
        ) == (
            self.role,
            self.behaviour,
            dict(self.params),
            self.waypoint,
            tuple(self.mount_spec),
            self.parked,
            self.manual,
        )


@dataclass(frozen=True)
class AutoChoice:
    """The type an `auto` role chose, why, and the figures it compared."""

    role: str
    ship_type: str
    reason: str
    figures: Mapping[str, Any]


@dataclass
class Actions:
    """What the reconciler would do: assignments to write, ships to buy (in order), the `auto`
    choices, ships per role desired and matched, and notes on what could not be done."""

    assignments: list[Assign] = field(default_factory=list)
    purchases: list[Purchase] = field(default_factory=list)
    choices: list[AutoChoice] = field(default_factory=list)
    desired: dict[str, int] = field(default_factory=dict)
    actual: dict[str, int] = field(default_factory=dict)
    members: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_data(self) -> dict[str, Any]:
        """The actions as plain data (the dry run's answer)."""
        return {
            "purchases": [vars(p) for p in self.purchases],
            "assignments": [
                {**vars(a), "params": dict(a.params), "mount_spec": list(a.mount_spec)}
                for a in self.assignments
            ],
            "choices": [{**vars(c), "figures": dict(c.figures)} for c in self.choices],
            "desired": dict(self.desired),
            "actual": dict(self.actual),
            "notes": list(self.notes),
        }


def _present(world: World) -> set[str]:
    """Waypoints where a ship of ours is (not in transit)."""
    return {s.waypoint for s in world.ships.values() if s.status != "IN_TRANSIT" and s.waypoint}


def _cheapest(world: World, ship_type: str) -> int | None:
    """The lowest price of `ship_type` where a ship of ours is, else anywhere known."""
    here = _present(world)
    offers = [o for o in world.offers if o.ship_type == ship_type]
    reachable = [o.price for o in offers if o.shipyard in here]
    prices = reachable or [o.price for o in offers]
    return min(prices) if prices else None


def choose_type(role: Role, world: World) -> AutoChoice:
    """The ship type for `role` (see the module docstring, step 1)."""
    if role.ship_type != AUTO:
        return AutoChoice(role.name, role.ship_type, "fixed by the plan", {})
    figures: dict[str, Any] = {}
    best: tuple[float, str] | None = None
    for ship_type in role.allowed_types:
        price = _cheapest(world, ship_type)
        cph = world.earnings.get(ship_type)
        per_credit = cph / price if cph is not None and price else None
        figures[ship_type] = {"price": price, "cph_per_ship": cph, "cph_per_credit": per_credit}
        if per_credit is not None and (best is None or (per_credit, ship_type) > best):
            best = (per_credit, ship_type)
    if best is not None:
        return AutoChoice(
            role.name,
            best[1],
            f"highest measured credits/hour per credit spent ({best[0]:.3g})",
            figures,
        )
    priced = [(p, t) for t in role.allowed_types if (p := _cheapest(world, t)) is not None]
    if priced:
        price, ship_type = min(priced)
        return AutoChoice(
            role.name, ship_type, f"nothing measured yet: the cheapest ({price})", figures
        )
    ship_type = sorted(role.allowed_types)[0]
    return AutoChoice(role.name, ship_type, "nothing measured or priced yet", figures)


def _asteroid(world: World, system: str) -> str:
    rank = {t: i for i, t in enumerate(_ASTEROID_TYPES)}
    found = sorted(
        (rank[w.type], w.symbol) for w in world.waypoints if w.system == system and w.type in rank
    )
    return found[0][1] if found else ""


def _watch_points(world: World, system: str, target: str) -> list[str]:
    """The waypoints of `system` a probe watching `target` (market or shipyard) may hold."""
    trait = "SHIPYARD" if target == "shipyard" else "MARKETPLACE"
    return sorted(w.symbol for w in world.waypoints if w.system == system and trait in w.traits)


def _shipyard_for(world: World, ship: ShipView) -> str:
    """The shipyard where `ship` is, else the first of its system."""
    yards = sorted({o.shipyard for o in world.offers if o.system == ship.system})
    if ship.waypoint in yards:
        return ship.waypoint
    return yards[0] if yards else ""


def _role_assign(
    role: Role, ship: ShipView, world: World, probe_targets: dict[str, list[str]]
) -> Assign:
    """The assignment a matched ship gets from its role (before overrides and parking)."""
    if role.mounts and ship.mounts is not None and Counter(ship.mounts) != Counter(role.mounts):
        shipyard = _shipyard_for(world, ship)
        if shipyard:
            return Assign(
                ship.symbol,
                role.name,
                UPGRADE,
                waypoint=shipyard,
                mount_spec=tuple(role.mounts),
                reason=f"mounts {sorted(ship.mounts)} differ from the role's spec",
            )
    waypoint = role.waypoint
    if not waypoint and role.behaviour == "mine":
        waypoint = _asteroid(world, ship.system)
    if not waypoint and role.behaviour == "probe":
        # A probe stays where it is when that is a free place to watch, else takes the first.
        target = role.params.get("target", "market")
        key = f"{ship.system}/{target}"
        targets = probe_targets.setdefault(key, _watch_points(world, ship.system, target))
        if ship.waypoint in targets:
            waypoint = ship.waypoint
        elif targets:
            waypoint = targets[0]
        if waypoint in targets:
            targets.remove(waypoint)
    return Assign(
        ship.symbol,
        role.name,
        role.behaviour,
        params=dict(role.params),
        waypoint=waypoint,
        mount_spec=tuple(role.mounts),
        reason="role",
    )


def plan_actions(plan: FleetPlan, world: World) -> Actions:
    """The actions that bring the fleet in `world` to `plan` (see the module docstring)."""
    actions = Actions()
    roles = sorted(plan.roles, key=lambda r: (r.priority, r.name))
    types: dict[str, str] = {}
    for role in roles:
        choice = choose_type(role, world)
        types[role.name] = choice.ship_type
        if role.ship_type == AUTO:
            actions.choices.append(choice)
        actions.desired[role.name] = role.count

    # 2. matching: keep, then fill.
    held: dict[str, str] = {}
    members: dict[str, list[str]] = {role.name: [] for role in roles}
    for role in roles:
        keep = sorted(
            s
            for s, a in world.assignments.items()
            if a.role == role.name
            and s in world.ships
            and world.ships[s].ship_type in role.candidates
            and s not in held
        )
        for symbol in keep[: role.count]:
            held[symbol] = role.name
            members[role.name].append(symbol)
    for role in roles:
        room = role.count - len(members[role.name])
        if room <= 0:
            continue
        free = sorted(
            s
            for s, ship in world.ships.items()
            if s not in held and ship.ship_type in role.candidates
        )
        # A ship of the chosen type first (an `auto` role fills with what it would buy).
        free.sort(key=lambda s: world.ships[s].ship_type != types[role.name])
        for symbol in free[:room]:
            held[symbol] = role.name
            members[role.name].append(symbol)
    actions.members = {name: sorted(ships) for name, ships in members.items()}
    actions.actual = {name: len(ships) for name, ships in members.items()}

    # 3. assignments.
    probe_targets: dict[str, list[str]] = {}
    for ship_symbol in sorted(world.ships):
        ship = world.ships[ship_symbol]
        role_name = held.get(ship_symbol, "")
        held_role = plan.role(role_name) if role_name else None
        if held_role is not None:
            desired = _role_assign(held_role, ship, world, probe_targets)
        else:
            desired = Assign(ship_symbol, "", IDLE, reason="no role needs it")
        override = world.overrides.get(ship_symbol)
        if override is not None and override.active(world.now):
            desired = Assign(
                ship_symbol,
                role_name,
                override.behaviour,
                params=dict(override.params),
                waypoint=override.waypoint,
                manual=True,
                reason=f"manual override{': ' + override.reason if override.reason else ''}",
            )
        elif ship_symbol in world.parked:
            desired = Assign(
                ship_symbol,
                desired.role,
                desired.behaviour,
                params=desired.params,
                waypoint=desired.waypoint,
                mount_spec=desired.mount_spec,
                parked=True,
                reason=f"parked: {world.parked[ship_symbol]}",
            )
        if not desired.same_as(world.assignments.get(ship_symbol)):
            actions.assignments.append(desired)

    # 4. purchases.
    missing = [(r, r.count - actions.actual[r.name]) for r in roles]
    if any(n > 0 for _, n in missing):
        if world.purchases_paused:
            actions.notes.append("purchases are paused")
        elif world.credits is None:
            actions.notes.append("credits not known yet: no purchase")
        else:
            _purchases(plan, world, missing, types, actions)
    return actions


def _purchases(
    plan: FleetPlan,
    world: World,
    missing: list[tuple[Role, int]],
    types: Mapping[str, str],
    actions: Actions,
) -> None:
    assert world.credits is not None
    credits = world.credits
    present = _present(world)
    for role, count in missing:
        ship_type = types[role.name]
        offers = sorted(
            (o.price, o.shipyard)
            for o in world.offers
            if o.ship_type == ship_type and o.shipyard in present
        )
        for _ in range(max(0, count)):
            if not offers:
                actions.notes.append(
                    f"role {role.name}: no known shipyard selling {ship_type} where a ship of"
                    " ours is"
                )
                break
            price, shipyard = offers[0]
            if credits - price < plan.reserve:
                actions.notes.append(
                    f"role {role.name}: {ship_type} costs {price}; {credits} credits would fall"
                    f" below the reserve of {plan.reserve}"
                )
                return
            credits -= price
            actions.purchases.append(
                Purchase(role.name, ship_type, shipyard, price, credits, role.behaviour)
            )
