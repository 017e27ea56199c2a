"""Every service Flotilla has, in the order `flotilla up` starts them: an explicit list of
declarations (`<package>.declaration.SERVICE`), imported when asked for."""

from __future__ import annotations

import importlib
from typing import Final

from flotilla.kit.declaration import AnyService, Service

__all__ = ["DECLARATIONS", "declared", "declared_names"]

DECLARATIONS: Final[tuple[str, ...]] = (
    "simulator.declaration",
    "gateway.declaration",
    "persister.declaration",
    "conductor.declaration",
    "dispatcher.declaration",
)


def declared() -> list[AnyService]:
    """The declaration of every service, in start order."""
    services: list[AnyService] = []
    for module_name in DECLARATIONS:
        module = importlib.import_module(module_name)
        service = module.SERVICE
        if not isinstance(service, Service):
            raise TypeError(f"{module_name}.SERVICE is not a flotilla.kit.Service")
        services.append(service)
    return services


def declared_names() -> list[str]:
    """The names of the declared services, in start order."""
    return [service.name for service in declared()]
