"""What a service contributes to `flotilla up`: the processes to start, with their arguments,
environment and the addresses they make available to the services started after them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ChildSpec", "LocalStack"]


@dataclass
class LocalStack:
    """The shared servers of a local run, and what the services started so far provide.

    `endpoints` grows as `flotilla up` starts services: the simulator adds its base URL under
    "simulator", so the gateway (started after it) can play against it without importing it.
    """

    data_dir: Path
    nats_url: str
    database_url: str
    endpoints: dict[str, str] = field(default_factory=dict)
    real_game: bool = False  # a token is configured: play the real API, not the simulator


@dataclass
class ChildSpec:
    """A process `flotilla up` runs: its name, `flotilla` arguments and extra environment."""

    name: str
    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    # What to print in the summary besides the pid and probes, e.g. a URL to open.
    where: str = ""
    # Addresses this process serves, for the services after it (see `LocalStack.endpoints`).
    provides: dict[str, str] = field(default_factory=dict)
