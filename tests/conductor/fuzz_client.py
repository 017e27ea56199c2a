"""The client half of the conductor API's fuzz, run as its own process by `test_api_fuzz.py`.

Schemathesis draws some of its choices from the global `random` module inside Hypothesis
strategies. In the test's own process the services under test (the gateway's retry jitter, the
NATS client's server shuffle, the simulator) move that same global state from the event loop's
thread while a case is being drawn, so Hypothesis sees data generation change between runs and
fails the test as flaky. In a process of its own nothing else touches `random`.

Usage: `python fuzz_client.py BASE_URL TOKEN EXAMPLES`; prints one JSON object
`{"seen": {status: count}, "server_errors": [...]}` on its last line.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def fuzz(live_api: str, token: str, examples: int) -> tuple[dict[int, int], list[str]]:
    schema = schemathesis.openapi.from_url(f"{live_api}/openapi.json")
    seen: dict[int, int] = {}
    server_errors: list[str] = []
    for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=schema.as_strategy(generation_mode=mode), authorised=st.booleans())
        def one(case: Any, authorised: bool) -> None:
            headers = {"Authorization": f"Bearer {token}"} if authorised else None
            response = case.call(base_url=live_api, headers=headers, timeout=30)
            seen[response.status_code] = seen.get(response.status_code, 0) + 1
            if response.status_code >= 500:
                server_errors.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{response.text[:300]}"
                )

        one()
    return seen, server_errors


def main(argv: list[str]) -> int:
    live_api, token, examples = argv[1], argv[2], int(argv[3])
    seen, server_errors = fuzz(live_api, token, examples)
    print(json.dumps({"seen": seen, "server_errors": server_errors}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
