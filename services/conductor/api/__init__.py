"""The conductor's REST API: `create_app` builds the FastAPI app over the running conductor
(`ConductorControl`) and the database; `extra_routers` mount pages beside it."""

from conductor.api.app import API_PREFIX, create_app
from conductor.api.control import ConductorControl, DryRun, Override, PauseState, PlanRevision

__all__ = [
    "API_PREFIX",
    "ConductorControl",
    "DryRun",
    "Override",
    "PauseState",
    "PlanRevision",
    "create_app",
]
