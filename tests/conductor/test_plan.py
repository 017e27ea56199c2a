"""The fleet plan: validation naming the field, YAML and JSON both ways, and the catalog the
plan is checked against agreeing with the dispatcher and the API's OpenAPI document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conductor.catalog import BEHAVIOURS, MOUNTS, SHIP_TYPES, ship_type_of
from conductor.plan import FleetPlan, PlanInvalid
from conductor.service import DEFAULT_PLAN

GOOD = """
reserve: 50000
roles:
  - name: miners
    ship_type: SHIP_MINING_DRONE
    count: 3
    behaviour: mine
    params: {keep: IRON_ORE}
    mounts: [MOUNT_MINING_LASER_I]
  - name: picker
    ship_type: auto
    allowed_types: [SHIP_ORE_HOUND, SHIP_MINING_DRONE]
    count: 0
    behaviour: mine
    priority: 3
"""


def _errors(text: str) -> dict[str, str]:
    with pytest.raises(PlanInvalid) as caught:
        FleetPlan.from_yaml(text)
    return {e.field: e.message for e in caught.value.errors}


def test_a_good_plan_reads_and_round_trips_through_yaml_and_json() -> None:
    plan = FleetPlan.from_yaml(GOOD)
    assert plan.reserve == 50_000
    assert [r.name for r in plan.roles] == ["miners", "picker"]
    assert plan.roles[1].candidates == ("SHIP_ORE_HOUND", "SHIP_MINING_DRONE")
    assert FleetPlan.from_yaml(plan.to_yaml()) == plan
    assert FleetPlan.from_json(plan.to_json()) == plan
    assert json.loads(plan.to_json())["roles"][0]["params"] == {"keep": "IRON_ORE"}


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ("ship_type: SHIP_MINING_DRONE", "roles.0.ship_type", "unknown ship type"),
        ("behaviour: mine\n    params", "roles.0.behaviour", "unknown behaviour"),
        ("count: 3", "roles.0.count", "greater than or equal to 0"),
        ("mounts: [MOUNT_MINING_LASER_I]", "roles.0.mounts", "unknown mount"),
    ],
)
def test_each_bad_field_is_named(change: str, field: str, words: str) -> None:
    bad = {
        "ship_type: SHIP_MINING_DRONE": "ship_type: SHIP_STARDESTROYER",
        "behaviour: mine\n    params": "behaviour: dance\n    params",
        "count: 3": "count: -1",
        "mounts: [MOUNT_MINING_LASER_I]": "mounts: [MOUNT_DEATH_RAY]",
    }[change]
    errors = _errors(GOOD.replace(change, bad, 1))
    assert field in errors, errors
    assert words in errors[field]


def test_auto_needs_allowed_types_and_names_are_unique() -> None:
    errors = _errors(GOOD.replace("    allowed_types: [SHIP_ORE_HOUND, SHIP_MINING_DRONE]\n", ""))
    assert any("allowed_types" in m for m in errors.values()), errors
    errors = _errors(GOOD.replace("name: picker", "name: miners"))
    assert "appears twice" in errors["roles"]
    assert "reserve" in _errors("reserve: -5\nroles: []")
    assert "roles.0.colour" in _errors(
        "roles: [{name: a, ship_type: SHIP_PROBE, count: 1, behaviour: probe, colour: red}]"
    )


def test_text_that_is_not_yaml_or_json_is_refused_naming_the_plan() -> None:
    with pytest.raises(PlanInvalid) as caught:
        FleetPlan.from_json("{not json")
    assert caught.value.errors[0].field == "plan"
    with pytest.raises(PlanInvalid):
        FleetPlan.from_yaml("roles: [unclosed")


def test_the_default_plan_is_valid() -> None:
    plan = FleetPlan.from_yaml(DEFAULT_PLAN)
    assert sum(r.count for r in plan.roles) >= 4


def test_the_behaviours_are_exactly_the_dispatchers() -> None:
    from dispatcher.behaviours import BEHAVIOURS as DISPATCHER_BEHAVIOURS

    assert set(DISPATCHER_BEHAVIOURS) == BEHAVIOURS


def test_ship_types_and_mounts_are_the_apis(shared_dir: Path) -> None:
    models = shared_dir / "spacetraders-api" / "models"
    types = json.loads((models / "ShipType.json").read_text())["enum"]
    mounts = json.loads((models / "ShipMount.json").read_text())["properties"]["symbol"]["enum"]
    assert set(SHIP_TYPES) == set(types)
    assert set(mounts) == MOUNTS


def test_a_ships_type_is_told_from_its_frame_role_and_mounts() -> None:
    from simulator.catalog import SHIP_TYPES as SIMULATED

    for ship_type, spec in SIMULATED.items():
        assert ship_type_of(spec.frame, spec.role, spec.mounts) == ship_type
