"""A local SpaceTraders universe: the v2 HTTP API over a deterministic, seeded galaxy, for tests,
benchmarks and the local run.

`simulator.app.create_app(config)` builds the ASGI app from a `SimulatorConfig`,
`simulator.server.running_simulator` serves it on a free port for tests and benchmarks, and
`flotilla simulator` runs it as a service of the kit (`simulator.declaration.SERVICE`).
"""

from simulator.config import SimulatorConfig

__all__ = ["SimulatorConfig"]
