"""The persister joins the `flotilla` command and `flotilla up`, and reads its settings from
FLOTILLA_PERSISTER_* variables."""

from __future__ import annotations

import argparse
import io
import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from flotilla.settings import SettingsError, load_settings
from flotilla.up import LocalStack
from persister import cli
from persister.database import libpq_url, session_options, sqlalchemy_url
from persister.service import Backoff
from persister.settings import PersisterSettings


def test_flotilla_lists_the_persister_and_migrate_commands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "flotilla.cli", "--help"], capture_output=True, text=True, check=True
    )
    assert re.search(r"^\s+persister\s", result.stdout, re.MULTILINE)
    assert re.search(r"^\s+migrate\s", result.stdout, re.MULTILINE)


def test_python_dash_m_persister_is_flotilla_persister() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "persister", "--help"], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("usage: flotilla persister")


def test_settings_come_from_flotilla_persister_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOTILLA_DATABASE_URL", "postgresql://u@db:5432/flotilla")
    monkeypatch.setenv("FLOTILLA_PERSISTER_BATCH_SIZE", "250")
    monkeypatch.setenv("FLOTILLA_PERSISTER_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS", "2.5")
    settings = load_settings(PersisterSettings)
    assert settings.persister_batch_size == 250
    assert "-c idle_in_transaction_session_timeout=2500" in session_options(settings)
    monkeypatch.setenv("FLOTILLA_PERSISTER_BATCH_SIZE", "0")
    with pytest.raises(SettingsError, match="FLOTILLA_PERSISTER_BATCH_SIZE"):
        load_settings(PersisterSettings)


def test_database_urls_convert_in_both_directions() -> None:
    assert sqlalchemy_url("postgresql://u:p@h:1/d") == "postgresql+psycopg://u:p@h:1/d"
    assert sqlalchemy_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert libpq_url("postgresql+psycopg://u@h/d") == "postgresql://u@h/d"
    with pytest.raises(ValueError, match="not a PostgreSQL URL"):
        libpq_url("mysql://u@h/d")


def test_backoff_doubles_up_to_its_maximum() -> None:
    backoff = Backoff(0.5, 4.0, jitter=lambda: 0.5)  # jitter 0.5: no change
    assert [backoff.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_flotilla_up_runs_one_persister_with_its_metrics_address(tmp_path: Path) -> None:
    stack = LocalStack(data_dir=tmp_path, nats_url="nats://x", database_url="postgresql://x")
    [spec] = cli.up_specs(stack, argparse.Namespace())
    assert spec.name == "persister"
    assert spec.args == ["persister"]
    port = spec.env["FLOTILLA_PERSISTER_METRICS_PORT"]
    assert spec.where == f"metrics http://127.0.0.1:{port}/metrics"


async def test_flotilla_up_migrates_the_database_before_services_start(
    database_url: str, tmp_path: Path
) -> None:
    stack = LocalStack(data_dir=tmp_path, nats_url="nats://x", database_url=database_url)
    out = io.StringIO()
    await cli.up_prepare(stack, out)
    assert "migrating" in out.getvalue()
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM ships").fetchone() == (0,)
