"""Where clients find the API: the `/v2` prefix and the base URL of a listening address.

Kept apart from the app so that `flotilla up` can name the simulator's URL without importing
the web framework.
"""

from __future__ import annotations

__all__ = ["API_PREFIX", "base_url"]

API_PREFIX = "/v2"
_WILDCARDS = ("", "0.0.0.0")


def base_url(host: str, port: int) -> str:
    """The URL clients use for the API on `host:port`, ending in `/v2`; an address that listens
    everywhere is reached through 127.0.0.1 from this machine."""
    shown = "127.0.0.1" if host in _WILDCARDS else host
    return f"http://{shown}:{port}{API_PREFIX}"
