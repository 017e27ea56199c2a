"""Helpers of the conductor's tests, handed out as fixtures (with --import-mode=importlib a
conftest is not importable by name)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

Eventually = Callable[..., Awaitable[None]]


async def _eventually(condition: Callable[[], Any], within: float = 15.0, what: str = "") -> None:
    """Wait until `condition()` (or the awaitable it returns) is true, or fail."""
    deadline = time.monotonic() + within
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within}s: {what}")
        await asyncio.sleep(0.02)


@pytest.fixture
def eventually() -> Eventually:
    """`await eventually(condition, within=…, what=…)`: wait on a condition with a timeout."""
    return _eventually
