"""Every declared service behaves the same way, because the kit runs it: its `--help` lists
every setting, a bad value names its variable, the probes answer, and SIGTERM drains it.

Each service runs as the real `flotilla <service>` process against real NATS and PostgreSQL
(and the gateway against a simulator), exactly as in production."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from flotilla.db import migrate
from flotilla.kit.declaration import AnyService
from flotilla.local_servers import free_port
from flotilla.registry import DECLARATIONS, declared
from flotilla.settings import leaves

SERVICES = declared()
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


def _ids(service: AnyService) -> str:
    return service.name


def _flotilla(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flotilla.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_the_registry_declares_every_service_package() -> None:
    services_dir = Path(__file__).resolve().parents[2] / "services"
    packages = {p.name for p in services_dir.iterdir() if (p / "declaration.py").exists()}
    assert {module.split(".")[0] for module in DECLARATIONS} == packages
    assert len({s.name for s in SERVICES}) == len(SERVICES)


def test_flotilla_help_lists_every_service_with_its_summary() -> None:
    result = _flotilla("--help")
    assert result.returncode == 0, result.stderr
    for service in SERVICES:
        assert service.name in result.stdout
        assert service.summary.split()[0] in result.stdout


@pytest.mark.parametrize("service", SERVICES, ids=_ids)
def test_help_lists_every_setting(service: AnyService) -> None:
    result = _flotilla(service.name, "--help")
    assert result.returncode == 0, result.stderr
    for leaf in leaves(service.settings):
        assert leaf.env in result.stdout, (
            f"{leaf.env} missing from `flotilla {service.name} --help`"
        )


@pytest.mark.parametrize("service", SERVICES, ids=_ids)
def test_a_bad_value_names_its_variable(service: AnyService) -> None:
    env = {**os.environ, "FLOTILLA_SHUTDOWN_GRACE_SECONDS": "soon"}
    result = _flotilla(service.name, env=env)
    assert result.returncode == 2
    assert "FLOTILLA_SHUTDOWN_GRACE_SECONDS" in result.stderr
    assert "Traceback" not in result.stderr
    result = _flotilla(service.name, "--probes-port", "loud")
    assert result.returncode == 2
    assert "--probes-port" in result.stderr and "Traceback" not in result.stderr


@pytest.fixture
def simulator_url() -> Iterator[str]:
    from simulator.server import running_simulator

    with running_simulator() as url:
        yield url


def _wait_for(client: httpx.Client, path: str, proc: subprocess.Popen[str]) -> httpx.Response:
    deadline = time.monotonic() + START_TIMEOUT
    last: httpx.Response | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out, _ = proc.communicate()
            raise AssertionError(f"the service exited with {proc.returncode}:\n{out}")
        try:
            last = client.get(path)
            if last.status_code == 200:
                return last
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{path} never answered 200 (last: {last and last.text})")


@pytest.mark.slow
@pytest.mark.parametrize("service", SERVICES, ids=_ids)
def test_probes_answer_and_sigterm_drains(
    service: AnyService, nats_url: str, database_url: str, simulator_url: str
) -> None:
    migrate.upgrade(database_url)
    port = free_port()
    env = {
        **os.environ,
        "FLOTILLA_NATS_URL": nats_url,
        "FLOTILLA_DATABASE_URL": database_url,
        "FLOTILLA_SPACETRADERS_BASE_URL": simulator_url,
        "FLOTILLA_PROBES_HOST": "127.0.0.1",
        "FLOTILLA_PROBES_PORT": str(port),
        "FLOTILLA_LOG_FORMAT": "text",
        "PYTHONUNBUFFERED": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "flotilla.cli", service.name],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            assert _wait_for(client, "/healthz", proc).json() == {"status": "alive"}
            ready = _wait_for(client, "/readyz", proc).json()
            assert ready["ready"] is True
            assert set(service.checks) <= set(ready["checks"])
            metrics = client.get("/metrics")
            assert metrics.status_code == 200
            assert f"flotilla_{service.name}_" in metrics.text
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=STOP_TIMEOUT)
        assert proc.returncode == 0, out
        assert f"{service.name} stopped" in out
        assert "Traceback" not in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
