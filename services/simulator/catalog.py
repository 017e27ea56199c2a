"""The game's fixed content: trade goods, ship components, ship types, traits and factions.

Names and symbols are the game's own; numbers (prices, strengths, power) are chosen to play like
the live game, and descriptions are the simulator's own short wording.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ALL_FACTION_SYMBOLS",
    "DEPOSITS",
    "ENGINES",
    "FACTIONS",
    "FRAMES",
    "GASES",
    "GAS_SIPHONS",
    "GENERAL_PROFILES",
    "MARKET_PROFILES",
    "MINEABLE_TYPES",
    "MINING_LASERS",
    "MODIFIERS",
    "MODULES",
    "MOUNTS",
    "REACTORS",
    "SENSOR_ARRAYS",
    "SHIP_TYPES",
    "SIPHONABLE_TYPES",
    "SURVEYORS",
    "TRADE_GOODS",
    "TRAITS",
    "EngineSpec",
    "FactionSpec",
    "FrameSpec",
    "MarketProfile",
    "ModuleSpec",
    "MountSpec",
    "ReactorSpec",
    "Requirements",
    "ShipTypeSpec",
    "TradeGoodSpec",
    "TraitSpec",
    "faction_trait_view",
]


def _title(symbol: str) -> str:
    return symbol.replace("_", " ").title()


@dataclass(frozen=True)
class Requirements:
    """What a ship component needs from the ship: reactor power, crew and module slots."""

    power: int | None = None
    crew: int | None = None
    slots: int | None = None

    def view(self) -> dict[str, int]:
        """The `requirements` object of the API, listing only what applies."""
        out: dict[str, int] = {}
        if self.power is not None:
            out["power"] = self.power
        if self.crew is not None:
            out["crew"] = self.crew
        if self.slots is not None:
            out["slots"] = self.slots
        return out


@dataclass(frozen=True)
class FrameSpec:
    """A ship frame: its slots, mounting points and fuel tank."""

    symbol: str
    description: str
    module_slots: int
    mounting_points: int
    fuel_capacity: int
    requirements: Requirements
    quality: int = 4

    @property
    def name(self) -> str:
        """The display name, e.g. `Frigate`."""
        return _title(self.symbol.removeprefix("FRAME_"))


@dataclass(frozen=True)
class ReactorSpec:
    """A ship reactor: the power that mounts and modules draw from."""

    symbol: str
    description: str
    power_output: int
    requirements: Requirements
    quality: int = 4

    @property
    def name(self) -> str:
        """The display name, e.g. `Fission Reactor`."""
        return _title(self.symbol.removeprefix("REACTOR_")) + " Reactor"


@dataclass(frozen=True)
class EngineSpec:
    """A ship engine: its speed sets travel times."""

    symbol: str
    description: str
    speed: int
    requirements: Requirements
    quality: int = 4

    @property
    def name(self) -> str:
        """The display name, e.g. `Impulse Drive I`."""
        return _title(self.symbol.removeprefix("ENGINE_"))


@dataclass(frozen=True)
class ModuleSpec:
    """A ship module: cargo holds, crew quarters, refineries and the like."""

    symbol: str
    description: str
    requirements: Requirements
    capacity: int | None = None
    range: int | None = None

    @property
    def name(self) -> str:
        """The display name, e.g. `Cargo Hold I`."""
        return _title(self.symbol.removeprefix("MODULE_"))


@dataclass(frozen=True)
class MountSpec:
    """A ship mount (mining laser, surveyor, sensor array, gas siphon) and its strength."""

    symbol: str
    description: str
    requirements: Requirements
    strength: int | None = None
    deposits: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The display name, e.g. `Mining Laser I`."""
        return _title(self.symbol.removeprefix("MOUNT_"))

    @property
    def power(self) -> int:
        """Reactor power the mount draws (0 when it needs none)."""
        return self.requirements.power or 0


@dataclass(frozen=True)
class ShipTypeSpec:
    """A ship model sold at shipyards."""

    type: str
    description: str
    role: str
    frame: str
    reactor: str
    engine: str
    modules: tuple[str, ...]
    mounts: tuple[str, ...]
    base_price: int
    crew_required: int
    crew_capacity: int

    @property
    def name(self) -> str:
        """The display name, e.g. `Mining Drone`."""
        return _title(self.type.removeprefix("SHIP_"))


@dataclass(frozen=True)
class TradeGoodSpec:
    """A trade good: its base price and the trade volume markets start with."""

    symbol: str
    description: str
    base_price: int
    trade_volume: int

    @property
    def name(self) -> str:
        """The display name, e.g. `Iron Ore`."""
        return _title(self.symbol)


@dataclass(frozen=True)
class TraitSpec:
    """A waypoint trait or modifier with its description."""

    symbol: str
    description: str

    @property
    def name(self) -> str:
        """The display name, e.g. `Marketplace`."""
        return _title(self.symbol)

    def view(self) -> dict[str, Any]:
        """The trait as the API shows it: symbol, name and description."""
        return {"symbol": self.symbol, "name": self.name, "description": self.description}


@dataclass(frozen=True)
class FactionSpec:
    """A faction of the game; those with a home in the universe can be joined."""

    symbol: str
    name: str
    description: str
    traits: tuple[str, ...]
    is_recruiting: bool = True


# --- ship components -------------------------------------------------------------------------

FRAMES = {
    f.symbol: f
    for f in [
        FrameSpec(
            "FRAME_PROBE",
            "A tiny hull carrying little more than sensors.",
            0,
            0,
            0,
            Requirements(power=1, crew=0),
        ),
        FrameSpec(
            "FRAME_DRONE",
            "A small autonomous hull for a single job.",
            2,
            2,
            100,
            Requirements(power=1, crew=-3),
        ),
        FrameSpec(
            "FRAME_INTERCEPTOR",
            "A fast, light hull built to chase.",
            3,
            2,
            300,
            Requirements(power=1, crew=40),
        ),
        FrameSpec(
            "FRAME_FRIGATE",
            "A versatile mid-sized hull for command duty.",
            8,
            5,
            400,
            Requirements(power=8, crew=25),
        ),
        FrameSpec(
            "FRAME_SHUTTLE",
            "A compact hull for short hops with goods or people.",
            4,
            1,
            600,
            Requirements(power=3, crew=5),
        ),
        FrameSpec(
            "FRAME_EXPLORER",
            "A long-range hull with room for instruments.",
            8,
            2,
            1500,
            Requirements(power=5, crew=30),
        ),
        FrameSpec(
            "FRAME_MINER",
            "A reinforced hull carrying mining gear.",
            7,
            3,
            400,
            Requirements(power=3, crew=5),
        ),
        FrameSpec(
            "FRAME_LIGHT_FREIGHTER",
            "A small cargo hull for local trade.",
            8,
            2,
            600,
            Requirements(power=5, crew=25),
        ),
        FrameSpec(
            "FRAME_HEAVY_FREIGHTER",
            "A large hull built around its holds.",
            12,
            3,
            1500,
            Requirements(power=10, crew=100),
        ),
        FrameSpec(
            "FRAME_BULK_FREIGHTER",
            "A huge, slow hull for bulk cargo.",
            20,
            4,
            2600,
            Requirements(power=15, crew=120),
        ),
    ]
}

REACTORS = {
    r.symbol: r
    for r in [
        ReactorSpec(
            "REACTOR_SOLAR_I",
            "Panels that trickle power from the nearest star.",
            3,
            Requirements(crew=0),
        ),
        ReactorSpec(
            "REACTOR_CHEMICAL_I", "A burner of volatile compounds.", 15, Requirements(crew=3)
        ),
        ReactorSpec("REACTOR_FISSION_I", "A dependable fission pile.", 31, Requirements(crew=8)),
        ReactorSpec("REACTOR_FUSION_I", "A compact fusion core.", 40, Requirements(crew=12)),
        ReactorSpec(
            "REACTOR_ANTIMATTER_I", "An antimatter annihilation core.", 60, Requirements(crew=20)
        ),
    ]
}

ENGINES = {
    e.symbol: e
    for e in [
        EngineSpec(
            "ENGINE_IMPULSE_DRIVE_I", "A basic impulse drive.", 3, Requirements(power=1, crew=0)
        ),
        EngineSpec(
            "ENGINE_ION_DRIVE_I",
            "An ion drive for everyday flights.",
            10,
            Requirements(power=6, crew=0),
        ),
        EngineSpec(
            "ENGINE_ION_DRIVE_II",
            "A tuned ion drive with more thrust.",
            30,
            Requirements(power=6, crew=8),
        ),
        EngineSpec(
            "ENGINE_HYPER_DRIVE_I",
            "A drive that bends space for speed.",
            40,
            Requirements(power=8, crew=10),
        ),
    ]
}

MODULES = {
    m.symbol: m
    for m in [
        ModuleSpec(
            "MODULE_CARGO_HOLD_I", "A hold for goods.", Requirements(crew=0, slots=1), capacity=15
        ),
        ModuleSpec(
            "MODULE_CARGO_HOLD_II",
            "A larger hold for goods.",
            Requirements(power=2, crew=2, slots=2),
            capacity=40,
        ),
        ModuleSpec(
            "MODULE_CARGO_HOLD_III",
            "A very large hold for goods.",
            Requirements(power=3, crew=4, slots=3),
            capacity=75,
        ),
        ModuleSpec(
            "MODULE_CREW_QUARTERS_I",
            "Bunks and galleys for a crew.",
            Requirements(power=1, crew=2, slots=1),
            capacity=40,
        ),
        ModuleSpec(
            "MODULE_MINERAL_PROCESSOR_I",
            "Crushes raw ore into smaller pieces.",
            Requirements(power=1, crew=0, slots=2),
        ),
        ModuleSpec(
            "MODULE_GAS_PROCESSOR_I",
            "Separates siphoned gases.",
            Requirements(power=1, crew=0, slots=2),
        ),
        ModuleSpec(
            "MODULE_ORE_REFINERY_I",
            "Smelts ore into metal.",
            Requirements(power=1, crew=0, slots=1),
        ),
        ModuleSpec(
            "MODULE_SCIENCE_LAB_I",
            "Instruments for study on board.",
            Requirements(power=1, crew=0, slots=2),
        ),
        ModuleSpec(
            "MODULE_WARP_DRIVE_I",
            "Folds space to reach other systems.",
            Requirements(power=3, crew=2, slots=1),
            range=2000,
        ),
    ]
}

_SURVEYABLE_I = (
    "QUARTZ_SAND",
    "SILICON_CRYSTALS",
    "PRECIOUS_STONES",
    "ICE_WATER",
    "AMMONIA_ICE",
    "IRON_ORE",
    "COPPER_ORE",
    "SILVER_ORE",
    "ALUMINUM_ORE",
    "GOLD_ORE",
    "PLATINUM_ORE",
)
_SURVEYABLE_II = (*_SURVEYABLE_I, "DIAMONDS", "URANITE_ORE")
_SURVEYABLE_III = (*_SURVEYABLE_II, "MERITIUM_ORE")

MOUNTS = {
    m.symbol: m
    for m in [
        MountSpec(
            "MOUNT_MINING_LASER_I",
            "A laser that cuts rock from asteroids.",
            Requirements(power=1, crew=0),
            strength=10,
        ),
        MountSpec(
            "MOUNT_MINING_LASER_II",
            "A stronger mining laser.",
            Requirements(power=2, crew=2),
            strength=25,
        ),
        MountSpec(
            "MOUNT_MINING_LASER_III",
            "The strongest mining laser for sale.",
            Requirements(power=3, crew=4),
            strength=60,
        ),
        MountSpec(
            "MOUNT_SURVEYOR_I",
            "Finds rich deposits on asteroids.",
            Requirements(power=1, crew=0),
            strength=1,
            deposits=_SURVEYABLE_I,
        ),
        MountSpec(
            "MOUNT_SURVEYOR_II",
            "A surveyor that reads deeper.",
            Requirements(power=3, crew=2),
            strength=2,
            deposits=_SURVEYABLE_II,
        ),
        MountSpec(
            "MOUNT_SURVEYOR_III",
            "A surveyor that misses very little.",
            Requirements(power=4, crew=4),
            strength=3,
            deposits=_SURVEYABLE_III,
        ),
        MountSpec(
            "MOUNT_SENSOR_ARRAY_I",
            "Short-range sensors for scans.",
            Requirements(power=1, crew=0),
            strength=1,
        ),
        MountSpec(
            "MOUNT_SENSOR_ARRAY_II",
            "Sensors with longer reach.",
            Requirements(power=2, crew=2),
            strength=4,
        ),
        MountSpec(
            "MOUNT_SENSOR_ARRAY_III",
            "Sensors that see across a system.",
            Requirements(power=4, crew=4),
            strength=7,
        ),
        MountSpec(
            "MOUNT_GAS_SIPHON_I",
            "Draws gas from the upper layers of giants.",
            Requirements(power=1, crew=0),
            strength=10,
        ),
        MountSpec(
            "MOUNT_GAS_SIPHON_II",
            "A siphon with a wider intake.",
            Requirements(power=2, crew=2),
            strength=20,
        ),
        MountSpec(
            "MOUNT_GAS_SIPHON_III",
            "A siphon with the widest intake.",
            Requirements(power=3, crew=4),
            strength=35,
        ),
        MountSpec(
            "MOUNT_LASER_CANNON_I",
            "A ship-to-ship beam weapon.",
            Requirements(power=3, crew=1),
            strength=5,
        ),
        MountSpec(
            "MOUNT_TURRET_I",
            "A rotating gun for close defence.",
            Requirements(power=1, crew=1),
            strength=5,
        ),
        MountSpec(
            "MOUNT_MISSILE_LAUNCHER_I",
            "A rack of guided missiles.",
            Requirements(power=1, crew=2),
            strength=10,
        ),
    ]
}

MINING_LASERS = frozenset(s for s in MOUNTS if s.startswith("MOUNT_MINING_LASER"))
SURVEYORS = frozenset(s for s in MOUNTS if s.startswith("MOUNT_SURVEYOR"))
SENSOR_ARRAYS = frozenset(s for s in MOUNTS if s.startswith("MOUNT_SENSOR_ARRAY"))
GAS_SIPHONS = frozenset(s for s in MOUNTS if s.startswith("MOUNT_GAS_SIPHON"))

SHIP_TYPES = {
    s.type: s
    for s in [
        ShipTypeSpec(
            "SHIP_PROBE",
            "A cheap unmanned probe that watches markets and maps space.",
            "SATELLITE",
            "FRAME_PROBE",
            "REACTOR_SOLAR_I",
            "ENGINE_IMPULSE_DRIVE_I",
            (),
            (),
            22_000,
            0,
            0,
        ),
        ShipTypeSpec(
            "SHIP_MINING_DRONE",
            "An unmanned drone with one small mining laser.",
            "EXCAVATOR",
            "FRAME_DRONE",
            "REACTOR_SOLAR_I",
            "ENGINE_IMPULSE_DRIVE_I",
            ("MODULE_CARGO_HOLD_I",),
            ("MOUNT_MINING_LASER_I",),
            32_000,
            0,
            0,
        ),
        ShipTypeSpec(
            "SHIP_SIPHON_DRONE",
            "An unmanned drone that siphons gas giants.",
            "EXCAVATOR",
            "FRAME_DRONE",
            "REACTOR_SOLAR_I",
            "ENGINE_IMPULSE_DRIVE_I",
            ("MODULE_CARGO_HOLD_I",),
            ("MOUNT_GAS_SIPHON_I",),
            30_000,
            0,
            0,
        ),
        ShipTypeSpec(
            "SHIP_SURVEYOR",
            "An unmanned drone that surveys asteroids.",
            "SURVEYOR",
            "FRAME_DRONE",
            "REACTOR_SOLAR_I",
            "ENGINE_IMPULSE_DRIVE_I",
            (),
            ("MOUNT_SURVEYOR_I",),
            28_000,
            0,
            0,
        ),
        ShipTypeSpec(
            "SHIP_INTERCEPTOR",
            "A quick fighter for patrols.",
            "INTERCEPTOR",
            "FRAME_INTERCEPTOR",
            "REACTOR_CHEMICAL_I",
            "ENGINE_ION_DRIVE_I",
            ("MODULE_CREW_QUARTERS_I",),
            ("MOUNT_LASER_CANNON_I",),
            65_000,
            41,
            40,
        ),
        ShipTypeSpec(
            "SHIP_LIGHT_SHUTTLE",
            "A small ship for short trade runs.",
            "TRANSPORT",
            "FRAME_SHUTTLE",
            "REACTOR_CHEMICAL_I",
            "ENGINE_ION_DRIVE_I",
            ("MODULE_CARGO_HOLD_II",),
            (),
            48_000,
            7,
            10,
        ),
        ShipTypeSpec(
            "SHIP_LIGHT_HAULER",
            "A freighter for hauling goods between markets.",
            "HAULER",
            "FRAME_LIGHT_FREIGHTER",
            "REACTOR_FISSION_I",
            "ENGINE_ION_DRIVE_I",
            ("MODULE_CARGO_HOLD_II", "MODULE_CARGO_HOLD_II", "MODULE_CREW_QUARTERS_I"),
            ("MOUNT_SENSOR_ARRAY_I",),
            75_000,
            29,
            40,
        ),
        ShipTypeSpec(
            "SHIP_ORE_HOUND",
            "A crewed miner with a strong laser and a surveyor.",
            "EXCAVATOR",
            "FRAME_MINER",
            "REACTOR_FISSION_I",
            "ENGINE_ION_DRIVE_I",
            (
                "MODULE_MINERAL_PROCESSOR_I",
                "MODULE_CREW_QUARTERS_I",
                "MODULE_CARGO_HOLD_I",
                "MODULE_CARGO_HOLD_I",
            ),
            ("MOUNT_MINING_LASER_II", "MOUNT_SURVEYOR_I"),
            82_000,
            11,
            40,
        ),
        ShipTypeSpec(
            "SHIP_COMMAND_FRIGATE",
            "A capable all-rounder that leads a young fleet.",
            "COMMAND",
            "FRAME_FRIGATE",
            "REACTOR_FISSION_I",
            "ENGINE_ION_DRIVE_II",
            (
                "MODULE_CARGO_HOLD_II",
                "MODULE_CREW_QUARTERS_I",
                "MODULE_MINERAL_PROCESSOR_I",
                "MODULE_GAS_PROCESSOR_I",
            ),
            (
                "MOUNT_SENSOR_ARRAY_II",
                "MOUNT_GAS_SIPHON_II",
                "MOUNT_MINING_LASER_II",
                "MOUNT_SURVEYOR_II",
            ),
            170_000,
            39,
            40,
        ),
        ShipTypeSpec(
            "SHIP_EXPLORER",
            "A long-range ship for charting far systems.",
            "EXPLORER",
            "FRAME_EXPLORER",
            "REACTOR_FUSION_I",
            "ENGINE_ION_DRIVE_II",
            (
                "MODULE_WARP_DRIVE_I",
                "MODULE_CARGO_HOLD_II",
                "MODULE_CREW_QUARTERS_I",
                "MODULE_SCIENCE_LAB_I",
            ),
            ("MOUNT_SENSOR_ARRAY_II", "MOUNT_MINING_LASER_I"),
            210_000,
            42,
            40,
        ),
        ShipTypeSpec(
            "SHIP_HEAVY_FREIGHTER",
            "A big freighter for long trade routes.",
            "HAULER",
            "FRAME_HEAVY_FREIGHTER",
            "REACTOR_FUSION_I",
            "ENGINE_ION_DRIVE_I",
            (
                "MODULE_CARGO_HOLD_III",
                "MODULE_CARGO_HOLD_III",
                "MODULE_CARGO_HOLD_III",
                "MODULE_CREW_QUARTERS_I",
                "MODULE_CREW_QUARTERS_I",
                "MODULE_CREW_QUARTERS_I",
            ),
            ("MOUNT_SENSOR_ARRAY_I",),
            480_000,
            120,
            120,
        ),
        ShipTypeSpec(
            "SHIP_REFINING_FREIGHTER",
            "A freighter with an ore refinery aboard.",
            "REFINERY",
            "FRAME_HEAVY_FREIGHTER",
            "REACTOR_FUSION_I",
            "ENGINE_ION_DRIVE_I",
            (
                "MODULE_ORE_REFINERY_I",
                "MODULE_CARGO_HOLD_III",
                "MODULE_CREW_QUARTERS_I",
                "MODULE_CREW_QUARTERS_I",
                "MODULE_CREW_QUARTERS_I",
            ),
            ("MOUNT_SENSOR_ARRAY_I",),
            1_100_000,
            110,
            120,
        ),
        ShipTypeSpec(
            "SHIP_BULK_FREIGHTER",
            "The largest hauler: slow, thirsty and roomy.",
            "HAULER",
            "FRAME_BULK_FREIGHTER",
            "REACTOR_FUSION_I",
            "ENGINE_IMPULSE_DRIVE_I",
            ("MODULE_CARGO_HOLD_III",) * 4 + ("MODULE_CREW_QUARTERS_I",) * 4,
            (),
            1_400_000,
            130,
            160,
        ),
    ]
}

# --- trade goods ------------------------------------------------------------------------------

_RAW = "Raw material extracted from asteroids or gas giants."
_REFINED = "Refined material smelted from ore."
_MADE = "Manufactured goods traded between worlds."
_PART = "A ship component, installed at a shipyard."

# symbol: (description, base price, trade volume)
_GOODS: dict[str, tuple[str, int, int]] = {
    "QUARTZ_SAND": (_RAW, 18, 60),
    "SILICON_CRYSTALS": (_RAW, 30, 60),
    "PRECIOUS_STONES": (_RAW, 60, 40),
    "ICE_WATER": (_RAW, 14, 60),
    "AMMONIA_ICE": (_RAW, 32, 60),
    "IRON_ORE": (_RAW, 36, 60),
    "COPPER_ORE": (_RAW, 44, 60),
    "ALUMINUM_ORE": (_RAW, 52, 60),
    "SILVER_ORE": (_RAW, 90, 40),
    "GOLD_ORE": (_RAW, 120, 40),
    "PLATINUM_ORE": (_RAW, 150, 40),
    "DIAMONDS": (_RAW, 280, 20),
    "URANITE_ORE": (_RAW, 210, 20),
    "MERITIUM_ORE": (_RAW, 340, 20),
    "LIQUID_HYDROGEN": (_RAW, 24, 60),
    "LIQUID_NITROGEN": (_RAW, 26, 60),
    "HYDROCARBON": (_RAW, 40, 60),
    "IRON": (_REFINED, 140, 40),
    "COPPER": (_REFINED, 160, 40),
    "ALUMINUM": (_REFINED, 180, 40),
    "SILVER": (_REFINED, 300, 20),
    "GOLD": (_REFINED, 420, 20),
    "PLATINUM": (_REFINED, 520, 20),
    "URANITE": (_REFINED, 700, 10),
    "FUEL": ("Starship fuel, sold by the unit of one hundred tank units.", 72, 100),
    "ANTIMATTER": ("Fuel for jump drives and gates.", 9_000, 10),
    "PLASTICS": (_MADE, 110, 40),
    "FERTILIZERS": (_MADE, 90, 40),
    "FABRICS": (_MADE, 150, 40),
    "FOOD": (_MADE, 120, 60),
    "CLOTHING": (_MADE, 340, 20),
    "JEWELRY": (_MADE, 900, 10),
    "MACHINERY": (_MADE, 480, 20),
    "FAB_MATS": (_MADE, 700, 20),
    "ELECTRONICS": (_MADE, 620, 20),
    "MICROPROCESSORS": (_MADE, 880, 20),
    "EQUIPMENT": (_MADE, 560, 20),
    "MEDICINE": (_MADE, 500, 20),
    "DRUGS": (_MADE, 640, 10),
    "EXPLOSIVES": (_MADE, 230, 20),
    "SHIP_PLATING": (_MADE, 1_100, 10),
    "SHIP_PARTS": (_MADE, 1_400, 10),
    "MOUNT_MINING_LASER_I": (_PART, 4_200, 10),
    "MOUNT_MINING_LASER_II": (_PART, 16_000, 10),
    "MOUNT_MINING_LASER_III": (_PART, 48_000, 5),
    "MOUNT_SURVEYOR_I": (_PART, 5_200, 10),
    "MOUNT_SURVEYOR_II": (_PART, 19_000, 10),
    "MOUNT_SURVEYOR_III": (_PART, 55_000, 5),
    "MOUNT_SENSOR_ARRAY_I": (_PART, 4_600, 10),
    "MOUNT_SENSOR_ARRAY_II": (_PART, 17_000, 10),
    "MOUNT_GAS_SIPHON_I": (_PART, 4_400, 10),
    "MOUNT_GAS_SIPHON_II": (_PART, 16_500, 10),
}

TRADE_GOODS = {
    symbol: TradeGoodSpec(symbol, description, price, volume)
    for symbol, (description, price, volume) in _GOODS.items()
}

# --- where resources come from ----------------------------------------------------------------

# Deposit trait -> goods it yields, with relative weights.
DEPOSITS: dict[str, dict[str, int]] = {
    "COMMON_METAL_DEPOSITS": {
        "IRON_ORE": 5,
        "COPPER_ORE": 3,
        "ALUMINUM_ORE": 3,
        "QUARTZ_SAND": 2,
        "SILICON_CRYSTALS": 2,
        "ICE_WATER": 1,
    },
    "MINERAL_DEPOSITS": {
        "QUARTZ_SAND": 4,
        "SILICON_CRYSTALS": 4,
        "ICE_WATER": 3,
        "AMMONIA_ICE": 2,
        "PRECIOUS_STONES": 1,
    },
    "PRECIOUS_METAL_DEPOSITS": {"SILVER_ORE": 4, "GOLD_ORE": 2, "PLATINUM_ORE": 1},
    "RARE_METAL_DEPOSITS": {"URANITE_ORE": 3, "DIAMONDS": 2, "MERITIUM_ORE": 1},
}

GASES = {"LIQUID_HYDROGEN": 5, "LIQUID_NITROGEN": 4, "HYDROCARBON": 3}

MINEABLE_TYPES = frozenset({"ASTEROID", "ASTEROID_FIELD", "ENGINEERED_ASTEROID"})
SIPHONABLE_TYPES = frozenset({"GAS_GIANT"})

# --- markets ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarketProfile:
    """What one kind of market imports, exports and exchanges."""

    name: str
    imports: tuple[str, ...] = ()
    exports: tuple[str, ...] = ()
    exchange: tuple[str, ...] = field(default=("FUEL",))


MARKET_PROFILES = {
    p.name: p
    for p in [
        MarketProfile(
            "outfitter",
            imports=(
                "IRON_ORE",
                "COPPER_ORE",
                "ALUMINUM_ORE",
                "QUARTZ_SAND",
                "SILICON_CRYSTALS",
                "ICE_WATER",
            ),
            exports=(
                "MOUNT_MINING_LASER_I",
                "MOUNT_SURVEYOR_I",
                "MOUNT_SENSOR_ARRAY_I",
                "MOUNT_GAS_SIPHON_I",
            ),
            exchange=("FUEL", "MOUNT_MINING_LASER_II"),
        ),
        MarketProfile(
            "capital",
            imports=("FOOD", "CLOTHING", "MEDICINE", "EQUIPMENT"),
            exports=("DRUGS", "EXPLOSIVES"),
        ),
        MarketProfile(
            "refinery",
            imports=("IRON_ORE", "COPPER_ORE", "ALUMINUM_ORE"),
            exports=("IRON", "COPPER", "ALUMINUM"),
        ),
        MarketProfile(
            "smelter",
            imports=("SILVER_ORE", "GOLD_ORE", "PLATINUM_ORE", "URANITE_ORE"),
            exports=("SILVER", "GOLD", "PLATINUM", "URANITE"),
        ),
        MarketProfile(
            "jeweller",
            imports=("PRECIOUS_STONES", "DIAMONDS", "GOLD", "SILVER"),
            exports=("JEWELRY",),
        ),
        MarketProfile(
            "chemical_plant",
            imports=("LIQUID_HYDROGEN", "LIQUID_NITROGEN", "HYDROCARBON"),
            exports=("PLASTICS", "FERTILIZERS", "FUEL"),
            exchange=(),
        ),
        MarketProfile(
            "farm_world",
            imports=("FERTILIZERS", "ICE_WATER", "MACHINERY"),
            exports=("FOOD", "FABRICS"),
        ),
        MarketProfile(
            "fabricator",
            imports=("IRON", "ALUMINUM", "PLASTICS"),
            exports=("FAB_MATS", "MACHINERY", "EQUIPMENT"),
        ),
        MarketProfile(
            "electronics_works",
            imports=("SILICON_CRYSTALS", "COPPER", "QUARTZ_SAND"),
            exports=("ELECTRONICS", "MICROPROCESSORS"),
        ),
        MarketProfile("textile_mill", imports=("FABRICS", "PLASTICS"), exports=("CLOTHING",)),
        MarketProfile(
            "shipwright",
            imports=("FAB_MATS", "ELECTRONICS", "ALUMINUM"),
            exports=(
                "SHIP_PLATING",
                "SHIP_PARTS",
                "MOUNT_MINING_LASER_II",
                "MOUNT_SURVEYOR_II",
                "MOUNT_SENSOR_ARRAY_II",
                "MOUNT_GAS_SIPHON_II",
            ),
        ),
        MarketProfile(
            "mining_outpost",
            imports=("FOOD", "MACHINERY", "EXPLOSIVES"),
            exports=("QUARTZ_SAND", "ICE_WATER", "AMMONIA_ICE"),
        ),
        MarketProfile("clinic", imports=("AMMONIA_ICE", "PLASTICS"), exports=("MEDICINE",)),
        MarketProfile("fuel_depot", exchange=("FUEL",)),
        MarketProfile("gate_exchange", exchange=("ANTIMATTER", "FUEL")),
    ]
}

# Profiles a generated planet, moon or station market picks from.
GENERAL_PROFILES = (
    "refinery",
    "smelter",
    "jeweller",
    "farm_world",
    "fabricator",
    "electronics_works",
    "textile_mill",
    "shipwright",
    "clinic",
    "capital",
)

# --- waypoint traits --------------------------------------------------------------------------

_TRAITS = {
    "UNCHARTED": "Nobody has charted this place yet; its features are unknown.",
    "MARKETPLACE": "A market where ships dock to buy and sell goods.",
    "SHIPYARD": "A yard that builds and sells ships and fits mounts.",
    "OUTPOST": "A small settlement with basic services.",
    "SPRAWLING_CITIES": "Dense cities cover much of the surface.",
    "SCATTERED_SETTLEMENTS": "Small towns spread thinly across the surface.",
    "MILITARY_BASE": "A garrison of the ruling faction.",
    "TRADING_HUB": "Merchants from many systems meet here.",
    "INDUSTRIAL": "Factories and foundries dominate the landscape.",
    "HIGH_TECH": "Home to advanced research and manufacturing.",
    "BUREAUCRATIC": "Paperwork governs every transaction.",
    "RESEARCH_FACILITY": "Laboratories studying the local environment.",
    "COMMON_METAL_DEPOSITS": "Rich in iron, copper and aluminum ore.",
    "MINERAL_DEPOSITS": "Rich in sand, crystals and ices.",
    "PRECIOUS_METAL_DEPOSITS": "Veins of silver, gold and platinum ore.",
    "RARE_METAL_DEPOSITS": "Traces of uranite, diamonds and meritium.",
    "DEEP_CRATERS": "Deep impact craters scar the surface.",
    "SHALLOW_CRATERS": "Shallow craters dot the surface.",
    "HOLLOWED_INTERIOR": "Tunnels run through a hollowed core.",
    "DEBRIS_CLUSTER": "Loose debris drifts nearby.",
    "MICRO_GRAVITY_ANOMALIES": "Gravity varies oddly from place to place.",
    "UNSTABLE_COMPOSITION": "The rock is brittle and prone to collapse.",
    "ROCKY": "A world of bare rock.",
    "FROZEN": "Ice covers the surface year round.",
    "TEMPERATE": "Mild seasons and liquid water.",
    "JUNGLE": "Dense vegetation covers the land.",
    "OCEAN": "Mostly covered by water.",
    "BARREN": "Dry and lifeless.",
    "VOLCANIC": "Active volcanoes reshape the land.",
    "SWAMP": "Wetlands and murky waters.",
    "BREATHABLE_ATMOSPHERE": "The air can be breathed without help.",
    "THIN_ATMOSPHERE": "The air is thin and cold.",
    "TOXIC_ATMOSPHERE": "The air is poisonous.",
    "JOVIAN": "A giant of swirling gas.",
    "STRONG_MAGNETOSPHERE": "A powerful magnetic field surrounds it.",
    "VIBRANT_AURORAS": "Bright auroras light the poles.",
    "EXTREME_TEMPERATURES": "Temperatures swing to dangerous extremes.",
    "WEAK_GRAVITY": "Light gravity makes launches cheap.",
    "DIVERSE_LIFE": "Many species thrive here.",
    "SCARCE_LIFE": "Only hardy life survives here.",
}

TRAITS = {symbol: TraitSpec(symbol, description) for symbol, description in _TRAITS.items()}

_MODIFIERS = {
    "CRITICAL_LIMIT": "Extraction is close to what the site can bear; more may destabilise it.",
    "UNSTABLE": "Over-extraction destabilised the site: yields are reduced until it recovers.",
}
MODIFIERS = {symbol: TraitSpec(symbol, description) for symbol, description in _MODIFIERS.items()}

# --- factions ---------------------------------------------------------------------------------

# Every faction symbol the API knows; only those in FACTIONS have a home in the simulator.
ALL_FACTION_SYMBOLS = (
    "COSMIC",
    "VOID",
    "GALACTIC",
    "QUANTUM",
    "DOMINION",
    "ASTRO",
    "CORSAIRS",
    "OBSIDIAN",
    "AEGIS",
    "UNITED",
    "SOLITARY",
    "COBALT",
    "OMEGA",
    "ECHO",
    "LORDS",
    "CULT",
    "ANCIENTS",
    "SHADOW",
    "ETHEREAL",
)

FACTIONS = {
    f.symbol: f
    for f in [
        FactionSpec(
            "COSMIC",
            "Cosmic Engineers",
            "Builders and traders who welcome newcomers.",
            ("INNOVATIVE", "BOLD", "VISIONARY", "CURIOUS"),
        ),
        FactionSpec(
            "VOID",
            "Voidfarers",
            "Nomads who prefer the dark between stars.",
            ("VISIONARY", "SMUGGLERS", "FLEETING", "ADAPTABLE"),
        ),
        FactionSpec(
            "GALACTIC",
            "Galactic Alliance",
            "A union of worlds bound by trade pacts.",
            ("COOPERATIVE", "DOMINANT", "STRATEGIC", "ESTABLISHED"),
        ),
        FactionSpec(
            "QUANTUM",
            "Quantum Federation",
            "Scholars chasing the next discovery.",
            ("INTELLIGENT", "RESEARCH_FOCUSED", "PROGRESSIVE", "TECHNOLOGICALLY_ADVANCED"),
        ),
        FactionSpec(
            "DOMINION",
            "Stellar Dominion",
            "An empire that rules by strength of arms.",
            ("MILITARISTIC", "IMPERIALISTIC", "AGGRESSIVE", "STRATEGIC"),
        ),
    ]
}

_FACTION_TRAIT_TEXT = "A defining trait of this faction."


def faction_trait_view(symbol: str) -> dict[str, Any]:
    """A faction trait as the API shows it (the simulator has one wording for all)."""
    return {"symbol": symbol, "name": _title(symbol), "description": _FACTION_TRAIT_TEXT}
