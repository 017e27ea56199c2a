"""A property-based fuzz of the conductor's API from its own OpenAPI document (schemathesis):
requests that fit the schema and requests that do not, with and without the token, over real
HTTP against the API as the conductor serves it (over the simulator and a gateway, on a real
database); no answer is a 5xx.

The examples are bounded (a fixed number per generation mode, no shrinking database) so the
fuzz runs well under a minute.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = 200
TOKEN = "s3cret-token"  # API_TOKEN of the stack


@pytest.mark.slow
async def test_no_request_the_schema_allows_or_refuses_gets_a_server_error(stack: Any) -> None:
    # Hypothesis drives schemathesis's blocking HTTP client: it runs in a thread while the
    # conductor serves in this event loop.
    seen, server_errors = await asyncio.to_thread(_fuzz, stack.base_url)
    print(f"answers by status: {dict(sorted(seen.items()))}")
    assert server_errors == []
    # The fuzz reached the API's answers, not only its refusals.
    assert any(200 <= code < 300 for code in seen), seen
    assert 422 in seen and 401 in seen, seen


def _fuzz(live_api: str) -> tuple[dict[int, int], list[str]]:
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
    return seen, server_errors
