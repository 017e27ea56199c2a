"""The persister as the kit declares it: `flotilla persister` and `python -m persister` are the
same command, its settings come from FLOTILLA_PERSISTER_* variables in sections, its probes
default to port 9464, and `flotilla up` runs one of it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from flotilla.db.pool import session_options
from flotilla.kit import LocalStack
from flotilla.settings import DatabaseSection, SettingsError, env_name, load_settings
from persister.declaration import SERVICE
from persister.settings import PersisterSettings


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_flotilla_lists_the_persister_command() -> None:
    result = _run("-m", "flotilla.cli", "--help")
    assert result.returncode == 0, result.stderr
    assert re.search(r"^\s+persister\s", result.stdout, re.MULTILINE)


def test_python_dash_m_persister_is_flotilla_persister() -> None:
    as_module = _run("-m", "persister", "--help")
    as_subcommand = _run("-m", "flotilla.cli", "persister", "--help")
    assert as_module.returncode == 0, as_module.stderr
    # The same options and help, whichever way it is started.
    assert as_module.stdout.split("options:", 1)[1] == as_subcommand.stdout.split("options:", 1)[1]
    assert "FLOTILLA_PERSISTER_BATCH_SIZE" in as_module.stdout


def test_settings_come_from_flotilla_persister_variables_by_section(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLOTILLA_DATABASE_URL", "postgresql://u@db:5432/flotilla")
    monkeypatch.setenv("FLOTILLA_PERSISTER_BATCH_SIZE", "250")
    monkeypatch.setenv("FLOTILLA_PERSISTER_CONSUMER_ACK_WAIT_SECONDS", "12")
    monkeypatch.setenv("FLOTILLA_PERSISTER_POOL_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS", "2.5")
    monkeypatch.setenv("FLOTILLA_PERSISTER_RETRY_MAX_SECONDS", "4")
    settings = load_settings(PersisterSettings)
    assert settings.database.url == "postgresql://u@db:5432/flotilla"
    assert settings.batch.size == 250
    assert settings.consumer.ack_wait_seconds == 12
    assert "-c idle_in_transaction_session_timeout=2500" in session_options(settings.pool)
    assert settings.retry.backoff().step(10) == 4
    monkeypatch.setenv("FLOTILLA_PERSISTER_BATCH_SIZE", "0")
    with pytest.raises(SettingsError, match="FLOTILLA_PERSISTER_BATCH_SIZE"):
        load_settings(PersisterSettings)


def test_a_retry_base_longer_than_its_maximum_names_the_retry_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLOTILLA_DATABASE_URL", "postgresql://u@db:5432/flotilla")
    monkeypatch.setenv("FLOTILLA_PERSISTER_RETRY_BASE_SECONDS", "20")
    with pytest.raises(SettingsError, match=r"FLOTILLA_PERSISTER_RETRY_\*: the base wait"):
        load_settings(PersisterSettings)


def test_the_retry_section_is_the_shared_backoff_doubling_up_to_its_maximum(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLOTILLA_DATABASE_URL", "postgresql://u@db:5432/flotilla")
    backoff = load_settings(PersisterSettings).retry.backoff()
    assert [backoff.step(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0]


def test_probes_default_to_port_9464_and_are_configured_like_every_service() -> None:
    assert env_name(PersisterSettings, "probes", "port") == "FLOTILLA_PROBES_PORT"
    settings = PersisterSettings(database=DatabaseSection(url="postgresql://u@db/flotilla"))
    assert settings.probes.port == 9464
    assert "(default: 9464) [env FLOTILLA_PROBES_PORT]" in " ".join(
        _run("-m", "persister", "--help").stdout.split()
    )


def test_the_readiness_checks_are_nats_database_and_schema() -> None:
    assert tuple(SERVICE.checks) == ("nats", "database", "schema")


def test_flotilla_up_runs_one_persister(tmp_path: Path) -> None:
    stack = LocalStack(data_dir=tmp_path, nats_url="nats://x", database_url="postgresql://x")
    assert SERVICE.local is not None
    [spec] = SERVICE.local(stack)
    assert spec.name == "persister"
    assert spec.args == ["persister"]
