"""`flotilla gateway` / `python -m gateway`: options generated from its settings (an option over
its variable, secrets from the environment only), the settings sections the parts take as they
are, and its part in `flotilla up`."""

from __future__ import annotations

import argparse
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from flotilla.kit import LocalStack
from flotilla.kit.options import add_setting_options, option_values
from flotilla.semconv import BACKGROUND, COOLDOWN_START, FLEET, SHIP_UNBLOCK
from flotilla.settings import SettingsError, leaves, load_settings
from gateway.declaration import SERVICE, SIMULATOR_ENDPOINT
from gateway.settings import GatewaySettings

from .conftest import FakeApi, call, fake_gateway


def _help(*command: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", *command, "--help"], capture_output=True, text=True, check=True
    )
    return result.stdout


def test_flotilla_gateway_help_lists_every_setting_and_python_dash_m_is_the_same() -> None:
    flotilla_help = _help("flotilla.cli", "gateway")
    module_help = _help("gateway")
    for leaf in leaves(GatewaySettings):
        assert leaf.env in flotilla_help and leaf.env in module_help, leaf.env
    assert "--spacetraders-base-url" in flotilla_help
    assert "--rate-limit-static " in flotilla_help and "(default: 2)" in flotilla_help
    assert "--probes-port" in flotilla_help and "(default: 9102)" in flotilla_help
    # Tokens are secrets: read from the environment only, never options.
    assert "--spacetraders-token" not in flotilla_help
    assert "--spacetraders-agent-tokens" not in flotilla_help
    assert module_help.split("settings (", 1)[1] == flotilla_help.split("settings (", 1)[1]
    assert "gateway" in _help("flotilla.cli")


def _parse(argv: list[str]) -> GatewaySettings:
    parser = argparse.ArgumentParser(prog="gateway")
    options = add_setting_options(parser, GatewaySettings, SERVICE.option_prefix())
    values, names = option_values(parser.parse_args(argv), options)
    return load_settings(GatewaySettings, values, option_names=names)


def test_an_option_overrides_its_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOTILLA_GATEWAY_RATE_LIMIT_STATIC", "3")
    monkeypatch.setenv("FLOTILLA_GATEWAY_REGISTER_AGENT", "true")
    monkeypatch.setenv("FLOTILLA_SPACETRADERS_BASE_URL", "http://from-env/v2")
    settings = _parse(
        [
            "--rate-limit-static",
            "5",
            "--no-register-agent",
            "--spacetraders-base-url",
            "http://x/v2",
        ]
    )
    assert settings.rate_limit.static == 5
    assert settings.registration.agent is False
    assert settings.spacetraders.base_url == "http://x/v2"
    from_env = _parse([])
    assert from_env.rate_limit.static == 3 and from_env.registration.agent is True
    assert from_env.spacetraders.base_url == "http://from-env/v2"


def test_a_bad_option_names_the_option() -> None:
    with pytest.raises(SettingsError, match="--http-max-in-flight"):
        _parse(["--http-max-in-flight", "0"])


def test_several_agents_come_from_one_json_variable_and_tokens_stay_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "FLOTILLA_SPACETRADERS_AGENT_TOKENS", '{"ALPHA": "token-a", "BRAVO": "token-b"}'
    )
    monkeypatch.setenv("FLOTILLA_GATEWAY_AGENT_LOCAL_ADDRESSES", '{"BRAVO": "10.0.0.7"}')
    monkeypatch.setenv("FLOTILLA_SPACETRADERS_TOKEN", "token-c")
    settings = load_settings(GatewaySettings)
    assert {s: t.get_secret_value() for s, t in settings.spacetraders.agent_tokens.items()} == {
        "ALPHA": "token-a",
        "BRAVO": "token-b",
    }
    assert settings.agent_local_addresses == {"BRAVO": "10.0.0.7"}
    shown = repr(settings) + str(settings.model_dump())
    assert not any(token in shown for token in ("token-a", "token-b", "token-c"))


def test_an_agent_without_a_token_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOTILLA_SPACETRADERS_AGENT_TOKENS", '{"ALPHA": ""}')
    with pytest.raises(SettingsError, match="FLOTILLA_SPACETRADERS_AGENT_TOKENS: needs a symbol"):
        load_settings(GatewaySettings)


def test_a_bad_setting_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOTILLA_GATEWAY_HTTP_MAX_IN_FLIGHT", "0")
    with pytest.raises(SettingsError, match="FLOTILLA_GATEWAY_HTTP_MAX_IN_FLIGHT"):
        load_settings(GatewaySettings)


# (variable, malformed value): JSON that does not parse, JSON of the wrong shape, values of
# the wrong type or out of range. The tokens in them must never be echoed.
MALFORMED = [
    ("FLOTILLA_SPACETRADERS_AGENT_TOKENS", '{"ALPHA": "secret-aaa"'),
    ("FLOTILLA_SPACETRADERS_AGENT_TOKENS", "{ALPHA: secret-aaa}"),
    ("FLOTILLA_SPACETRADERS_AGENT_TOKENS", '["ALPHA", "secret-aaa"]'),
    ("FLOTILLA_SPACETRADERS_AGENT_TOKENS", '{"ALPHA": 12345}'),
    ("FLOTILLA_SPACETRADERS_AGENT_TOKENS", '{"": "secret-aaa"}'),
    ("FLOTILLA_SPACETRADERS_AGENT_TOKENS", '"secret-aaa"'),
    ("FLOTILLA_GATEWAY_AGENT_LOCAL_ADDRESSES", '{"ALPHA": '),
    ("FLOTILLA_GATEWAY_AGENT_LOCAL_ADDRESSES", '{"ALPHA": ["10.0.0.7"]}'),
    ("FLOTILLA_GATEWAY_RATE_LIMIT_STATIC", "two"),
    ("FLOTILLA_GATEWAY_RETRY_MAX_ATTEMPTS", "0"),
    ("FLOTILLA_GATEWAY_REGISTER_AGENT", "maybe"),
    ("FLOTILLA_GATEWAY_REGISTER_SYMBOL", "A-SYMBOL-FAR-TOO-LONG"),
    ("FLOTILLA_PROBES_PORT", "ninety"),
]


@pytest.mark.parametrize(("variable", "value"), MALFORMED)
def test_a_malformed_setting_is_one_line_naming_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as refused:
        load_settings(GatewaySettings)
    message = str(refused.value)
    assert variable in message and "\n" not in message
    assert "secret-aaa" not in message


@pytest.mark.parametrize(
    ("variable", "value"), [MALFORMED[0], MALFORMED[2], MALFORMED[6], MALFORMED[8]]
)
def test_the_gateway_process_stops_on_a_malformed_setting_without_a_traceback(
    variable: str, value: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOTILLA_")}
    env[variable] = value
    done = subprocess.run(
        [sys.executable, "-m", "gateway"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and variable in lines[0], done.stderr
    assert "Traceback" not in done.stderr and "secret-aaa" not in done.stderr + done.stdout


def test_the_settings_sections_are_the_limits_the_gateway_uses() -> None:
    settings = GatewaySettings(
        rate_limit={"static": 3, "burst": 10},  # type: ignore[arg-type]
        http={"max_in_flight": 4},  # type: ignore[arg-type]
    )
    assert settings.rate_limit.sustained_per_minute == 60 * 3 + 10
    assert settings.http.limits().max_connections == 4
    assert settings.http.limits().max_keepalive_connections == 4
    assert settings.http.timeout().connect == 5.0
    assert settings.queue.limits() == {
        COOLDOWN_START: 1000,
        SHIP_UNBLOCK: 1000,
        FLEET: 200,
        BACKGROUND: 2000,
    }
    assert GatewaySettings().probes.port == 9102


def _stack(tmp_path: Path, **fields: object) -> LocalStack:
    return LocalStack(
        data_dir=tmp_path,
        nats_url="nats://x",
        database_url="postgresql://x",
        **fields,  # type: ignore[arg-type]
    )


def test_flotilla_up_points_the_gateway_at_the_simulator_it_started(tmp_path: Path) -> None:
    stack = _stack(tmp_path, endpoints={SIMULATOR_ENDPOINT: "http://127.0.0.1:4321/v2"})
    assert SERVICE.local is not None
    [spec] = SERVICE.local(stack)
    assert spec.name == "gateway" and spec.args == ["gateway"]
    assert spec.env["FLOTILLA_SPACETRADERS_BASE_URL"] == "http://127.0.0.1:4321/v2"
    # It registers under a symbol chosen here, provided to the services after it.
    symbol = spec.env["FLOTILLA_GATEWAY_REGISTER_SYMBOL"]
    assert re.fullmatch(r"FLOT-[0-9A-F]{6}", symbol)
    assert spec.provides == {"agent": symbol}


def test_flotilla_up_with_a_token_plays_the_real_game(tmp_path: Path) -> None:
    stack = _stack(
        tmp_path, real_game=True, endpoints={SIMULATOR_ENDPOINT: "http://127.0.0.1:4321/v2"}
    )
    assert SERVICE.local is not None
    [spec] = SERVICE.local(stack)
    assert "FLOTILLA_SPACETRADERS_BASE_URL" not in spec.env


def test_flotilla_up_without_a_simulator_or_token_leaves_the_gateway_out(
    tmp_path: Path,
) -> None:
    assert SERVICE.local is not None
    assert SERVICE.local(_stack(tmp_path)) == []


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
