"""A property-based fuzz of the conductor's API from its own OpenAPI document (schemathesis):
requests that fit the schema and requests that do not, with and without the token, against the
API served over real HTTP on a real database; no answer is a 5xx.

The examples are bounded (a fixed number per generation mode, no shrinking database) so the
fuzz runs well under a minute.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from conductor.api import create_app
from flotilla.clock import ManualClock
from flotilla.db.pool import PoolSection, open_pool
from flotilla.serving import bind_socket, serving, socket_address

EXAMPLES = 200
TOKEN = "fuzz-token"


def _serve_in_thread(url: str, make_control: Any, clock: ManualClock) -> Iterator[str]:
    """Serve the API over `url`'s database from a thread with its own event loop."""
    sock = bind_socket()
    ready = threading.Event()
    stop: list[asyncio.Event] = []
    failure: list[BaseException] = []

    async def main() -> None:
        pool = await open_pool(url, PoolSection(size=2), application_name="conductor-fuzz")
        try:
            app = create_app(
                control=make_control(clock), pool=pool, token=SecretStr(TOKEN), clock=clock
            )
            stop.append(asyncio.Event())
            async with serving(app, sock):
                ready.set()
                await stop[0].wait()
        finally:
            await pool.close()

    loop = asyncio.new_event_loop()

    def run() -> None:
        try:
            loop.run_until_complete(main())
        except BaseException as exc:  # reported below
            failure.append(exc)
        finally:
            ready.set()

    thread = threading.Thread(target=run, name="conductor-api", daemon=True)
    thread.start()
    try:
        assert ready.wait(30), "the API did not start"
        assert not failure, failure
        yield socket_address(sock)
    finally:
        if stop:
            loop.call_soon_threadsafe(stop[0].set)
        thread.join(30)
        loop.close()
        sock.close()


FLEET_NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # as the `filled_url` fixture's rows


@pytest.fixture
def live_api(filled_url: str, make_control: Any) -> Iterator[str]:
    yield from _serve_in_thread(filled_url, make_control, ManualClock(FLEET_NOW))


@pytest.mark.slow
def test_no_request_the_schema_allows_or_refuses_gets_a_server_error(live_api: str) -> None:
    schema = schemathesis.openapi.from_url(f"{live_api}/openapi.json")
    seen: dict[int, int] = {}
    server_errors: list[str] = []
    strategies = [
        schema.as_strategy(generation_mode=mode)
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
    ]
    for strategy in strategies:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy, authorised=st.booleans())
        def fuzz(case: Any, authorised: bool) -> None:
            headers = {"Authorization": f"Bearer {TOKEN}"} if authorised else None
            response = case.call(base_url=live_api, headers=headers, timeout=30)
            seen[response.status_code] = seen.get(response.status_code, 0) + 1
            if response.status_code >= 500:
                server_errors.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{response.text[:300]}"
                )

        fuzz()
    print(f"answers by status: {dict(sorted(seen.items()))}")
    assert server_errors == []
    # The fuzz reached the API's answers, not only its refusals.
    assert any(200 <= code < 300 for code in seen), seen
    assert 422 in seen and 401 in seen, seen
