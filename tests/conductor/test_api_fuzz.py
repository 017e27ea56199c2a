"""A property-based fuzz of the conductor's API from its own OpenAPI document (schemathesis):
requests that fit the schema and requests that do not, with and without the token, over real
HTTP against the API as the conductor serves it (over the simulator and a gateway, on a real
database); no answer is a 5xx.

The client runs in a process of its own (`fuzz_client.py` says why). The examples are bounded
(a fixed number per generation mode, no example database) so the fuzz runs well under a minute.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = 200
TOKEN = "s3cret-token"  # API_TOKEN of the stack
CLIENT = Path(__file__).with_name("fuzz_client.py")


@pytest.mark.slow
async def test_no_request_the_schema_allows_or_refuses_gets_a_server_error(stack: Any) -> None:
    # The conductor serves in this event loop while the client process fuzzes it.
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(CLIENT),
        stack.base_url,
        TOKEN,
        str(EXAMPLES),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout=600)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()[-4000:]
    result = json.loads(out.decode().strip().splitlines()[-1])
    seen = {int(code): count for code, count in result["seen"].items()}
    print(f"answers by status: {dict(sorted(seen.items()))}")
    assert result["server_errors"] == []
    # The fuzz reached the API's answers, not only its refusals.
    assert any(200 <= code < 300 for code in seen), seen
    assert 422 in seen and 401 in seen, seen
