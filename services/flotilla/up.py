"""`flotilla up`: the whole system on one machine.

Starts embedded PostgreSQL and NATS with their data under `.flotilla/`, then every installed
service as a child process whose log lines are prefixed with its name; on Ctrl-C or SIGTERM it
stops the services (SIGTERM, then SIGKILL after a grace period) and then both servers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from flotilla.local_servers import NatsServer, PostgresServer, ServerError, die_with_parent

SERVICE_STOP_GRACE_SECONDS = 15.0


@dataclass
class ChildSpec:
    """A service process `flotilla up` runs: its name, `flotilla` arguments and extra env."""

    name: str
    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    # What to print in the summary besides the pid, e.g. a URL to open.
    where: str = ""


@dataclass
class LocalStack:
    """Addresses of the servers every service of a local run shares."""

    data_dir: Path
    nats_url: str
    database_url: str


def child_specs(stack: LocalStack, args: argparse.Namespace) -> list[ChildSpec]:
    """The services to start, in order.

    Each installed service's `cli` module contributes through `up_specs(stack, args)`, returning
    its `ChildSpec`s.
    """
    from flotilla.cli import installed_services, service_cli

    specs: list[ChildSpec] = []
    for package in installed_services():
        up_specs = getattr(service_cli(package), "up_specs", None)
        if up_specs is not None:
            specs.extend(up_specs(stack, args))
    return specs


async def prepare_services(stack: LocalStack, out: TextIO) -> None:
    """Run each installed service's one-shot `up_prepare(stack, out)` (e.g. migrations) in order,
    before any service starts."""
    from flotilla.cli import installed_services, service_cli

    for package in installed_services():
        up_prepare = getattr(service_cli(package), "up_prepare", None)
        if up_prepare is not None:
            await up_prepare(stack, out)


class Supervisor:
    """Runs child processes, prefixes their output, and stops them all on request."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.children: dict[str, asyncio.subprocess.Process] = {}
        self.pumps: list[asyncio.Task[None]] = []
        self.exited = asyncio.Event()
        self.width = 10

    def emit(self, name: str, line: str) -> None:
        self.out.write(f"{name:<{self.width}}| {line}\n")
        self.out.flush()

    async def start(self, spec: ChildSpec, base_env: dict[str, str]) -> asyncio.subprocess.Process:
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


def print_summary(
    out: TextIO,
    postgres: PostgresServer,
    nats_server: NatsServer,
    running: list[tuple[ChildSpec, int]],
) -> None:
    lines = [
        "Flotilla is running:",
        f"  {'postgres':<10} pid {postgres.pid:<8} {postgres.url}",
        f"  {'nats':<10} pid {nats_server.pid:<8} {nats_server.url}",
    ]
    for spec, pid in running:
        lines.append(f"  {spec.name:<10} pid {pid:<8} {spec.where}".rstrip())
    if not running:
        lines.append("  (no services are installed yet: only the servers run)")
    lines.append("Logs follow, prefixed by service. Press Ctrl-C to stop everything.")
    out.write("\n".join(lines) + "\n")
    out.flush()


async def run_up(args: argparse.Namespace, data_dir: Path, out: TextIO) -> int:
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
        stack = LocalStack(data_dir=data_dir, nats_url=nats_server.url, database_url=postgres.url)
        base_env = {
            "FLOTILLA_NATS_URL": stack.nats_url,
            "FLOTILLA_DATABASE_URL": stack.database_url,
            "FLOTILLA_LOG_FORMAT": "text",
        }
        await prepare_services(stack, out)
        running: list[tuple[ChildSpec, int]] = []
        for spec in child_specs(stack, args):
            proc = await supervisor.start(spec, base_env)
            running.append((spec, proc.pid))
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
    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    return asyncio.run(run_up(args, data_dir, sys.stdout))


def register(subparsers: Any) -> None:
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
