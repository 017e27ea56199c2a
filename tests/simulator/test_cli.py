"""`flotilla simulator` on the command line: options generated from the settings (each one over
its variable), a bad value named in one line, and its part in `flotilla up` — a process on a
free local port whose URL the services after it are given, leaving no file behind."""

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

from flotilla.kit import EXIT_BAD_SETTINGS, LocalStack, main
from flotilla.kit.options import add_setting_options, option_values
from flotilla.local_servers import free_port
from flotilla.settings import leaves, load_settings
from simulator.config import SimulatorSettings
from simulator.declaration import ENDPOINT, SERVICE

START_TIMEOUT = 30.0


def _settings_from(argv: list[str]) -> SimulatorSettings:
    """Settings as `flotilla simulator <argv>` builds them (options over the environment)."""
    parser = argparse.ArgumentParser()
    options = add_setting_options(parser, SimulatorSettings, SERVICE.option_prefix())
    values, names = option_values(parser.parse_args(argv), options)
    return load_settings(SimulatorSettings, values, option_names=names)


@pytest.mark.parametrize("command", [["-m", "flotilla.cli", "simulator"], ["-m", "simulator"]])
def test_help_lists_every_setting_with_its_option_and_variable(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, *command, "--help"], capture_output=True, text=True, check=True
    )
    text = " ".join(result.stdout.split())  # independent of where the lines wrap
    for leaf in leaves(SimulatorSettings):
        assert f"[env {leaf.env}]" in text, leaf.env
    for option in ("--seed SEED", "--time-scale TIME_SCALE", "--faults-drop-rate DROP_RATE"):
        assert f" {option} " in text, option
    # The rate-limit switch is one generated boolean option, both ways.
    assert " --rate-limit-enabled, --no-rate-limit-enabled " in text
    assert "(default: 8811) [env FLOTILLA_SIMULATOR_PORT]" in text
    assert "(default: 9103) [env FLOTILLA_PROBES_PORT]" in text


def test_an_option_overrides_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOTILLA_SIMULATOR_SEED", "5")
    monkeypatch.setenv("FLOTILLA_SIMULATOR_TIME_SCALE", "30")
    monkeypatch.setenv("FLOTILLA_SIMULATOR_RATE_LIMIT_ENABLED", "true")
    monkeypatch.setenv("FLOTILLA_SIMULATOR_FAULTS_DROP_RATE", "0.5")
    settings = _settings_from(
        ["--seed", "9", "--no-rate-limit-enabled", "--faults-drop-rate", "0.25"]
    )
    config = settings.config
    assert (config.seed, config.time_scale) == (9, 30.0)  # the option won; the variable stays
    assert config.rate_limit.enabled is False
    assert config.faults.drop_rate == 0.25


def test_the_defaults_are_the_real_game_on_a_local_address(monkeypatch: pytest.MonkeyPatch) -> None:
    for leaf in leaves(SimulatorSettings):
        monkeypatch.delenv(leaf.env, raising=False)
    settings = _settings_from([])
    assert (settings.host, settings.port, settings.probes.port) == ("127.0.0.1", 8811, 9103)
    limits = settings.config.rate_limit
    assert (limits.enabled, limits.static, limits.burst) == (True, 2, 30)
    assert (limits.static_period_seconds, limits.burst_period_seconds) == (1.0, 60.0)


def test_a_bad_variable_is_named_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FLOTILLA_SIMULATOR_TIME_SCALE", "fast")
    assert main(SERVICE, []) == EXIT_BAD_SETTINGS
    error = capsys.readouterr().err.strip()
    assert "FLOTILLA_SIMULATOR_TIME_SCALE" in error
    assert "\n" not in error and "Traceback" not in error


def test_a_bad_option_is_named_as_given(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(SERVICE, ["--rate-limit-static", "0"]) == EXIT_BAD_SETTINGS
    error = capsys.readouterr().err.strip()
    assert "--rate-limit-static" in error and "greater than or equal to 1" in error
    assert "\n" not in error


def test_fault_rates_over_one_name_their_variables(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FLOTILLA_SIMULATOR_FAULTS_ERROR_502_RATE", "0.7")
    monkeypatch.setenv("FLOTILLA_SIMULATOR_FAULTS_DROP_RATE", "0.4")
    assert main(SERVICE, []) == EXIT_BAD_SETTINGS
    error = capsys.readouterr().err.strip()
    assert "FLOTILLA_SIMULATOR_FAULTS_ERROR_502_RATE (0.7)" in error
    assert "FLOTILLA_SIMULATOR_FAULTS_DROP_RATE (0.4)" in error
    assert "more than 1" in error and "\n" not in error


def _wait_for_ok(client: httpx.Client, url: str, proc: subprocess.Popen[str]) -> httpx.Response:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"exited with {proc.returncode}:\n{proc.communicate()[0]}")
        try:
            response = client.get(url)
            if response.status_code == 200:
                return response
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{url} never answered 200"
        time.sleep(0.05)


def test_flotilla_up_runs_it_on_a_free_local_port_and_gives_its_url_to_the_others(
    tmp_path: Path,
) -> None:
    stack = LocalStack(data_dir=tmp_path, nats_url="nats://unused", database_url="postgresql://x")
    assert SERVICE.local is not None
    [spec] = SERVICE.local(stack)
    url = spec.provides[ENDPOINT]
    assert spec.name == "simulator" and spec.where == url
    assert url.startswith("http://127.0.0.1:") and url.endswith("/v2")

    # Run the spec as `flotilla up` does, with probes on a port of their own.
    probes = free_port()
    env = {
        **os.environ,
        "FLOTILLA_PROBES_HOST": "127.0.0.1",
        "FLOTILLA_PROBES_PORT": str(probes),
        "FLOTILLA_LOG_FORMAT": "text",
        "PYTHONUNBUFFERED": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "flotilla.cli", *spec.args],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        with httpx.Client(timeout=5) as client:
            ready = _wait_for_ok(client, f"http://127.0.0.1:{probes}/readyz", proc).json()
            assert ready == {"ready": True, "checks": {"http": f"ok: {url}"}}
            status = _wait_for_ok(client, f"{url}/", proc).json()
            assert status["status"] == "SpaceTraders simulator is running."
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
        assert "simulator stopped" in out and "Traceback" not in out
        assert list(tmp_path.iterdir()) == []  # nothing written to the data folder
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
