"""Which ships this node drives, kept in step with membership, assignments and leases.

The ships to drive are the assigned ships whose rendezvous owner, over the live nodes, is this
node. Reconciling (on every change of membership or assignments, and every
`acquire_interval`):

- a ship this node should drive and does not: try its lease (one batched write for all of them);
  taken, its task starts. A lease still held elsewhere (its old owner finishing a step, or a
  dead owner's lease not lapsed yet) is simply tried again next time.
- a ship this node drives but should not any more: its task finishes its current step, then the
  lease is released, so the new owner takes it within one acquire interval.

Independently, every held lease is renewed once every `renew_interval`, in slices spread over
it (see `leases`); a lease found lost, or past its local deadline, has its task cancelled at
once: the node stops driving the ship before the server can let the lease lapse.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
from collections.abc import Callable

from dispatcher.assignments import Assignment, AssignmentBook
from dispatcher.leases import RENEWAL_SLICES, Lease, LeaseTable
from dispatcher.membership import Membership
from dispatcher.metrics import DispatcherMetrics
from dispatcher.rendezvous import owner
from dispatcher.runner import FleetServices, ShipRunner

__all__ = ["Ownership"]

log = logging.getLogger("dispatcher.ownership")


class Ownership:
    """The node's ships: their leases and their tasks."""

    def __init__(
        self,
        *,
        node: str,
        membership: Membership,
        assignments: AssignmentBook,
        leases: LeaseTable,
        services: FleetServices,
        metrics: DispatcherMetrics,
        renew_interval: float,
        acquire_interval: float,
        stop_grace: float,
    ) -> None:
        self.node = node
        self.membership = membership
        self.assignments = assignments
        self.leases = leases
        self.services = services
        self.metrics = metrics
        self.renew_interval = renew_interval
        self.acquire_interval = acquire_interval
        self.stop_grace = stop_grace
        self.runners: dict[str, ShipRunner] = {}
        self._handing_over: dict[str, asyncio.Task[None]] = {}
        # Ships whose task ended since the last reap (so that a reap looks at those, not at
        # every ship: at ten thousand ships a full scan held the loop ~20 ms per reconcile).
        self._ended: set[str] = set()
        self._changed = asyncio.Event()
        self._changed.set()
        self.reconciled = asyncio.Event()
        self.on_started: list[Callable[[ShipRunner], None]] = []
        # The ships this node should drive, kept up to date: recomputed in full (one hash per
        # ship and node) only when membership changes, per ship when an assignment does.
        self._desired: set[str] = set()
        self._recompute = True
        membership.on_change(self._membership_changed)
        assignments.on_change(self._assignment_changed)

    # --- what to own -------------------------------------------------------------------------

    def desired(self) -> set[str]:
        """The ships this node should drive now."""
        if self.membership.draining:
            return set()
        if self._recompute:
            nodes = self.membership.live_nodes()
            self._desired = {s for s in self.assignments.ships() if owner(s, nodes) == self.node}
            self._recompute = False
        return self._desired

    def _membership_changed(self) -> None:
        self._recompute = True
        self._changed.set()

    def _assignment_changed(self, ship: str, assignment: Assignment | None) -> None:
        runner = self.runners.get(ship)
        if runner is not None:
            runner.assign(assignment)
        if not self._recompute:
            if assignment is not None and owner(ship, self.membership.live_nodes()) == self.node:
                self._desired.add(ship)
            else:
                self._desired.discard(ship)
        self._changed.set()

    # --- reconciling -------------------------------------------------------------------------

    async def reconcile(self) -> None:
        """Start and stop ships so that this node drives exactly the ships it should."""
        self._reap()
        desired = self.desired()
        for ship in self.runners.keys() - desired:
            if ship not in self._handing_over:
                self._handing_over[ship] = asyncio.create_task(self._hand_over(ship))
        wanted = [
            s
            for s in desired
            if s not in self.runners and s not in self._handing_over and s not in self.leases.held
        ]
        if wanted:
            taken = await self.leases.acquire(wanted)
            for lease in taken:
                self.metrics.leases.labels("acquired").inc()
                self._start(lease)
        self.metrics.ships_owned.set(len(self.runners))
        self.reconciled.set()

    def _start(self, lease: Lease) -> None:
        if self.membership.draining or lease.ship not in self.assignments.assignments:
            # Things changed while the write was out: give it straight back.
            self._handing_over[lease.ship] = asyncio.create_task(self._release(lease.ship))
            return
        runner = ShipRunner(lease, self.assignments.get(lease.ship), self.services)
        self.runners[lease.ship] = runner
        runner.start().add_done_callback(functools.partial(self._task_ended, lease.ship))
        for listener in self.on_started:
            listener(runner)

    def _task_ended(self, ship: str, _task: asyncio.Task[None]) -> None:
        self._ended.add(ship)

    def _reap(self) -> None:
        """Forget tasks that ended by themselves (lease expired, fenced) and their leases."""
        ended, self._ended = self._ended, set()
        for ship in ended:
            runner = self.runners.get(ship)
            if runner is None or runner.task is None or not runner.task.done():
                continue  # handed over already, or driven again by a newer task
            if ship in self._handing_over:
                continue
            self.runners.pop(ship)
            if ship in self.leases.held and not runner.lease.usable(
                self.services.clock.monotonic()
            ):
                # The task stopped itself because the lease could lapse: lost, like a
                # renewal the server refused.
                self.leases.held.pop(ship, None)
                self.metrics.leases.labels("lost").inc()
            elif ship in self.leases.held:
                self._handing_over[ship] = asyncio.create_task(self._release(ship))

    async def _release(self, ship: str) -> None:
        try:
            released = await self.leases.release([ship])
            self.metrics.leases.labels("released").inc(released)
        finally:
            self._handing_over.pop(ship, None)
            self._changed.set()

    async def _hand_over(self, ship: str) -> None:
        """Let the ship finish its step, then release its lease."""
        try:
            runner = self.runners.get(ship)
            if runner is not None:
                await self._stop_runner(runner)
                self.runners.pop(ship, None)
            released = await self.leases.release([ship])
            self.metrics.leases.labels("released").inc(released)
        finally:
            self._handing_over.pop(ship, None)
            self._changed.set()

    async def _stop_runner(self, runner: ShipRunner) -> None:
        runner.request_stop()
        if runner.task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(runner.task), self.stop_grace)
        except TimeoutError:
            log.warning(
                "%s: step did not finish in %.1fs: cancelling", runner.symbol, self.stop_grace
            )
            runner.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await runner.task
        except Exception:
            log.exception("%s: task failed", runner.symbol)

    def kill(self, ship: str) -> None:
        """Stop driving `ship` at once (its lease is lost)."""
        runner = self.runners.pop(ship, None)
        self.leases.held.pop(ship, None)
        if runner is not None and runner.task is not None:
            runner.task.cancel()
        self._changed.set()

    # --- loops -------------------------------------------------------------------------------

    async def run_reconcile(self, stopping: asyncio.Event) -> None:
        """Reconcile on every change and at least every acquire interval."""
        while not stopping.is_set():
            self._changed.clear()
            try:
                await self.reconcile()
            except Exception:
                log.exception("reconciling ownership failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), self.acquire_interval)

    async def run_renewals(self, stopping: asyncio.Event) -> None:
        """Renew every held lease each renew interval, a slice at a time spread over it (on a
        fixed beat: a slow batch delays the next, it does not shift them all); stop the ships
        of lost ones."""
        loop = asyncio.get_running_loop()
        beat = self.renew_interval / RENEWAL_SLICES
        due = loop.time()
        for slice_ in itertools.cycle(range(RENEWAL_SLICES)):
            due += beat
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), max(0.0, due - loop.time()))
            if stopping.is_set():
                return
            due = max(due, loop.time() - beat)  # far behind: catch up, not burst
            await self.renew_once(slice_)

    async def renew_once(self, slice_: int | None = None) -> None:
        """One renewal batch: every held lease, or those of one slice."""
        due = self.leases.due(slice_)
        try:
            lost = await self.leases.renew(due)
        except Exception:
            log.exception("lease renewal failed")
            lost = self.leases.overdue()
        self.metrics.leases.labels("renewed").inc(max(0, len(due) - len(lost)))
        for lease in lost:
            log.warning("%s: lease lost", lease.ship)
            self.metrics.leases.labels("lost").inc()
            self.kill(lease.ship)

    async def release_all(self) -> None:
        """On stop: every ship finishes its step, then every lease is released."""
        await asyncio.gather(
            *(self._stop_runner(r) for r in list(self.runners.values())), return_exceptions=True
        )
        self.runners.clear()
        for task in list(self._handing_over.values()):
            with contextlib.suppress(Exception):
                await task
        ships = list(self.leases.held)
        released = await self.leases.release(ships)
        self.metrics.leases.labels("released").inc(released)
        self.metrics.ships_owned.set(0)
