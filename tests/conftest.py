"""Real servers for the tests: NATS with JetStream and PostgreSQL, from pip-installed binaries.

Each test gets its own NATS server (it starts in well under a second) and its own database on
one PostgreSQL server per test session; both live in temporary directories on free ports and
are always stopped. Set FLOTILLA_TEST_NATS_URL / FLOTILLA_TEST_DATABASE_URL to use existing
servers instead: the NATS server is then wiped of streams before each test, and each test gets
a fresh database created (and dropped) on the PostgreSQL server, so point these at servers
used only for testing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from flotilla.local_servers import NatsServer, PostgresServer

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


async def _wipe_jetstream(url: str) -> None:
    import nats

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        for stream in await js.streams_info():
            assert stream.config.name is not None
            await js.delete_stream(stream.config.name)
    finally:
        await nc.close()


@contextlib.contextmanager
def _server_dir(prefix: str) -> Iterator[Path]:
    # Not pytest's tmp_path: concurrent pytest runs prune each other's numbered base dirs, which
    # would pull a data directory from under a running server.
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def nats_url() -> AsyncIterator[str]:
    """URL of a NATS server with JetStream that has no streams or buckets yet."""
    existing = os.environ.get("FLOTILLA_TEST_NATS_URL")
    if existing:
        await _wipe_jetstream(existing)
        yield existing
        return
    with _server_dir("flotilla-nats-") as data_dir:
        server = NatsServer(data_dir)
        try:
            server.start()
            yield server.url
        finally:
            server.stop()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of the session's PostgreSQL server (its `flotilla` database)."""
    existing = os.environ.get("FLOTILLA_TEST_DATABASE_URL")
    if existing:
        yield existing
        return
    with _server_dir("flotilla-pg-") as data_dir:
        server = PostgresServer(data_dir, durable=False)
        try:
            server.start()
            yield server.url
        finally:
            server.stop()


@pytest.fixture
def database_url(postgres_url: str) -> Iterator[str]:
    """URL of a new, empty database for this test; dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(postgres_url, name)
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def shared_dir() -> Path:
    """The shared reference folder beside the repository (the official API document lives there)."""
    if not SHARED_DIR.is_dir():
        pytest.fail(f"expected the shared reference folder at {SHARED_DIR}")
    return SHARED_DIR
