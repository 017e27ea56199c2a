"""The conductor's REST API: `create_app` builds the FastAPI app over a running
`conductor.core.Conductor`, its saturation control and the database; `extra_routers` mount the
web pages beside it. `serve_api` serves it from the conductor's body on its `api` settings."""

from conductor.api.app import API_PREFIX, create_app

__all__ = ["API_PREFIX", "create_app"]
