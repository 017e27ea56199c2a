"""`flotilla up`: the whole system on one machine.

Takes the data folder (`.flotilla/`, one `flotilla up` at a time), starts embedded PostgreSQL
and NATS with their data there, migrates the database, then starts every declared service
(`flotilla.registry`) as a child process whose log lines are prefixed with its name, each with
its probes on a free port of 127.0.0.1. On Ctrl-C or SIGTERM it stops the services (SIGTERM,
then SIGKILL after a grace period), then both servers, and removes the files it wrote.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from flotilla.kit.local import ChildSpec, LocalStack
from flotilla.local_servers import (
    NatsServer,
    PostgresServer,
    ServerError,
    die_with_parent,
    free_port,
)
from flotilla.registry import declared
from flotilla.settings import DatabaseSettings, ServiceSettings, env_name

__all__ = [
    "DataDirInUse",
    "Supervisor",
    "command",
    "data_dir_lock",
    "print_summary",
    "register",
    "run_up",
]

SERVICE_STOP_GRACE_SECONDS = 15.0
LOCK_FILE = "up.lock"
LOCAL_HOST = "127.0.0.1"
# A token in the environment means: play the real game, not the simulator.
REAL_GAME_VARIABLES = ("FLOTILLA_SPACETRADERS_TOKEN", "FLOTILLA_SPACETRADERS_AGENT_TOKENS")


class DataDirInUse(Exception):
    """Another `flotilla up` holds the data folder."""


@contextlib.contextmanager
def data_dir_lock(data_dir: Path) -> Iterator[Path]:
    """Hold the data folder for this run (an advisory lock on `up.lock`, which records the
    pid); raise `DataDirInUse` naming the process that holds it. The file is removed after."""
    path = data_dir / LOCK_FILE
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        raise DataDirInUse(
            f"{data_dir} is in use by another flotilla up (pid {holder}); stop it first, "
            "or give this one another --data-dir"
        ) from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield path
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        handle.close()


class Supervisor:
    """Runs child processes, prefixes their output, and stops them all on request."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.children: dict[str, asyncio.subprocess.Process] = {}
        self.pumps: list[asyncio.Task[None]] = []
        self.exited = asyncio.Event()
        self.width = 12

    def emit(self, name: str, line: str) -> None:
        """Write one line of child `name`'s output, prefixed with its name."""
        self.out.write(f"{name:<{self.width}}| {line}\n")
        self.out.flush()

    async def start(self, spec: ChildSpec, base_env: dict[str, str]) -> asyncio.subprocess.Process:
        """Start `spec` as `python -m flotilla.cli <args>` with `base_env` and its own env."""
        env = {**os.environ, **base_env, **spec.env}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "flotilla.cli",
            *spec.args,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches `up` only; it stops children in order
            preexec_fn=lambda: die_with_parent(signal.SIGTERM),
        )
        self.children[spec.name] = proc
        self.pumps.append(asyncio.create_task(self._pump(spec.name, proc)))
        return proc

    async def _pump(self, name: str, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            self.emit(name, raw.decode(errors="replace").rstrip("\n"))
        code = await proc.wait()
        self.emit(name, f"exited with code {code}")
        self.exited.set()

    async def stop_all(self) -> None:
        """SIGTERM every child (newest first), wait for the grace period, then SIGKILL the rest."""
        for proc in reversed(list(self.children.values())):
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        waits = [
            asyncio.wait_for(p.wait(), SERVICE_STOP_GRACE_SECONDS) for p in self.children.values()
        ]
        results = await asyncio.gather(*waits, return_exceptions=True)
        for (name, proc), result in zip(self.children.items(), results, strict=True):
            if isinstance(result, TimeoutError):
                self.emit(name, "did not stop in time: killing")
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        await asyncio.gather(*self.pumps, return_exceptions=True)


def _with_probes(spec: ChildSpec) -> tuple[ChildSpec, str]:
    """`spec` with its probe endpoint on a free local port; and that endpoint's URL."""
    port = free_port(LOCAL_HOST)
    env = {
        env_name(ServiceSettings, "probes", "host"): LOCAL_HOST,
        env_name(ServiceSettings, "probes", "port"): str(port),
        **spec.env,
    }
    return ChildSpec(spec.name, spec.args, env, spec.where, spec.provides), (
        f"http://{LOCAL_HOST}:{port}"
    )


def print_summary(
    out: TextIO,
    postgres: PostgresServer,
    nats_server: NatsServer,
    running: list[tuple[ChildSpec, int, str]],
) -> None:
    """What is running, with pids and addresses that work from this machine."""
    lines = [
        "Flotilla is running:",
        f"  {'postgres':<12} pid {postgres.pid:<8} {postgres.url}",
        f"  {'nats':<12} pid {nats_server.pid:<8} {nats_server.url}",
    ]
    for spec, pid, probes in running:
        where = f"  {spec.where}" if spec.where else ""
        lines.append(f"  {spec.name:<12} pid {pid:<8} probes {probes}/readyz{where}")
    lines.append("Logs follow, prefixed by service. Press Ctrl-C to stop everything.")
    out.write("\n".join(lines) + "\n")
    out.flush()


async def run_up(args: argparse.Namespace, data_dir: Path, out: TextIO) -> int:
    """Start everything, wait for Ctrl-C (or a service exiting), stop everything."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)

    out.write(f"starting PostgreSQL and NATS (data in {data_dir}) ...\n")
    out.flush()
    postgres = PostgresServer(data_dir / "postgres", port=args.postgres_port or None)
    nats_server = NatsServer(data_dir / "nats", port=args.nats_port or None)
    supervisor = Supervisor(out)
    code = 0
    try:
        await asyncio.to_thread(postgres.start)
        await asyncio.to_thread(nats_server.start)
        stack = LocalStack(
            data_dir=data_dir,
            nats_url=nats_server.url,
            database_url=postgres.url,
            real_game=any(os.environ.get(name) for name in REAL_GAME_VARIABLES),
        )
        base_env = {
            env_name(ServiceSettings, "nats_url"): stack.nats_url,
            env_name(DatabaseSettings, "database", "url"): stack.database_url,
            env_name(ServiceSettings, "log_format"): "text",
        }
        out.write("migrating the database schema ...\n")
        out.flush()
        from flotilla.db import migrate

        await asyncio.to_thread(migrate.upgrade, stack.database_url)
        running: list[tuple[ChildSpec, int, str]] = []
        for service in declared():
            if service.local is None:
                continue
            for spec in service.local(stack):
                spec, probes = _with_probes(spec)
                proc = await supervisor.start(spec, base_env)
                stack.endpoints.update(spec.provides)
                running.append((spec, proc.pid, probes))
        print_summary(out, postgres, nats_server, running)

        stop_wait = asyncio.create_task(stopping.wait())
        exit_wait = asyncio.create_task(supervisor.exited.wait())
        await asyncio.wait({stop_wait, exit_wait}, return_when=asyncio.FIRST_COMPLETED)
        if not stopping.is_set():
            out.write("a service exited: stopping everything\n")
            code = 1
        stop_wait.cancel()
        exit_wait.cancel()
    except ServerError as exc:
        out.write(f"could not start: {exc}\n")
        code = 1
    finally:
        out.write("stopping services ...\n")
        out.flush()
        await supervisor.stop_all()
        out.write("stopping NATS and PostgreSQL ...\n")
        out.flush()
        await asyncio.to_thread(nats_server.stop)
        await asyncio.to_thread(postgres.stop)
        out.write("stopped.\n")
        out.flush()
    return code


def command(args: argparse.Namespace) -> int:
    """`flotilla up`."""
    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        with data_dir_lock(data_dir):
            return asyncio.run(run_up(args, data_dir, sys.stdout))
    except DataDirInUse as exc:
        print(f"flotilla up: {exc}", file=sys.stderr)
        return 1


def register(subparsers: Any) -> None:
    """Add `flotilla up`."""
    parser = subparsers.add_parser(
        "up",
        help="start PostgreSQL, NATS and every service locally (Ctrl-C stops all)",
        description=__doc__,
    )
    parser.add_argument(
        "--data-dir",
        default=".flotilla",
        help="where the servers keep their data (default: .flotilla)",
    )
    parser.add_argument(
        "--nats-port", type=int, default=0, help="NATS client port (default: a free one)"
    )
    parser.add_argument(
        "--postgres-port", type=int, default=0, help="PostgreSQL port (default: a free one)"
    )
    parser.set_defaults(func=command)
