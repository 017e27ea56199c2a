"""The API's routes, one module per area; each handler is a thin call into `simulator.actions`."""

__all__: list[str] = []
