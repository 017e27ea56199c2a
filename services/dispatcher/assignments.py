"""The ship assignments the conductor writes to the assignments bucket, as this node sees them.

The contract: key = ship symbol, value = a `ShipAssignment`; `behaviour` names one of
`dispatcher.behaviours.BEHAVIOURS`, `waypoint_symbol` binds it to a place (the asteroid, the
market, the shipyard), `mount_spec` is the upgrade target, `params` are the behaviour's options
(each behaviour lists the ones it reads), and `parked` keeps the ship idle. Deleting the key
leaves the ship unassigned: nobody drives it and it makes no calls.

One watcher over the whole bucket feeds every ship (no watcher per ship). A value that cannot
be decoded, or that names an unknown behaviour, is sent to the dispatcher's dead-letter subject
with its reason, and that ship is treated as unassigned.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from nats.js import JetStreamContext

from dispatcher.events import Publisher
from flotilla import names
from flotilla.timestamps import to_timestamp
from flotilla.v1.cluster_pb2 import DeadLetter
from flotilla.v1.fleet_pb2 import ShipAssignment
from flotilla.watching import watch_bucket

__all__ = ["Assignment", "AssignmentBook"]

log = logging.getLogger("dispatcher.assignments")


@dataclass(frozen=True, slots=True)
class Assignment:
    """What one ship should do, as decoded from its `ShipAssignment`."""

    ship: str
    behaviour: str
    waypoint: str = ""
    mount_spec: tuple[str, ...] = ()
    params: Mapping[str, str] = field(default_factory=dict)
    parked: bool = False
    revision: int = 0

    @property
    def effective_behaviour(self) -> str:
        """The behaviour to run: `idle` while parked."""
        return "idle" if self.parked else self.behaviour

    def same_work(self, other: Assignment | None) -> bool:
        """True when `other` asks for the same work (a rewrite with no change is no change)."""
        return other is not None and (
            self.effective_behaviour,
            self.waypoint,
            self.mount_spec,
            dict(self.params),
        ) == (other.effective_behaviour, other.waypoint, other.mount_spec, dict(other.params))


class AssignmentBook:
    """Every ship's current assignment, kept up to date by one watcher."""

    def __init__(
        self,
        js: JetStreamContext,
        *,
        known_behaviours: frozenset[str],
        publisher: Publisher,
        clock_now: Callable[[], object],
    ) -> None:
        self._js = js
        self._known = known_behaviours
        self._publisher = publisher
        self._now = clock_now
        self.assignments: dict[str, Assignment] = {}
        self._listeners: list[Callable[[str, Assignment | None], None]] = []
        self.synced = asyncio.Event()

    def on_change(self, listener: Callable[[str, Assignment | None], None]) -> None:
        """Call `listener(ship, assignment or None)` for every change of an assignment."""
        self._listeners.append(listener)

    def get(self, ship: str) -> Assignment | None:
        """`ship`'s assignment (None: unassigned)."""
        return self.assignments.get(ship)

    def ships(self) -> list[str]:
        """Every assigned ship."""
        return list(self.assignments)

    def decode(self, key: str, value: bytes, revision: int) -> Assignment | str:
        """The assignment under `key`, or the reason it is refused."""
        try:
            message = ShipAssignment.FromString(value)
        except Exception:
            return "not a flotilla.v1.ShipAssignment"
        if message.ship_symbol and message.ship_symbol != key:
            return f"ship_symbol {message.ship_symbol!r} differs from the key {key!r}"
        if message.behaviour not in self._known:
            return (
                f"unknown behaviour {message.behaviour!r} (known: {', '.join(sorted(self._known))})"
            )
        return Assignment(
            ship=key,
            behaviour=message.behaviour,
            waypoint=message.waypoint_symbol,
            mount_spec=tuple(message.mount_spec),
            params=dict(message.params),
            parked=message.parked,
            revision=revision,
        )

    def _dead_letter(self, key: str, value: bytes, reason: str) -> None:
        log.warning("assignment of %s refused: %s", key, reason)
        letter = DeadLetter(
            subject=f"$KV.{names.ASSIGNMENTS_BUCKET}.{key}",
            payload=value,
            reason=reason,
            consumer=names.DISPATCHER_SOURCE,
        )
        letter.failed_at.CopyFrom(to_timestamp(self._now()))  # type: ignore[arg-type]
        self._publisher.event(
            names.dead_letter_subject(names.DISPATCHER_SOURCE), letter, str(uuid.uuid4())
        )

    def apply(self, key: str, value: bytes | None, revision: int) -> None:
        """Take one update of the bucket (None or empty value: the key was deleted)."""
        new: Assignment | None = None
        if value:
            decoded = self.decode(key, value, revision)
            if isinstance(decoded, str):
                self._dead_letter(key, value, decoded)
            else:
                new = decoded
        old = self.assignments.get(key)
        if new is None:
            if old is None:
                return
            del self.assignments[key]
        else:
            self.assignments[key] = new
            if new.same_work(old):
                return
        for listener in self._listeners:
            listener(key, new)

    async def run(self, stopping: asyncio.Event) -> None:
        """Watch the bucket until `stopping` is set."""
        await watch_bucket(self._js, names.ASSIGNMENTS_BUCKET, self.apply, stopping, self.synced)
