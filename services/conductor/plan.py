"""The fleet plan: the desired fleet as roles, plus a credit reserve — one document that drives
both purchasing and assignment.

A role says how many ships (`count`, ≥ 0) of a `ship_type` (or `auto`: the conductor chooses
among `allowed_types` by measured earnings) run one `behaviour` with its `params`, optionally
bound to a `waypoint`, carrying the mounts of `mounts` (a multiset; empty: keep what they
have). `priority` orders roles when ships or credits are short (lower first). `reserve` is the
credit floor: the conductor never spends below it.

Plans are read and written as YAML or JSON. Invalid plans raise `PlanInvalid`, whose `errors`
name each field by its path (`roles.0.ship_type`), so the API can answer 422 naming the field.
"""

from __future__ import annotations

import json
import re
from typing import Any, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from conductor.catalog import AUTO, BEHAVIOURS, MOUNTS, SHIP_TYPES
from flotilla.v1 import fleet_pb2

__all__ = ["FieldError", "FleetPlan", "PlanInvalid", "Role", "parse_plan"]

_ROLE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_PARAM_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")


class FieldError(BaseModel):
    """One validation error: the field's path and what is wrong with it."""

    field: str
    message: str


class PlanInvalid(ValueError):
    """A plan that cannot be used; `errors` names every field at fault."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


def _known(value: str, known: frozenset[str] | set[str], what: str) -> str:
    if value not in known:
        raise ValueError(f"unknown {what} {value!r} (known: {', '.join(sorted(known))})")
    return value


class Role(BaseModel):
    """One role of the plan (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="unique within the plan: lower case, digits, '-', '_'")
    ship_type: str = Field(description="a ship type (SHIP_MINING_DRONE, ...) or 'auto'")
    allowed_types: tuple[str, ...] = Field(
        default=(), description="with ship_type 'auto': the types the conductor may choose"
    )
    count: int = Field(ge=0, le=10_000, description="how many ships the role wants")
    behaviour: str = Field(description="the behaviour its ships run")
    params: dict[str, str] = Field(default_factory=dict, description="the behaviour's options")
    waypoint: str = Field(default="", max_length=64, description="where the role works, if bound")
    mounts: tuple[str, ...] = Field(
        default=(), description="the mounts each ship should carry (empty: keep its own)"
    )
    priority: int = Field(default=0, ge=0, le=1000, description="lower is served first")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _ROLE_NAME.match(value):
            raise ValueError("1-40 characters: a lower-case letter, then letters, digits, - or _")
        return value

    @field_validator("ship_type")
    @classmethod
    def _ship_type(cls, value: str) -> str:
        if value == AUTO:
            return value
        return _known(value, set(SHIP_TYPES), "ship type")

    @field_validator("allowed_types")
    @classmethod
    def _allowed(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            _known(item, set(SHIP_TYPES), "ship type")
        return tuple(dict.fromkeys(value))

    @field_validator("behaviour")
    @classmethod
    def _behaviour(cls, value: str) -> str:
        return _known(value, BEHAVIOURS, "behaviour")

    @field_validator("mounts")
    @classmethod
    def _mounts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            _known(item, MOUNTS, "mount")
        return value

    @field_validator("params")
    @classmethod
    def _params(cls, value: dict[str, str]) -> dict[str, str]:
        for key, item in value.items():
            if not _PARAM_KEY.match(key):
                raise ValueError(f"parameter name {key!r}: letters, digits and '_' only")
            if len(item) > 200:
                raise ValueError(f"parameter {key!r}: at most 200 characters")
        return value

    @model_validator(mode="after")
    def _auto_has_choices(self) -> Self:
        if self.ship_type == AUTO and not self.allowed_types:
            raise ValueError("allowed_types: a role with ship_type 'auto' lists the types allowed")
        if self.ship_type != AUTO and self.allowed_types:
            raise ValueError("allowed_types: only a role with ship_type 'auto' lists types")
        return self

    @property
    def candidates(self) -> tuple[str, ...]:
        """The ship types that may fill this role."""
        return self.allowed_types if self.ship_type == AUTO else (self.ship_type,)


class FleetPlan(BaseModel):
    """The desired fleet: roles and a credit reserve."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reserve: int = Field(default=0, ge=0, description="credits never spent on ships or mounts")
    roles: tuple[Role, ...] = Field(default=(), max_length=200, description="the roles")

    @field_validator("roles")
    @classmethod
    def _unique(cls, value: tuple[Role, ...]) -> tuple[Role, ...]:
        seen: set[str] = set()
        for role in value:
            if role.name in seen:
                raise ValueError(f"role name {role.name!r} appears twice")
            seen.add(role.name)
        return value

    def role(self, name: str) -> Role | None:
        """The role called `name`, if the plan has one."""
        return next((r for r in self.roles if r.name == name), None)

    @classmethod
    def from_data(cls, data: Any) -> FleetPlan:
        """The plan in `data` (parsed YAML or JSON); `PlanInvalid` names each bad field."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise PlanInvalid(
                [
                    FieldError(
                        field=".".join(str(p) for p in err["loc"]) or "plan",
                        message=str(err["msg"]).removeprefix("Value error, "),
                    )
                    for err in exc.errors()
                ]
            ) from None

    @classmethod
    def from_yaml(cls, text: str) -> FleetPlan:
        """Read a plan from YAML (JSON is YAML too)."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise PlanInvalid([FieldError(field="plan", message=f"not YAML: {exc}")]) from None
        return cls.from_data(data if data is not None else {})

    @classmethod
    def from_json(cls, text: str) -> FleetPlan:
        """Read a plan from JSON."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise PlanInvalid([FieldError(field="plan", message=f"not JSON: {exc}")]) from None
        return cls.from_data(data)

    def to_data(self) -> dict[str, Any]:
        """The plan as plain data (lists and dicts)."""
        return self.model_dump(mode="json")

    def to_json(self) -> str:
        """The plan as JSON."""
        return json.dumps(self.to_data(), indent=2)

    def to_yaml(self) -> str:
        """The plan as YAML."""
        return yaml.safe_dump(self.to_data(), sort_keys=False)

    def to_proto(self, revision: int) -> fleet_pb2.FleetPlan:
        """The plan as the `FleetPlan` message of the plan bucket (`version` = revision)."""
        message = fleet_pb2.FleetPlan(version=revision, working_capital_floor=self.reserve)
        for role in self.roles:
            message.roles.append(
                fleet_pb2.FleetRole(
                    name=role.name,
                    ship_type=role.ship_type,
                    count=role.count,
                    behaviour=role.behaviour,
                    waypoint_symbol=role.waypoint,
                    mount_spec=list(role.mounts),
                    params=role.params,
                    priority=role.priority,
                )
            )
        return message


def parse_plan(text: str, content_type: str = "yaml") -> FleetPlan:
    """Read a plan from text: `content_type` "json" or "yaml"."""
    return FleetPlan.from_json(text) if content_type == "json" else FleetPlan.from_yaml(text)
