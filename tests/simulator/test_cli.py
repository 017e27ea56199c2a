"""`flotilla simulator`: its help documents every option, it serves until SIGTERM, and it
joins `flotilla up` with a URL the other services can find."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from flotilla.up import LocalStack
from simulator import cli
from simulator.settings import settings_with

OPTIONS = [
    "--host",
    "--port",
    "--url-file",
    "--seed",
    "--time-scale",
    "--systems",
    "--starting-credits",
    "--no-rate-limit",
    "--static-limit",
    "--static-period",
    "--burst-limit",
    "--burst-period",
    "--fault-500-rate",
    "--fault-502-rate",
    "--fault-html-429-rate",
    "--fault-drop-rate",
    "--latency-ms",
    "--fault-seed",
]


@pytest.mark.parametrize("command", [["-m", "flotilla.cli", "simulator"], ["-m", "simulator"]])
def test_help_documents_every_option(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, *command, "--help"], capture_output=True, text=True, check=True
    )
    for option in OPTIONS:
        assert f"  {option}" in result.stdout, option
    assert "FLOTILLA_SIMULATOR_SEED" in result.stdout


def test_flotilla_help_lists_the_simulator() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "flotilla.cli", "--help"], capture_output=True, text=True, check=True
    )
    assert "simulator" in result.stdout


def test_command_line_options_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOTILLA_SIMULATOR_SEED", "5")
    monkeypatch.setenv("FLOTILLA_SIMULATOR_TIME_SCALE", "30")
    settings = settings_with({"simulator_seed": 9})()
    config = settings.simulator_config()
    assert (config.seed, config.time_scale) == (9, 30.0)


def test_the_service_serves_until_sigterm(tmp_path: Path) -> None:
    url_file = tmp_path / "simulator.url"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulator",
            "--port",
            "0",
            "--url-file",
            str(url_file),
            "--no-rate-limit",
            "--seed",
            "4",
        ],
        env={**os.environ, "FLOTILLA_LOG_FORMAT": "text"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while not url_file.exists():
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "no URL file"
            time.sleep(0.05)
        url = url_file.read_text().strip()
        assert url.endswith("/v2")
        deadline = time.monotonic() + 20
        while True:
            try:
                status = httpx.get(url + "/", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert status.status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        assert not url_file.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


def test_flotilla_up_gets_a_free_port_and_records_the_url(tmp_path: Path) -> None:
    stack = LocalStack(data_dir=tmp_path, nats_url="nats://unused", database_url="postgresql://x")
    assert cli.local_url(stack) is None
    [spec] = cli.up_specs(stack, argparse.Namespace())
    assert spec.name == "simulator"
    assert spec.where.startswith("http://127.0.0.1:") and spec.where.endswith("/v2")
    assert spec.args[:2] == ["simulator", "--port"]
    assert cli.local_url(stack) == spec.where
