"""The probe endpoint answers health, readiness (naming what fails) and metrics."""

from __future__ import annotations

import json
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from persister.probes import probe_app


def _get(app: Any, path: str) -> tuple[str, bytes]:
    answer: dict[str, str] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        answer["status"] = status

    environ = {"PATH_INFO": path, "REQUEST_METHOD": "GET", "QUERY_STRING": ""}
    body = b"".join(app(environ, start_response))
    return answer["status"], body


def test_readiness_is_503_and_names_the_failing_dependency() -> None:
    checks = {"nats": True, "database": False}
    app = probe_app(CollectorRegistry(), lambda: checks)
    status, body = _get(app, "/readyz")
    assert status.startswith("503")
    assert json.loads(body) == {"nats": "ok", "database": "failing"}
    checks["database"] = True
    assert _get(app, "/readyz")[0].startswith("200")
    assert _get(app, "/healthz") == ("200 OK", b"ok\n")


def test_any_other_path_serves_the_metrics() -> None:
    registry = CollectorRegistry()
    Counter("flotilla_persister_example", "An example.", registry=registry).inc()
    status, body = _get(probe_app(registry, dict), "/metrics")
    assert status.startswith("200")
    assert b"flotilla_persister_example_total 1.0" in body
