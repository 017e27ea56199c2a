"""Settings are typed, read from FLOTILLA_* variables, and name the variable when wrong."""

from __future__ import annotations

import subprocess
import sys

import pytest

from flotilla.settings import DatabaseSettings, ServiceSettings, SettingsError, load_settings


def test_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOTILLA_NATS_URL", "nats://10.0.0.9:4222")
    monkeypatch.setenv("FLOTILLA_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "gateway-x")
    settings = load_settings(ServiceSettings)
    assert settings.nats_url == "nats://10.0.0.9:4222"
    assert settings.log_level == "DEBUG"
    assert settings.otel_service_name == "gateway-x"


def test_an_invalid_value_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOTILLA_LOG_LEVEL", "LOUD")
    with pytest.raises(SettingsError, match="FLOTILLA_LOG_LEVEL"):
        load_settings(ServiceSettings)


def test_a_missing_required_value_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLOTILLA_DATABASE_URL", raising=False)
    with pytest.raises(SettingsError, match="FLOTILLA_DATABASE_URL"):
        load_settings(DatabaseSettings)


def test_importing_the_shared_package_reads_no_settings() -> None:
    # An invalid environment must not break imports: settings are built when a service starts.
    env = {"FLOTILLA_LOG_LEVEL": "LOUD", "PATH": ""}
    code = (
        "import flotilla.settings, flotilla.kit, flotilla.topology, flotilla.up, flotilla.cli;"
        "print('imported')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "imported"
