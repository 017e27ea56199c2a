"""The `flotilla` command: `flotilla up`, `flotilla migrate`, `flotilla stats`, and one
subcommand per declared service (`flotilla.registry`), each with options generated from its
settings."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from flotilla import __version__, stats, up
from flotilla.kit.runtime import add_service_parser
from flotilla.registry import declared

__all__ = ["build_parser", "main"]

Command = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """The parser of the `flotilla` command with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="flotilla",
        description="Flotilla: fleet automation for the SpaceTraders API.",
    )
    parser.add_argument("--version", action="version", version=f"flotilla {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    up.register(subparsers)
    from flotilla.db import cli as db_cli

    db_cli.register(subparsers)
    stats.register(subparsers)
    for service in declared():
        add_service_parser(subparsers, service)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `flotilla` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Command = args.func
    return func(args)


if __name__ == "__main__":
    sys.exit(main())
