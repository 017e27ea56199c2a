"""The conductor's web dashboard: fleet overview, ship detail, charts and the plan, as one
FastAPI router (`dashboard_router`) over a `DashboardSource`; `SharedSource` reads the shared
database and KV buckets directly. Every asset is served from this package (no CDN)."""

from conductor.web.router import DEFAULT_PREFIX, dashboard_router, parse_window
from conductor.web.shared import SharedSource
from conductor.web.source import DashboardSource, PlanInvalid, SourceUnavailable, UnknownShip

__all__ = [
    "DEFAULT_PREFIX",
    "DashboardSource",
    "PlanInvalid",
    "SharedSource",
    "SourceUnavailable",
    "UnknownShip",
    "dashboard_router",
    "parse_window",
]
