"""A Prometheus registry per service instance (so that tests and benchmarks can run several
services in one process), with gauges refreshed from live state when `/metrics` is scraped."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, generate_latest

__all__ = ["MetricsRegistry"]


class MetricsRegistry:
    """A service's metrics: a `CollectorRegistry` plus refreshers run before every scrape."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._refreshers: list[Callable[[], None]] = []

    def on_scrape(self, refresh: Callable[[], None]) -> None:
        """Run `refresh` before every exposition (for gauges computed from live state)."""
        self._refreshers.append(refresh)

    def exposition(self) -> bytes:
        """The metrics in the Prometheus text format."""
        for refresh in self._refreshers:
            refresh()
        return generate_latest(self.registry)
