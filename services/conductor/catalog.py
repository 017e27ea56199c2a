"""What a fleet plan may name: the game's ship types (with the frame and registration role that
tell a ship's type from its state), its mounts, and the dispatcher's behaviours.

The conductor cannot import the dispatcher (services share only `flotilla`), so the behaviour
names are spelled here; a test checks they are exactly the dispatcher's.
"""

from __future__ import annotations

from typing import Final

__all__ = ["AUTO", "BEHAVIOURS", "IDLE", "MOUNTS", "SHIP_TYPES", "UPGRADE", "ship_type_of"]

AUTO: Final = "auto"
IDLE: Final = "idle"
UPGRADE: Final = "upgrade"

# Ship type -> (frame, registration role), as the API shows a ship of that type.
SHIP_TYPES: Final[dict[str, tuple[str, str]]] = {
    "SHIP_PROBE": ("FRAME_PROBE", "SATELLITE"),
    "SHIP_MINING_DRONE": ("FRAME_DRONE", "EXCAVATOR"),
    "SHIP_SIPHON_DRONE": ("FRAME_DRONE", "EXCAVATOR"),
    "SHIP_SURVEYOR": ("FRAME_DRONE", "SURVEYOR"),
    "SHIP_INTERCEPTOR": ("FRAME_INTERCEPTOR", "INTERCEPTOR"),
    "SHIP_LIGHT_SHUTTLE": ("FRAME_SHUTTLE", "TRANSPORT"),
    "SHIP_LIGHT_HAULER": ("FRAME_LIGHT_FREIGHTER", "HAULER"),
    "SHIP_ORE_HOUND": ("FRAME_MINER", "EXCAVATOR"),
    "SHIP_COMMAND_FRIGATE": ("FRAME_FRIGATE", "COMMAND"),
    "SHIP_EXPLORER": ("FRAME_EXPLORER", "EXPLORER"),
    "SHIP_HEAVY_FREIGHTER": ("FRAME_HEAVY_FREIGHTER", "HAULER"),
    "SHIP_REFINING_FREIGHTER": ("FRAME_HEAVY_FREIGHTER", "REFINERY"),
    "SHIP_BULK_FREIGHTER": ("FRAME_BULK_FREIGHTER", "HAULER"),
}

MOUNTS: Final = frozenset(
    {
        "MOUNT_GAS_SIPHON_I",
        "MOUNT_GAS_SIPHON_II",
        "MOUNT_GAS_SIPHON_III",
        "MOUNT_SURVEYOR_I",
        "MOUNT_SURVEYOR_II",
        "MOUNT_SURVEYOR_III",
        "MOUNT_SENSOR_ARRAY_I",
        "MOUNT_SENSOR_ARRAY_II",
        "MOUNT_SENSOR_ARRAY_III",
        "MOUNT_MINING_LASER_I",
        "MOUNT_MINING_LASER_II",
        "MOUNT_MINING_LASER_III",
        "MOUNT_LASER_CANNON_I",
        "MOUNT_MISSILE_LAUNCHER_I",
        "MOUNT_TURRET_I",
    }
)

BEHAVIOURS: Final = frozenset(
    {"mine", "survey", "sell", "haul", "trade", "explore", "probe", "upgrade", "contract", "idle"}
)


def ship_type_of(frame: str, role: str, mounts: tuple[str, ...] = ()) -> str:
    """The ship type of a ship with this frame, registration role and mounts ("" if unknown):
    the frame tells most types; the role tells apart types sharing a frame, and a gas siphon
    tells the siphon drone from the mining drone."""
    by_frame = [t for t, (f, _) in SHIP_TYPES.items() if f == frame]
    if len(by_frame) == 1:
        return by_frame[0]
    by_role = [t for t in by_frame if SHIP_TYPES[t][1] == role]
    if len(by_role) == 1:
        return by_role[0]
    if set(by_role) == {"SHIP_MINING_DRONE", "SHIP_SIPHON_DRONE"}:
        siphons = any(m.startswith("MOUNT_GAS_SIPHON") for m in mounts)
        return "SHIP_SIPHON_DRONE" if siphons else "SHIP_MINING_DRONE"
    return ""
