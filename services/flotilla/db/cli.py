"""`flotilla migrate`: create or upgrade the database schema (before the services start; in
Kubernetes, the migration Job)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from flotilla.kit.nats import redact_url
from flotilla.kit.runtime import EXIT_BAD_SETTINGS, EXIT_FAILED, EXIT_OK
from flotilla.settings import DatabaseSettings, SettingsError, env_name, load_settings

__all__ = ["register", "run_migrate"]


def _one_line(exc: BaseException) -> str:
    """The first line of what went wrong, from the driver's own error when there is one (a
    SQLAlchemy error wraps it and adds lines of its own)."""
    cause = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    return lines[0] if lines else type(cause).__name__


def run_migrate(args: argparse.Namespace) -> int:
    """Apply the migrations to `--database-url` (or `FLOTILLA_DATABASE_URL`)."""
    from flotilla.db import migrate

    url = args.database_url
    if not url:
        try:
            url = load_settings(DatabaseSettings).database.url
        except SettingsError as exc:
            print(f"migrate: {exc}", file=sys.stderr)
            return EXIT_BAD_SETTINGS
    try:
        migrate.upgrade(url, args.revision)
    except Exception as exc:
        print(f"migrate: failed on {redact_url(url)}: {_one_line(exc)}", file=sys.stderr)
        return EXIT_FAILED
    print(f"migrate: the schema is at {args.revision}")
    return EXIT_OK


def register(subparsers: Any) -> None:
    """Add `flotilla migrate`."""
    variable = env_name(DatabaseSettings, "database", "url")
    parser = subparsers.add_parser(
        "migrate",
        help="create or upgrade the database schema (run once before the services)",
        description=f"Apply the Alembic migrations to {variable}.",
    )
    parser.add_argument(
        "--database-url", default="", help=f"database to migrate (default: {variable})"
    )
    parser.add_argument("--revision", default="head", help="target revision (default: head)")
    parser.set_defaults(func=run_migrate)
