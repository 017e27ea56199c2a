"""The benchmarks' command lines, and how the gateway benchmark measures a contender's rate.
(The benchmarks themselves run for minutes and are not part of the suite: `make bench`.)"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.mark.parametrize("script", sorted(p.name for p in BENCH.glob("*.py")))
def test_every_benchmark_explains_its_options(script: str) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / script), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout and "--" in done.stdout


def gateway_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gateway_bench", BENCH / "gateway.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_gateway_benchmark_counts_whole_cycles_of_the_limit() -> None:
    """The rate is taken from the first burst window opened in the workload to the last one
    opened in it: a window opened before the workload, and the last one's requests (cut by
    the end), are left out."""
    bench = gateway_bench()
    tally = bench.Tally(
        windows=[(2.0, 90), (10.0, 150), (70.5, 148), (131.0, 149), (191.6, 20)], start=5.0
    )
    assert tally.whole_windows_per_minute(5.0, 185.0) == pytest.approx((150 + 148) / (121.0 / 60))
    assert tally.whole_windows_per_minute(5.0, 200.0) == pytest.approx(
        (150 + 148 + 149) / (181.6 / 60)
    )
    assert tally.whole_windows_per_minute(5.0, 60.0) is None  # one window only
    again = bench.Tally.from_json(tally.to_json())
    assert again.windows == tally.windows
