"""Endpoints: every call gets its path template and priority class, and writes that could
happen twice are marked as such."""

from __future__ import annotations

import pytest

from flotilla.semconv import BACKGROUND, COOLDOWN_START, FLEET, SHIP_UNBLOCK
from gateway.endpoints import resolve


@pytest.mark.parametrize(
    ("method", "path", "template", "priority"),
    [
        ("POST", "/my/ships/A-1/extract", "/my/ships/{shipSymbol}/extract", COOLDOWN_START),
        ("POST", "/my/ships/A-1/extract/survey", "/my/ships/{shipSymbol}/extract/survey",
         COOLDOWN_START),
        ("POST", "/my/ships/A-1/siphon", "/my/ships/{shipSymbol}/siphon", COOLDOWN_START),
        ("POST", "/my/ships/A-1/survey", "/my/ships/{shipSymbol}/survey", COOLDOWN_START),
        ("POST", "/my/ships/A-1/navigate", "/my/ships/{shipSymbol}/navigate", COOLDOWN_START),
        ("POST", "/my/ships/A-1/jump", "/my/ships/{shipSymbol}/jump", COOLDOWN_START),
        ("POST", "/my/ships/A-1/warp", "/my/ships/{shipSymbol}/warp", COOLDOWN_START),
        ("POST", "/my/ships/A-1/scan/waypoints", "/my/ships/{shipSymbol}/scan/waypoints",
         COOLDOWN_START),
        ("POST", "/my/ships/A-1/orbit", "/my/ships/{shipSymbol}/orbit", SHIP_UNBLOCK),
        ("POST", "/my/ships/A-1/dock", "/my/ships/{shipSymbol}/dock", SHIP_UNBLOCK),
        ("POST", "/my/ships/A-1/sell", "/my/ships/{shipSymbol}/sell", SHIP_UNBLOCK),
        ("POST", "/my/ships/A-1/purchase", "/my/ships/{shipSymbol}/purchase", SHIP_UNBLOCK),
        ("POST", "/my/ships/A-1/refuel", "/my/ships/{shipSymbol}/refuel", SHIP_UNBLOCK),
        ("POST", "/my/ships/A-1/jettison", "/my/ships/{shipSymbol}/jettison", SHIP_UNBLOCK),
        ("POST", "/my/ships/A-1/transfer", "/my/ships/{shipSymbol}/transfer", SHIP_UNBLOCK),
        ("PATCH", "/my/ships/A-1/nav", "/my/ships/{shipSymbol}/nav", SHIP_UNBLOCK),
        ("POST", "/my/contracts/c1/deliver", "/my/contracts/{contractId}/deliver", SHIP_UNBLOCK),
        ("POST", "/my/ships", "/my/ships", FLEET),
        ("POST", "/my/ships/A-1/mounts/install", "/my/ships/{shipSymbol}/mounts/install", FLEET),
        ("POST", "/my/contracts/c1/accept", "/my/contracts/{contractId}/accept", FLEET),
        ("GET", "/my/ships", "/my/ships", BACKGROUND),
        ("GET", "/my/ships/A-1", "/my/ships/{shipSymbol}", BACKGROUND),
        ("GET", "/my/ships/A-1/nav", "/my/ships/{shipSymbol}/nav", BACKGROUND),
        ("GET", "/my/agent", "/my/agent", BACKGROUND),
        ("GET", "/systems/X1-A/waypoints/X1-A-1/market",
         "/systems/{systemSymbol}/waypoints/{waypointSymbol}/market", BACKGROUND),
        ("GET", "/systems/X1-A/waypoints/X1-A-1/shipyard/",
         "/systems/{systemSymbol}/waypoints/{waypointSymbol}/shipyard", BACKGROUND),
        ("get", "/systems/X1-A/waypoints?traits=MARKETPLACE",
         "/systems/{systemSymbol}/waypoints", BACKGROUND),
    ],
)  # fmt: skip
def test_each_call_gets_its_template_and_class(
    method: str, path: str, template: str, priority: int
) -> None:
    resolved = resolve(method, path)
    assert resolved.endpoint.template == template
    assert resolved.endpoint.priority == priority


def test_the_ship_comes_from_the_path() -> None:
    assert resolve("POST", "/my/ships/AGENT-7/extract").ship_symbol == "AGENT-7"
    assert resolve("GET", "/my/agent").ship_symbol == ""


def test_only_idempotent_writes_may_be_repeated_after_an_ambiguous_failure() -> None:
    assert not resolve("POST", "/my/ships/A/orbit").endpoint.changes_state
    assert not resolve("POST", "/my/ships/A/dock").endpoint.changes_state
    assert not resolve("PATCH", "/my/ships/A/nav").endpoint.changes_state
    assert not resolve("GET", "/my/ships/A").endpoint.changes_state
    for write in ("sell", "purchase", "refuel", "extract", "navigate", "jettison", "transfer"):
        assert resolve("POST", f"/my/ships/A/{write}").endpoint.changes_state, write
    assert resolve("POST", "/my/ships").endpoint.changes_state


def test_unknown_paths_keep_their_path_and_are_background_reads_or_fleet_writes() -> None:
    read = resolve("GET", "/my/factions")
    write = resolve("POST", "/my/something/new")
    assert (read.endpoint.template, read.endpoint.priority) == ("/my/factions", BACKGROUND)
    assert (write.endpoint.priority, write.endpoint.changes_state) == (FLEET, True)


def test_every_endpoint_of_the_api_reference_is_known(shared_dir: object) -> None:
    """Each operation in the official API document resolves to a template of its own."""
    import json
    from pathlib import Path

    spec = json.loads(
        (Path(str(shared_dir)) / "spacetraders-api" / "reference" / "SpaceTraders.json").read_text()
    )
    missing = []
    for template, operations in spec["paths"].items():
        for method in operations:
            if method.upper() not in {"GET", "POST", "PATCH"}:
                continue
            concrete = template.replace("{", "").replace("}", "")
            resolved = resolve(method, concrete)
            if resolved.endpoint.template != template:
                missing.append(f"{method.upper()} {template}")
    assert missing == []
