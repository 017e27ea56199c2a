"""`flotilla gateway` / `python -m gateway`, its settings, and its part in `flotilla up`."""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from flotilla.settings import SettingsError, load_settings
from flotilla.up import LocalStack
from gateway import cli
from gateway.settings import GatewaySettings

from .conftest import FakeApi, call, fake_gateway


def test_python_dash_m_gateway_is_the_flotilla_gateway_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "--help"], capture_output=True, text=True, check=True
    )
    assert "--base-url" in result.stdout and "FLOTILLA_SPACETRADERS_BASE_URL" in result.stdout
    listing = subprocess.run(
        [sys.executable, "-m", "flotilla.cli", "--help"], capture_output=True, text=True, check=True
    )
    assert "gateway" in listing.stdout


def test_several_agents_come_from_one_json_variable_and_tokens_stay_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLOTILLA_AGENT_TOKENS", '{"ALPHA": "token-a", "BRAVO": "token-b"}')
    monkeypatch.setenv("FLOTILLA_GATEWAY_AGENT_LOCAL_ADDRESSES", '{"BRAVO": "10.0.0.7"}')
    monkeypatch.setenv("FLOTILLA_SPACETRADERS_TOKEN", "token-c")
    settings = load_settings(GatewaySettings)
    assert {s: t.get_secret_value() for s, t in settings.agent_tokens.items()} == {
        "ALPHA": "token-a",
        "BRAVO": "token-b",
    }
    assert settings.gateway_agent_local_addresses == {"BRAVO": "10.0.0.7"}
    shown = repr(settings) + str(settings.model_dump())
    assert not any(token in shown for token in ("token-a", "token-b", "token-c"))


def test_a_bad_setting_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOTILLA_GATEWAY_HTTP_MAX_IN_FLIGHT", "0")
    with pytest.raises(SettingsError, match="FLOTILLA_GATEWAY_HTTP_MAX_IN_FLIGHT"):
        load_settings(GatewaySettings)


def test_the_settings_build_the_limits_the_gateway_uses() -> None:
    settings = GatewaySettings(
        gateway_rate_limit_static=3, gateway_rate_limit_burst=10, gateway_http_max_in_flight=4
    )
    assert settings.rate_limit_config().sustained_per_minute == 60 * 3 + 10
    assert settings.http_config().limits().max_connections == 4
    assert settings.http_config().limits().max_keepalive_connections == 4
    assert settings.http_config().timeout().connect == 5.0


def _stack(tmp_path: Path) -> LocalStack:
    return LocalStack(data_dir=tmp_path, nats_url="nats://x", database_url="postgresql://x")


def test_flotilla_up_points_the_gateway_at_the_simulator_it_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLOTILLA_SPACETRADERS_TOKEN", raising=False)
    monkeypatch.delenv("FLOTILLA_AGENT_TOKENS", raising=False)
    (tmp_path / "simulator.url").write_text("http://127.0.0.1:4321/v2\n")
    [spec] = cli.up_specs(_stack(tmp_path), argparse.Namespace())
    assert spec.name == "gateway" and spec.args == ["gateway"]
    assert spec.env["FLOTILLA_SPACETRADERS_BASE_URL"] == "http://127.0.0.1:4321/v2"
    assert int(spec.env["FLOTILLA_GATEWAY_METRICS_PORT"]) > 0


def test_flotilla_up_with_a_token_plays_the_real_game(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOTILLA_SPACETRADERS_TOKEN", "a.b.c")
    (tmp_path / "simulator.url").write_text("http://127.0.0.1:4321/v2\n")
    [spec] = cli.up_specs(_stack(tmp_path), argparse.Namespace())
    assert "FLOTILLA_SPACETRADERS_BASE_URL" not in spec.env


def test_flotilla_up_without_a_simulator_or_token_leaves_the_gateway_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLOTILLA_SPACETRADERS_TOKEN", raising=False)
    monkeypatch.delenv("FLOTILLA_AGENT_TOKENS", raising=False)
    assert cli.up_specs(_stack(tmp_path), argparse.Namespace()) == []


async def test_the_agents_token_never_reaches_a_log_line(
    fake_api: FakeApi, caplog: pytest.LogCaptureFixture
) -> None:
    async def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"refused (headers: {dict(request.headers)})")

    fake_api.handler = fail
    caplog.set_level(logging.DEBUG)
    async with fake_gateway(fake_api) as gateway:
        result = (await gateway.execute(call("GET", "/my/agent"))).result
    assert result.attempts == 4
    assert "refused" in result.error_message
    assert "secret-token" not in result.error_message
    assert not any("secret-token" in r.getMessage() for r in caplog.records)
