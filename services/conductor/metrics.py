"""The conductor's Prometheus metrics: plan revision, desired and actual ships per role,
purchases by outcome, parked ships, leadership and reconcile duration."""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge, Histogram

from flotilla.metrics import MetricsRegistry
from flotilla.semconv import metric_name

__all__ = ["SERVICE_NAME", "ConductorMetrics"]

SERVICE_NAME: Final = "conductor"
_RECONCILE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _name(name: str) -> str:
    return metric_name(SERVICE_NAME, name)


class ConductorMetrics:
    """Everything the conductor measures."""

    def __init__(self, registry: MetricsRegistry) -> None:
        r = registry.registry
        self.plan_revision = Gauge(
            _name("plan_revision"), "Revision of the plan being applied.", registry=r
        )
        self.desired = Gauge(
            _name("role_desired_ships"), "Ships each role of the plan wants.", ["role"], registry=r
        )
        self.actual = Gauge(
            _name("role_actual_ships"), "Ships each role has now.", ["role"], registry=r
        )
        self.purchases = Counter(
            _name("purchases"),
            "Ship purchases by outcome: bought, refused (the API said no), unknown (no answer:"
            " the fleet is listed before buying again), expired (never sent).",
            ["outcome"],
            registry=r,
        )
        self.parked = Gauge(_name("parked_ships"), "Ships parked idle.", registry=r)
        self.leader = Gauge(
            _name("leader"), "1 while this conductor holds the leader lease.", registry=r
        )
        self.assignments_written = Counter(
            _name("assignments_written"), "Ship assignments written.", registry=r
        )
        self.reconcile_seconds = Histogram(
            _name("reconcile_seconds"),
            "Time of one reconcile pass (read the view, plan, act).",
            buckets=_RECONCILE_BUCKETS,
            registry=r,
        )
