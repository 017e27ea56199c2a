"""The `flotilla` command line: `flotilla up` plus one subcommand per service package.

A service package (`gateway`, `simulator`, ...) joins by providing a `cli` module with
`register(subparsers)`, which adds its subparser and sets `func` to a callable taking the parsed
arguments and returning an exit code. Packages that do not exist yet are simply absent.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Callable
from types import ModuleType

from flotilla import __version__

# In the order `flotilla up` starts them.
SERVICE_PACKAGES = ("simulator", "gateway", "persister", "conductor", "dispatcher")

Command = Callable[[argparse.Namespace], int]


def service_cli(package: str) -> ModuleType | None:
    """The `cli` module of service `package`, or None when that service is not installed."""
    if importlib.util.find_spec(package) is None:
        return None
    if importlib.util.find_spec(f"{package}.cli") is None:
        return None
    return importlib.import_module(f"{package}.cli")


def installed_services() -> list[str]:
    """Service packages present in this installation, in start order."""
    return [p for p in SERVICE_PACKAGES if service_cli(p) is not None]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flotilla",
        description="Flotilla: fleet automation for the SpaceTraders API.",
    )
    parser.add_argument("--version", action="version", version=f"flotilla {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    from flotilla import up

    up.register(subparsers)
    for package in SERVICE_PACKAGES:
        module = service_cli(package)
        if module is not None:
            module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `flotilla` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Command = args.func
    return func(args)


if __name__ == "__main__":
    sys.exit(main())
