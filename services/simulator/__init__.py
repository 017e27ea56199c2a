"""A local SpaceTraders universe: the v2 HTTP API over a deterministic, seeded galaxy.

`simulator.app.create_app(config)` builds the ASGI app, `simulator.server.running_simulator`
serves it on a free port for tests and benchmarks, and `flotilla simulator` runs it as a
service.
"""

from flotilla.clock import Clock, ManualClock, SystemClock
from simulator.config import SimulatorConfig

__all__ = ["Clock", "ManualClock", "SimulatorConfig", "SystemClock"]
