"""Fixtures for the simulator's tests: in-process clients with a manual clock, and a validator
that checks responses against the official OpenAPI document read from `../shared`.

The document is only read here, never copied: `ApiDocument` resolves its `$ref`s (the paths
point at `../models/*.json`, the models at each other) and validates a response body against the
schema for its path, method and status.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft7Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from flotilla.clock import ManualClock
from simulator.app import create_app
from simulator.config import RateLimitSection, SimulatorConfig

BASE = "https://spacetraders.invalid/"
DOCUMENT_URI = BASE + "reference/SpaceTraders.json"

# Where the official document contradicts itself or the live API, the tests follow the live
# API. Each exception: (what is patched, why).
DOCUMENT_EXCEPTIONS = {
    "register-ships": (
        "POST /register 201 lists `ship` as required but defines `ships`; the live API sends "
        "`ships` (the command frigate and the probe)",
    ),
    "nav-route-departure": (
        "ShipNavRoute requires `departure`, which it does not define; the live API replaced it "
        "with `origin` and sends no `departure`",
    ),
    "shipyard-ship-symbol": (
        "ShipyardShip requires `symbol`, which it does not define; a shipyard ship is named by "
        "`type`",
    ),
    "errors-undocumented": (
        "The document declares no error responses; every error (4xx/5xx, rate-limit 429) is "
        "checked against the envelope the live API sends: error{code, message, data?, "
        "requestId?}",
    ),
}

ERROR_ENVELOPE = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "integer"},
                "message": {"type": "string", "minLength": 1},
                "data": {"type": "object"},
                "requestId": {"type": "string"},
            },
        }
    },
}


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value):
        return False
    datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


class ApiDocument:
    """The official OpenAPI document, with the listed exceptions patched in memory."""

    def __init__(self, shared_dir: Path) -> None:
        root = shared_dir / "spacetraders-api"
        self.document = json.loads((root / "reference" / "SpaceTraders.json").read_text())
        models = {p.name: json.loads(p.read_text()) for p in (root / "models").glob("*.json")}
        self._patch(self.document, models)
        resources = [(DOCUMENT_URI, Resource.from_contents(self.document, DRAFT7))]
        resources += [
            (f"{BASE}models/{name}", Resource.from_contents(schema, DRAFT7))
            for name, schema in models.items()
        ]
        self.registry: Registry[Any] = Registry().with_resources(resources)
        self.format_checker = FormatChecker()
        self.format_checker.checks("date-time", raises=ValueError)(_date_time)
        self._templates: list[tuple[str, re.Pattern[str]]] = [
            (str(template), re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$"))
            for template in self.document["paths"]
        ]
        self.checked: list[tuple[str, str, int]] = []

    @staticmethod
    def _patch(document: dict[str, Any], models: dict[str, Any]) -> None:
        register = document["paths"]["/register"]["post"]["responses"]["201"]
        data = register["content"]["application/json"]["schema"]["properties"]["data"]
        data["required"] = ["ships" if r == "ship" else r for r in data["required"]]
        route = models["ShipNavRoute.json"]
        route["required"] = [r for r in route["required"] if r != "departure"]
        yard_ship = models["ShipyardShip.json"]
        yard_ship["required"] = [r for r in yard_ship["required"] if r != "symbol"]

    def operations(self) -> list[tuple[str, str]]:
        """(METHOD, path template) of every operation the document defines."""
        return [
            (method.upper(), path)
            for path, item in self.document["paths"].items()
            for method in item
            if method in {"get", "post", "patch", "put", "delete"}
        ]

    def template_for(self, path: str) -> str:
        matches = [t for t, pattern in self._templates if pattern.match(path)]
        if not matches:
            raise AssertionError(f"{path} matches no path of the official document")
        # A literal segment beats a parameter: prefer the template with the fewest parameters.
        return min(matches, key=lambda t: t.count("{"))

    def validate(self, method: str, path: str, status: int, body: bytes) -> None:
        """Check one response; raises AssertionError naming the operation on a mismatch."""
        template = self.template_for(path)
        operation = self.document["paths"][template].get(method.lower())
        if operation is None:
            raise AssertionError(f"{method} {template} is not an operation of the document")
        self.checked.append((method.upper(), template, status))
        if status >= 400:
            schema: dict[str, Any] = ERROR_ENVELOPE
        else:
            response = operation["responses"].get(str(status))
            if response is None:
                raise AssertionError(
                    f"{method} {template} answered {status}, which the document does not list "
                    f"({sorted(operation['responses'])})"
                )
            if "content" not in response:
                assert body == b"", f"{method} {template} {status} must have no body"
                return
            pointer = "/".join(
                _escape(t) for t in ("paths", template, method.lower(), "responses", str(status))
            )
            schema = {"$ref": f"{DOCUMENT_URI}#/{pointer}/content/application~1json/schema"}
        instance = json.loads(body)
        validator = Draft7Validator(
            schema, registry=self.registry, format_checker=self.format_checker
        )
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        if errors:
            details = "\n".join(
                f"  at {'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message[:300]}"
                for e in errors[:10]
            )
            raise AssertionError(
                f"{method} {template} {status} does not match the document:\n{details}"
            )


@functools.cache
def _load_document(shared_dir: Path) -> ApiDocument:
    return ApiDocument(shared_dir)


@pytest.fixture
def api_document(shared_dir: Path) -> ApiDocument:
    """The official document (parsed once per run), with a fresh list of checked responses."""
    document = _load_document(shared_dir)
    document.checked = []
    return document


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


AppClientFactory = Callable[..., httpx.AsyncClient]


@pytest.fixture
async def make_client(clock: ManualClock) -> AsyncIterator[AppClientFactory]:
    """Builds in-process clients of a fresh simulator that runs on the test's manual clock."""
    clients: list[httpx.AsyncClient] = []

    def make(config: SimulatorConfig | None = None, **overrides: Any) -> httpx.AsyncClient:
        settings = config or SimulatorConfig(
            rate_limit=RateLimitSection(enabled=False), **overrides
        )
        app = create_app(settings, clock)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://simulator.test/v2"
        )
        client.app = app  # type: ignore[attr-defined]
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


async def _register(client: httpx.AsyncClient, symbol: str = "TESTER") -> dict[str, Any]:
    response = await client.post("/register", json={"symbol": symbol, "faction": "COSMIC"})
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    data["headers"] = {"Authorization": f"Bearer {data['token']}"}
    return data


@pytest.fixture
def register() -> Callable[..., Any]:
    """`await register(client, symbol)`: a new agent's registration data, plus `headers` that
    carry its token."""
    return _register
