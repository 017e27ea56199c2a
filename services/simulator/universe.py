"""The galaxy, generated from a seed: systems joined by jump gates, and their waypoints with
types, traits, markets, shipyards and deposits.

The same seed always gives the same universe (generation uses only a seeded `random.Random`
and never the clock); faction home systems come first and are laid out so that a new agent
finds, close to its headquarters, a shipyard selling mining ships, a market buying ore, an
engineered asteroid and an asteroid field.
"""

from __future__ import annotations

import math
import random
import string
from dataclasses import dataclass, field
from datetime import datetime

from simulator import catalog

__all__ = [
    "ASTEROID_FEATURES",
    "ATMOSPHERES",
    "DEPOSIT_TRAITS",
    "HOME_SHIPYARD",
    "PLANET_SURFACES",
    "SECTOR",
    "SETTLEMENTS",
    "SYSTEM_TYPES",
    "System",
    "Universe",
    "Waypoint",
    "generate_universe",
    "system_symbol_of",
]

SECTOR = "X1"
HOME_SHIPYARD = (
    "SHIP_PROBE",
    "SHIP_MINING_DRONE",
    "SHIP_SIPHON_DRONE",
    "SHIP_SURVEYOR",
    "SHIP_ORE_HOUND",
    "SHIP_LIGHT_HAULER",
    "SHIP_LIGHT_SHUTTLE",
)
SYSTEM_TYPES = (
    "NEUTRON_STAR",
    "RED_STAR",
    "ORANGE_STAR",
    "BLUE_STAR",
    "YOUNG_STAR",
    "WHITE_DWARF",
    "HYPERGIANT",
)
PLANET_SURFACES = ("ROCKY", "FROZEN", "TEMPERATE", "JUNGLE", "OCEAN", "BARREN", "VOLCANIC", "SWAMP")
ATMOSPHERES = ("BREATHABLE_ATMOSPHERE", "THIN_ATMOSPHERE", "TOXIC_ATMOSPHERE")
SETTLEMENTS = ("OUTPOST", "SPRAWLING_CITIES", "SCATTERED_SETTLEMENTS")
ASTEROID_FEATURES = (
    "DEEP_CRATERS",
    "SHALLOW_CRATERS",
    "HOLLOWED_INTERIOR",
    "DEBRIS_CLUSTER",
    "MICRO_GRAVITY_ANOMALIES",
    "UNSTABLE_COMPOSITION",
)
DEPOSIT_TRAITS = tuple(catalog.DEPOSITS)
_SYLLABLES = ("ka", "ri", "to", "sel", "mar", "vo", "ne", "an", "dor", "is", "ul", "tha", "ze")


@dataclass
class Waypoint:
    """One place in a system; orbitals share their parent's coordinates."""

    symbol: str
    system_symbol: str
    type: str
    x: int
    y: int
    traits: list[str]
    orbits: str | None = None
    orbitals: list[str] = field(default_factory=list)
    faction: str | None = None
    charted: bool = True
    charted_by: str | None = None
    charted_on: datetime | None = None
    market: str | None = None  # a catalog.MARKET_PROFILES name
    shipyard: tuple[str, ...] = ()  # ship types for sale
    deposits: dict[str, int] = field(default_factory=dict)

    def visible_traits(self) -> list[str]:
        """Traits as the API shows them: only UNCHARTED until someone charts the waypoint."""
        return self.traits if self.charted else ["UNCHARTED"]

    @property
    def has_market(self) -> bool:
        """Whether the waypoint has a market."""
        return self.market is not None

    @property
    def has_shipyard(self) -> bool:
        """Whether the waypoint sells ships."""
        return bool(self.shipyard)


@dataclass
class System:
    """A star system: its place in the sector, its waypoints and its jump-gate links."""

    symbol: str
    name: str
    constellation: str
    type: str
    x: int
    y: int
    faction: str | None
    waypoints: list[str] = field(default_factory=list)
    jump_gate: str = ""
    connections: list[str] = field(default_factory=list)  # connected system symbols


@dataclass
class Universe:
    """Every system and waypoint of one seed, and each faction's headquarters."""

    seed: int
    systems: dict[str, System]
    waypoints: dict[str, Waypoint]
    headquarters: dict[str, str]  # faction -> headquarters waypoint

    def system_of(self, waypoint_symbol: str) -> System:
        """The system that waypoint `waypoint_symbol` belongs to."""
        return self.systems[self.waypoints[waypoint_symbol].system_symbol]


def system_symbol_of(waypoint_symbol: str) -> str:
    """`X1-AB12-C3` -> `X1-AB12`."""
    return "-".join(waypoint_symbol.split("-")[:2])


class _SystemBuilder:
    """Lays out one system's waypoints as clusters: a body (letter + 1) and its orbitals."""

    def __init__(self, rng: random.Random, system: System, universe: dict[str, Waypoint]) -> None:
        self.rng = rng
        self.system = system
        self.all = universe
        self.next_letter = 0

    def _place(self, radius_min: int, radius_max: int) -> tuple[int, int]:
        angle = self.rng.uniform(0, 6.283185307179586)
        radius = self.rng.uniform(radius_min, radius_max)
        return round(radius * math.cos(angle)), round(radius * math.sin(angle))

    def cluster(
        self,
        body_type: str,
        traits: list[str],
        radius: tuple[int, int],
        *,
        market: str | None = None,
        shipyard: tuple[str, ...] = (),
        charted: bool = True,
        near: Waypoint | None = None,
    ) -> Waypoint:
        letter = string.ascii_uppercase[self.next_letter]
        self.next_letter += 1
        if near is not None:
            dx, dy = self._place(*radius)
            x, y = near.x + dx, near.y + dy
        else:
            x, y = self._place(*radius)
        return self._add(f"{letter}1", body_type, x, y, traits, market, shipyard, charted, None)

    def orbital(
        self,
        parent: Waypoint,
        body_type: str,
        traits: list[str],
        *,
        market: str | None = None,
        shipyard: tuple[str, ...] = (),
        charted: bool = True,
    ) -> Waypoint:
        letter = parent.symbol.rsplit("-", 1)[1][0]
        suffix = f"{letter}{len(parent.orbitals) + 2}"
        orbital = self._add(
            suffix, body_type, parent.x, parent.y, traits, market, shipyard, charted, parent
        )
        parent.orbitals.append(orbital.symbol)
        return orbital

    def _add(
        self,
        suffix: str,
        body_type: str,
        x: int,
        y: int,
        traits: list[str],
        market: str | None,
        shipyard: tuple[str, ...],
        charted: bool,
        parent: Waypoint | None,
    ) -> Waypoint:
        traits = list(traits)
        if market is not None:
            traits.append("MARKETPLACE")
        if shipyard:
            traits.append("SHIPYARD")
        deposits: dict[str, int] = {}
        for trait in traits:
            for good, weight in catalog.DEPOSITS.get(trait, {}).items():
                deposits[good] = deposits.get(good, 0) + weight
        if body_type in catalog.SIPHONABLE_TYPES:
            deposits = dict(catalog.GASES)
        waypoint = Waypoint(
            symbol=f"{self.system.symbol}-{suffix}",
            system_symbol=self.system.symbol,
            type=body_type,
            x=x,
            y=y,
            traits=traits,
            orbits=parent.symbol if parent else None,
            faction=self.system.faction,
            charted=charted,
            charted_by=(self.system.faction or "COSMIC") if charted else None,
            market=market,
            shipyard=shipyard,
            deposits=deposits,
        )
        self.all[waypoint.symbol] = waypoint
        self.system.waypoints.append(waypoint.symbol)
        return waypoint

    # -- building blocks

    def planet_traits(self) -> list[str]:
        return [
            self.rng.choice(PLANET_SURFACES),
            self.rng.choice(ATMOSPHERES),
            self.rng.choice(SETTLEMENTS),
        ]

    def asteroid_traits(self, deposit: str | None = None) -> list[str]:
        return [deposit or self.rng.choice(DEPOSIT_TRAITS), self.rng.choice(ASTEROID_FEATURES)]

    def gas_giant(self, market: str | None) -> Waypoint:
        giant = self.cluster(
            "GAS_GIANT",
            ["JOVIAN", self.rng.choice(("STRONG_MAGNETOSPHERE", "VIBRANT_AURORAS"))],
            (60, 140),
        )
        if market:
            self.orbital(giant, "ORBITAL_STATION", ["INDUSTRIAL"], market=market)
        return giant

    def jump_gate(self) -> Waypoint:
        gate = self.cluster("JUMP_GATE", [], (150, 250), market="gate_exchange")
        self.system.jump_gate = gate.symbol
        return gate


def _pick_name(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))).title()


def _build_home(builder: _SystemBuilder) -> str:
    """A faction's home system; returns the headquarters waypoint."""
    rng = builder.rng
    hq = builder.cluster(
        "PLANET",
        [*builder.planet_traits()[:2], "SPRAWLING_CITIES", "BUREAUCRATIC"],
        (10, 25),
        market="capital",
    )
    builder.orbital(hq, "MOON", [rng.choice(PLANET_SURFACES), "SCARCE_LIFE"])
    builder.orbital(
        hq,
        "ORBITAL_STATION",
        ["MILITARY_BASE", "TRADING_HUB"],
        market="outfitter",
        shipyard=HOME_SHIPYARD,
    )
    builder.orbital(hq, "ORBITAL_STATION", ["INDUSTRIAL"], market="refinery")
    builder.cluster(
        "ENGINEERED_ASTEROID", ["COMMON_METAL_DEPOSITS", "HOLLOWED_INTERIOR"], (12, 20), near=hq
    )
    builder.cluster("ASTEROID_FIELD", ["COMMON_METAL_DEPOSITS", "DEBRIS_CLUSTER"], (35, 60))
    builder.gas_giant("chemical_plant")
    builder.jump_gate()
    builder.cluster("FUEL_STATION", [], (40, 90), market="fuel_depot")
    for _ in range(rng.randint(2, 3)):
        planet = builder.cluster(
            "PLANET",
            builder.planet_traits(),
            (30, 110),
            market=rng.choice(catalog.GENERAL_PROFILES),
        )
        for _ in range(rng.randint(0, 2)):
            builder.orbital(planet, "MOON", [rng.choice(PLANET_SURFACES)])
    builder.cluster(
        "ASTEROID_BASE",
        builder.asteroid_traits("MINERAL_DEPOSITS"),
        (70, 120),
        market="mining_outpost",
    )
    for _ in range(rng.randint(4, 7)):
        builder.cluster("ASTEROID", builder.asteroid_traits(), (70, 130))
    return hq.symbol


def _build_frontier(builder: _SystemBuilder) -> None:
    """A system away from the factions: fewer services, some waypoints still uncharted."""
    rng = builder.rng
    for index in range(rng.randint(1, 3)):
        market = rng.choice(catalog.GENERAL_PROFILES) if index == 0 or rng.random() < 0.5 else None
        planet = builder.cluster("PLANET", builder.planet_traits(), (20, 120), market=market)
        for _ in range(rng.randint(0, 2)):
            charted = rng.random() < 0.6
            builder.orbital(planet, "MOON", [rng.choice(PLANET_SURFACES)], charted=charted)
        if rng.random() < 0.6:
            types = tuple(sorted(rng.sample(sorted(catalog.SHIP_TYPES), rng.randint(3, 6))))
            builder.orbital(
                planet,
                "ORBITAL_STATION",
                ["TRADING_HUB"],
                market=rng.choice(("shipwright", "outfitter")),
                shipyard=types,
            )
    if rng.random() < 0.7:
        builder.gas_giant("chemical_plant" if rng.random() < 0.5 else None)
    builder.cluster("ASTEROID_FIELD", builder.asteroid_traits(), (40, 110))
    builder.jump_gate()
    if rng.random() < 0.5:
        builder.cluster("FUEL_STATION", [], (50, 120), market="fuel_depot")
    for _ in range(rng.randint(2, 6)):
        charted = rng.random() < 0.6
        builder.cluster("ASTEROID", builder.asteroid_traits(), (60, 160), charted=charted)


def _link(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def generate_universe(seed: int, system_count: int) -> Universe:
    """Build the galaxy for `seed`: `system_count` systems, faction homes first."""
    rng = random.Random(f"flotilla-simulator-universe:{seed}")
    systems: dict[str, System] = {}
    waypoints: dict[str, Waypoint] = {}
    headquarters: dict[str, str] = {}
    factions = list(catalog.FACTIONS)
    while len(systems) < system_count:
        letters = "".join(rng.choice(string.ascii_uppercase) for _ in range(2))
        symbol = f"{SECTOR}-{letters}{rng.randint(1, 99)}"
        if symbol in systems:
            continue
        x, y = rng.randint(-3000, 3000), rng.randint(-3000, 3000)
        if any(abs(s.x - x) + abs(s.y - y) < 300 for s in systems.values()):
            continue
        index = len(systems)
        faction = factions[index] if index < len(factions) else None
        system = System(
            symbol=symbol,
            name=_pick_name(rng),
            constellation=_pick_name(rng),
            type=rng.choice(SYSTEM_TYPES),
            x=x,
            y=y,
            faction=faction,
        )
        systems[symbol] = system
        builder = _SystemBuilder(rng, system, waypoints)
        if faction is not None:
            headquarters[faction] = _build_home(builder)
        else:
            _build_frontier(builder)

    # Jump gates: a ring through every system plus a few shortcuts, so all are reachable.
    order = list(systems.values())
    links: set[tuple[str, str]] = set()
    for a, b in zip(order, order[1:] + order[:1], strict=True):
        if a is not b:
            links.add(_link(a.symbol, b.symbol))
    for _ in range(len(order) // 3):
        a, b = rng.sample(order, 2)
        links.add(_link(a.symbol, b.symbol))
    for a_symbol, b_symbol in sorted(links):
        systems[a_symbol].connections.append(b_symbol)
        systems[b_symbol].connections.append(a_symbol)
    for system in systems.values():
        system.connections.sort()
    return Universe(seed=seed, systems=systems, waypoints=waypoints, headquarters=headquarters)
