"""The `flotilla` command and the Makefile describe themselves."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_flotilla_help_lists_up() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "flotilla.cli", "--help"], capture_output=True, text=True, check=True
    )
    assert re.search(r"^\s+up\s+start PostgreSQL", result.stdout, re.MULTILINE)


def test_make_help_lists_every_target_with_a_description() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    phony = re.search(r"^\.PHONY:(.*)$", makefile, re.MULTILINE)
    assert phony is not None
    targets = phony.group(1).split()
    assert {"help", "install", "run", "test", "lint", "proto", "bench", "chart"} <= set(targets)
    result = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    plain = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)
    for target in targets:
        assert re.search(rf"^\s+{target}\s+\S+", plain, re.MULTILINE), f"{target} missing from help"


def test_help_is_the_default_target() -> None:
    result = subprocess.run(
        ["make", "--no-print-directory"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert "test" in result.stdout and "run" in result.stdout
