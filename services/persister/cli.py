"""`flotilla persister` and `flotilla migrate`, and the persister's part in `flotilla up`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any, TextIO

from flotilla.local_servers import free_port
from flotilla.runner import EXIT_BAD_SETTINGS, EXIT_FAILED, EXIT_OK, run_service
from flotilla.settings import DatabaseSettings, SettingsError, load_settings
from flotilla.up import ChildSpec, LocalStack


def run_persister(args: argparse.Namespace) -> int:
    from persister.service import main
    from persister.settings import PersisterSettings

    return run_service("persister", PersisterSettings, main)


def run_migrate(args: argparse.Namespace) -> int:
    from persister import migrate

    url = args.database_url
    if not url:
        try:
            url = load_settings(DatabaseSettings).database_url
        except SettingsError as exc:
            print(f"migrate: {exc}", file=sys.stderr)
            return EXIT_BAD_SETTINGS
    try:
        migrate.upgrade(url, args.revision)
    except Exception as exc:
        print(f"migrate: failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"migrate: the schema is at {args.revision}")
    return EXIT_OK


def register(subparsers: Any) -> None:
    persister = subparsers.add_parser(
        "persister",
        help="write events from JetStream to PostgreSQL (batched, dirty-only upserts)",
        description="Run the persister: the single writer to PostgreSQL. Configured by "
        "FLOTILLA_* environment variables (see README).",
    )
    persister.set_defaults(func=run_persister)

    migrate = subparsers.add_parser(
        "migrate",
        help="create or upgrade the database schema (run once before the services)",
        description="Apply the Alembic migrations to FLOTILLA_DATABASE_URL.",
    )
    migrate.add_argument(
        "--database-url", default="", help="database to migrate (default: FLOTILLA_DATABASE_URL)"
    )
    migrate.add_argument("--revision", default="head", help="target revision (default: head)")
    migrate.set_defaults(func=run_migrate)


def up_specs(stack: LocalStack, args: argparse.Namespace) -> list[ChildSpec]:
    """One persister for `flotilla up`, its metrics on a free port."""
    port = free_port()
    return [
        ChildSpec(
            name="persister",
            args=["persister"],
            env={"FLOTILLA_PERSISTER_METRICS_PORT": str(port)},
            where=f"metrics http://127.0.0.1:{port}/metrics",
        )
    ]


async def up_prepare(stack: LocalStack, out: TextIO) -> None:
    """Migrate the local database before any service starts."""
    from persister import migrate

    out.write("migrating the database schema ...\n")
    out.flush()
    await asyncio.to_thread(migrate.upgrade, stack.database_url)
