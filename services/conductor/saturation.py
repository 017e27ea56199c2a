"""Saturation control: notice when the fleet asks for more requests than the rate limit gives,
and scale down until the top priority class is served promptly again.

The load is read from the gateway's request-log events (`RequestLog` on the events stream: the
queue wait per priority class and the HTTP attempts of every answered call), so the conductor
needs no code of the gateway's and sees what the gateway measured. `LoadMonitor` keeps the
last `window_seconds` of them; `SaturationController` decides, on an injected clock:

- **Oversaturated**: the top class's mean queue wait is above `wait_threshold_seconds` *and*
  utilisation (attempts per minute against `requests_per_minute`) is at least
  `utilisation_threshold`, continuously for `sustain_seconds`. Then purchases are paused and
  the `park_step` lowest-earning running ships are parked; while the top class still waits
  above its threshold, `settle_seconds` after each step, the next lowest are parked.
- **Holding**: once the wait is under the threshold, nothing more is parked, and parked ships
  stay parked (the load they would add is what caused the wait).
- **Headroom**: the wait is under `resume_wait_seconds` and utilisation under
  `resume_utilisation` (both below the thresholds that park: hysteresis) continuously for
  `headroom_seconds`. Then the best-earning parked ship is unparked, one step per
  `settle_seconds` while headroom lasts; when none is parked any more, purchases resume.
- Ships that left the fleet, or that the plan no longer runs, drop out of the parked set
  (`forget`).

Every decision carries its reason and the figures behind it; the controller keeps the latest
ones (for the API) and logs each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from google.protobuf.message import DecodeError
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import Field, model_validator

from flotilla.clock import Clock
from flotilla.names import REQUEST_LOG_SUBJECT
from flotilla.semconv import COOLDOWN_START, priority_name
from flotilla.settings import Section
from flotilla.v1 import events_pb2

__all__ = [
    "DEFAULT_TOP_CLASS",
    "Action",
    "CallSample",
    "Decision",
    "Load",
    "LoadMonitor",
    "RequestLogFeed",
    "SaturationController",
    "SaturationLoop",
    "SaturationSection",
    "sample_from_event",
]

if TYPE_CHECKING:
    from conductor.core import Conductor

log = logging.getLogger("conductor.saturation")

DEFAULT_TOP_CLASS: Final = priority_name(COOLDOWN_START)


class SaturationSection(Section):
    """When the conductor decides the fleet asks for more requests than the limit gives, and
    how it scales down and back up."""

    enabled: bool = Field(default=True, description="park ships and pause purchases when saturated")
    top_class: str = Field(
        default=DEFAULT_TOP_CLASS, description="the priority class whose queue wait is watched"
    )
    window_seconds: float = Field(
        default=60.0, gt=0, description="the calls the load is measured over (the latest)"
    )
    requests_per_minute: float = Field(
        default=150.0, gt=0, description="the rate limit in HTTP requests per minute"
    )
    wait_threshold_seconds: float = Field(
        default=1.0, gt=0, description="the top class's mean queue wait above which it suffers"
    )
    utilisation_threshold: float = Field(
        default=0.9, gt=0, description="utilisation (of the limit) at which the limit is reached"
    )
    resume_wait_seconds: float = Field(
        default=0.25, ge=0, description="the top class's mean wait under which there is headroom"
    )
    resume_utilisation: float = Field(
        default=0.75, ge=0, description="utilisation under which there is headroom"
    )
    sustain_seconds: float = Field(
        default=60.0, ge=0, description="how long saturation lasts before ships are parked"
    )
    headroom_seconds: float = Field(
        default=120.0, ge=0, description="how long headroom lasts before a ship is unparked"
    )
    settle_seconds: float = Field(
        default=30.0, ge=0, description="the wait after each park or unpark step before the next"
    )
    park_step: int = Field(default=1, ge=1, description="most ships parked or unparked per step")
    park_fraction: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="or this share of the running ships per step, if that is more",
    )
    min_running: int = Field(
        default=1, ge=0, description="ships never parked: at least this many keep running"
    )
    decisions_kept: int = Field(
        default=200, ge=1, description="decisions kept in memory for the API"
    )
    interval_seconds: float = Field(
        default=5.0, gt=0, description="how often the leader looks at the load and decides"
    )
    earnings_window_seconds: float = Field(
        default=3600.0, gt=0, description="the window of earnings that ranks ships for parking"
    )

    @model_validator(mode="after")
    def _hysteresis(self) -> SaturationSection:
        if self.resume_wait_seconds >= self.wait_threshold_seconds:
            raise ValueError("resume_wait_seconds must be below wait_threshold_seconds")
        if self.resume_utilisation >= self.utilisation_threshold:
            raise ValueError("resume_utilisation must be below utilisation_threshold")
        return self


# --- the load ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallSample:
    """One answered call: when it finished (wall-clock seconds), its class, queue wait and the
    HTTP requests it sent."""

    at: float
    priority: str
    queued_seconds: float
    attempts: int


def sample_from_event(event: events_pb2.RequestLog) -> CallSample:
    """The sample of one request-log event."""
    return CallSample(
        at=event.timestamp.ToNanoseconds() / 1e9,
        priority=priority_name(event.priority),
        queued_seconds=max(event.queued_ms, 0.0) / 1000,
        attempts=max(event.attempts, 0),
    )


@dataclass(frozen=True)
class Load:
    """The load over the latest window: the top class's mean queue wait (None when it made no
    call), its calls, every class's HTTP requests, and utilisation of the limit."""

    top_class_wait: float | None
    top_class_calls: int
    requests: int
    utilisation: float

    def describe(self) -> str:
        """`top class wait 3.20 s over 41 calls, utilisation 0.98 (147 requests)`."""
        wait = "none" if self.top_class_wait is None else f"{self.top_class_wait:.2f} s"
        return (
            f"top class wait {wait} over {self.top_class_calls} calls, "
            f"utilisation {self.utilisation:.2f} ({self.requests} requests)"
        )


class LoadMonitor:
    """The calls of the latest window, by the time they finished."""

    def __init__(self, settings: SaturationSection) -> None:
        self.settings = settings
        self._samples: deque[CallSample] = deque()

    def record(self, sample: CallSample) -> None:
        """Add one call (calls may arrive slightly out of order)."""
        self._samples.append(sample)

    def load(self, now: float) -> Load:
        """The load over `[now - window, now]` (wall-clock seconds); older calls are dropped."""
        start = now - self.settings.window_seconds
        while self._samples and self._samples[0].at < start:
            self._samples.popleft()
        current = [s for s in self._samples if start <= s.at <= now]
        top = [s for s in current if s.priority == self.settings.top_class]
        requests = sum(s.attempts for s in current)
        per_window = self.settings.requests_per_minute * self.settings.window_seconds / 60
        return Load(
            top_class_wait=sum(s.queued_seconds for s in top) / len(top) if top else None,
            top_class_calls=len(top),
            requests=requests,
            utilisation=requests / per_window,
        )


class RequestLogFeed:
    """Feeds a `LoadMonitor` from the request-log events as the gateway publishes them (a plain
    subscription to their subject: a sample missed while the conductor was away does not matter,
    so no consumer state is kept). An undecodable event is counted and skipped: the persister,
    which consumes the stream, is the one that dead-letters it."""

    def __init__(self, monitor: LoadMonitor) -> None:
        self.monitor = monitor
        self.received = 0
        self.undecodable = 0
        self._subscription: Subscription | None = None

    async def start(self, nc: NatsClient) -> None:
        """Subscribe to the request-log subject."""
        self._subscription = await nc.subscribe(REQUEST_LOG_SUBJECT, cb=self._on_message)

    async def stop(self) -> None:
        """Unsubscribe (safe to call twice)."""
        if self._subscription is not None:
            subscription, self._subscription = self._subscription, None
            await subscription.unsubscribe()

    async def _on_message(self, msg: Msg) -> None:
        event = events_pb2.RequestLog()
        try:
            event.ParseFromString(msg.data)
        except DecodeError:
            self.undecodable += 1
            return
        self.received += 1
        self.monitor.record(sample_from_event(event))


# --- the decisions ----------------------------------------------------------------------------


class Action(StrEnum):
    """What a decision did."""

    PAUSE_PURCHASES = "pause_purchases"
    PARK = "park"
    UNPARK = "unpark"
    RESUME_PURCHASES = "resume_purchases"


@dataclass(frozen=True)
class Decision:
    """One saturation decision with its reason and the figures behind it."""

    at: datetime
    action: Action
    ships: tuple[str, ...]
    reason: str
    top_class_wait: float | None
    utilisation: float


@dataclass(frozen=True)
class _Parked:
    reason: str
    credits_per_hour: float


@dataclass
class _State:
    saturated_since: float | None = None
    headroom_since: float | None = None
    last_step: float | None = None
    purchases_paused: bool = False
    parked: dict[str, _Parked] = field(default_factory=dict)


class SaturationController:
    """Decides parking and purchase pauses from the load and the ships' earnings.

    Call `decide` periodically with the load, the ships that run now (not parked) and the
    credits per hour each earned lately; apply what it returns (the parked set is `parked`).
    """

    def __init__(self, settings: SaturationSection, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self._state = _State()
        self.decisions: deque[Decision] = deque(maxlen=settings.decisions_kept)

    @property
    def purchases_paused(self) -> bool:
        """True while saturation control holds purchases."""
        return self._state.purchases_paused

    @property
    def parked(self) -> Mapping[str, str]:
        """Ships parked by saturation control, with the reason each was parked."""
        return {ship: parked.reason for ship, parked in self._state.parked.items()}

    def adopt(self, ship: str, reason: str) -> None:
        """Take over a ship parked before (by an earlier leader), with its reason; purchases
        stay held while any ship is parked."""
        self._state.parked.setdefault(ship, _Parked(reason, 0.0))
        self._state.purchases_paused = True

    def forget(self, ships: Iterable[str]) -> None:
        """Drop ships that no longer exist or that no role runs from the parked set."""
        for ship in ships:
            self._state.parked.pop(ship, None)

    def release(self, ships: Iterable[str], reason: str, load: Load) -> Decision | None:
        """Unpark `ships` at once, for `reason` (no role runs them any more, or they left the
        fleet); the decision, or None when none of them was parked."""
        freed = [ship for ship in ships if ship in self._state.parked]
        if not freed:
            return None
        self.forget(freed)
        return self._record(Action.UNPARK, freed, reason, load)

    def _is_saturated(self, load: Load) -> bool:
        s = self.settings
        return (
            load.top_class_wait is not None
            and load.top_class_wait > s.wait_threshold_seconds
            and load.utilisation >= s.utilisation_threshold
        )

    def _has_headroom(self, load: Load) -> bool:
        s = self.settings
        wait_ok = load.top_class_wait is None or load.top_class_wait < s.resume_wait_seconds
        return wait_ok and load.utilisation < s.resume_utilisation

    def _settled(self, now: float) -> bool:
        last = self._state.last_step
        return last is None or now - last >= self.settings.settle_seconds

    def _step_size(self, running: int) -> int:
        s = self.settings
        return max(s.park_step, math.ceil(s.park_fraction * running))

    def _record(self, action: Action, ships: Iterable[str], reason: str, load: Load) -> Decision:
        decision = Decision(
            at=self.clock.now().astimezone(UTC),
            action=action,
            ships=tuple(ships),
            reason=reason,
            top_class_wait=load.top_class_wait,
            utilisation=load.utilisation,
        )
        self.decisions.append(decision)
        log.info(
            "saturation: %s %s: %s",
            action.value,
            ", ".join(decision.ships) or "-",
            reason,
            extra={
                "saturation_action": action.value,
                "ships": list(decision.ships),
                "top_class_wait": load.top_class_wait,
                "utilisation": load.utilisation,
            },
        )
        return decision

    def decide(self, load: Load, earnings: Mapping[str, float]) -> list[Decision]:
        """The decisions for now. `earnings` has every ship that runs now (parked ones are left
        out, or ignored) and the credits per hour it earned lately (0 when unknown)."""
        if not self.settings.enabled:
            return []
        s = self.settings
        state = self._state
        now = self.clock.monotonic()
        made: list[Decision] = []

        if self._is_saturated(load):
            state.headroom_since = None
            if state.saturated_since is None:
                state.saturated_since = now
        else:
            state.saturated_since = None
        if self._has_headroom(load):
            if state.headroom_since is None:
                state.headroom_since = now
        else:
            state.headroom_since = None

        since = state.saturated_since
        if since is not None and now - since >= s.sustain_seconds:
            reason = (
                f"oversaturated for {now - since:.0f} s: {load.describe()}; "
                f"thresholds {s.wait_threshold_seconds:.2f} s and {s.utilisation_threshold:.2f}"
            )
            if not state.purchases_paused:
                state.purchases_paused = True
                made.append(self._record(Action.PAUSE_PURCHASES, (), reason, load))
            running = sorted(
                (cph, ship) for ship, cph in earnings.items() if ship not in state.parked
            )
            room = max(len(running) - s.min_running, 0)
            if room and self._settled(now):
                chosen = running[: min(self._step_size(len(running)), room)]
                for cph, ship in chosen:
                    state.parked[ship] = _Parked(
                        f"{reason}; among the lowest earning at {cph:,.0f} credits per hour", cph
                    )
                state.last_step = now
                listed = ", ".join(f"{ship} {cph:,.0f}/h" for cph, ship in chosen)
                made.append(
                    self._record(
                        Action.PARK,
                        [ship for _, ship in chosen],
                        f"{reason}; lowest earning: {listed}",
                        load,
                    )
                )
            return made

        since = state.headroom_since
        if since is None or now - since < s.headroom_seconds:
            return made
        reason = (
            f"headroom for {now - since:.0f} s: {load.describe()}; "
            f"resume under {s.resume_wait_seconds:.2f} s and {s.resume_utilisation:.2f}"
        )
        if state.parked and self._settled(now):
            best = sorted(
                state.parked, key=lambda ship: (-state.parked[ship].credits_per_hour, ship)
            )
            freed = best[: self._step_size(len(state.parked) + len(earnings))]
            for ship in freed:
                del state.parked[ship]
            state.last_step = now
            made.append(self._record(Action.UNPARK, freed, f"{reason}; best earning first", load))
        if not state.parked and state.purchases_paused:
            state.purchases_paused = False
            made.append(self._record(Action.RESUME_PURCHASES, (), reason, load))
        return made


class SaturationLoop:
    """Saturation control in a running conductor: the feed, the controller, and a loop that,
    on the leader, decides every `interval_seconds` and applies the answer — the parked set
    (with reasons) through the conductor (kept in NATS KV, so a restart or the next leader keeps
    it), the purchase hold, and each decision in the conductor's decisions log (kind
    `saturation`)."""

    KIND: Final = "saturation"

    def __init__(self, settings: SaturationSection, conductor: Conductor, clock: Clock) -> None:
        self.settings = settings
        self.conductor = conductor
        self.clock = clock
        self.monitor = LoadMonitor(settings)
        self.feed = RequestLogFeed(self.monitor)
        self.controller = SaturationController(settings, clock)
        self._restored = False

    def load(self) -> Load:
        """The load now."""
        return self.monitor.load(self.clock.time())

    async def _earnings(self) -> dict[str, float]:
        """Net credits per hour of every ship that runs a behaviour now (not idle, not parked)."""
        from flotilla.db.analytics import earnings_by_ship

        running = [
            info.symbol
            for info in self.conductor.list_ships()
            if info.behaviour and info.behaviour != "idle" and not info.parked
        ]
        async with self.conductor.pool.connection() as conn:
            rows = await earnings_by_ship(
                conn,
                now=self.clock.now(),
                window=timedelta(seconds=self.settings.earnings_window_seconds),
                agent=self.conductor.agent or None,
            )
        measured = {row.key: row.cph_net for row in rows}
        return {ship: measured.get(ship, 0.0) for ship in running}

    async def step(self) -> list[Decision]:
        """Decide once and apply the decisions (the leader calls this)."""
        if not self._restored:
            # The parked set survives restarts and leader changes in KV: continue from it.
            for ship, reason in self.conductor.parked.items():
                self.controller.adopt(ship, reason)
            self._restored = True
        ships = {info.symbol: info for info in self.conductor.list_ships()}
        gone = [s for s in self.controller.parked if s not in ships or not ships[s].role]
        load = self.load()
        released = self.controller.release(
            gone, "no role of the plan runs them any more (or they left the fleet)", load
        )
        decisions = [released] if released else []
        decisions += self.controller.decide(load, await self._earnings())
        self.conductor.saturation_holds_purchases = self.controller.purchases_paused
        if decisions or gone or dict(self.controller.parked) != self.conductor.parked:
            await self.conductor.set_parked(dict(self.controller.parked))
        for decision in decisions:
            await self.conductor.record(
                self.KIND,
                f"{decision.action.value}: {decision.reason}",
                ship=decision.ships[0] if len(decision.ships) == 1 else None,
                figures={
                    "action": decision.action.value,
                    "ships": list(decision.ships),
                    "top_class_wait": decision.top_class_wait,
                    "utilisation": decision.utilisation,
                },
            )
        return decisions

    async def run(self, stopping: asyncio.Event) -> None:
        """Decide every `interval_seconds` while this replica leads, until `stopping`."""
        while not stopping.is_set():
            if self.settings.enabled and self.conductor.leader.is_leader:
                try:
                    await self.step()
                except Exception:
                    log.exception("saturation step failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.settings.interval_seconds)
