"""The conductor's REST API (FastAPI; the OpenAPI document at `/openapi.json`, its pages at
`/docs`).

Reads: the plan (JSON, or YAML with `?format=yaml` or `Accept: application/yaml`) and its
history, ships (filter by role, behaviour, status) and one ship, agents, stats over a window and
per minute, the pause state and saturation control. Writes — replace the plan, overrides, pause
and resume — need the bearer token (401 without, 403 wrong). The dry run writes nothing, so it
needs no token. Bodies that do not validate are 422 naming each field.

`create_app(..., extra_routers=[...])` mounts more routers beside the API (the conductor's web
pages).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from conductor.api.auth import bearer_auth
from conductor.api.schemas import (
    AgentOut,
    DecisionOut,
    Earnings,
    MinuteOut,
    NavStatus,
    OverrideOut,
    RequestOut,
    SaturationOut,
    ScopeIn,
    ShipDetailOut,
    ShipOut,
    StatsOut,
)
from conductor.core import Conductor, Paused
from conductor.plan import FleetPlan
from conductor.saturation import SaturationLoop
from conductor.store import RevisionConflict, StoredPlan
from flotilla.clock import Clock
from flotilla.db import analytics, fleet_views
from flotilla.db.pool import ConnectionPool

__all__ = [
    "API_PREFIX",
    "MAX_WINDOW_MINUTES",
    "DryRunOut",
    "OverrideIn",
    "PauseOut",
    "PlanOut",
    "create_app",
]

API_PREFIX = "/api/v1"
MAX_WINDOW_MINUTES = 60 * 24 * 31
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")


def _plan_body() -> dict[str, Any]:
    """The request body of the plan's endpoints in the OpenAPI document: the plan's own schema,
    as JSON or YAML."""
    schema = FleetPlan.model_json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return inline(definitions[ref.removeprefix("#/$defs/")])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    plan = inline(schema)
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": plan},
                "application/yaml": {"schema": plan},
            },
        }
    }


Minutes = Annotated[
    int, Query(ge=1, le=MAX_WINDOW_MINUTES, description="the window's length in minutes")
]
Until = Annotated[
    datetime | None,
    Query(description="the window's end (default: now); with a time zone, else UTC"),
]


class PlanOut(BaseModel):
    """One revision of the plan."""

    revision: int
    created_at: datetime
    author: str
    plan: dict[str, Any]

    @classmethod
    def of(cls, stored: StoredPlan) -> PlanOut:
        """From the plan store."""
        return cls(
            revision=stored.revision,
            created_at=stored.created_at,
            author=stored.author,
            plan=stored.plan.to_data(),
        )


class DryRunOut(BaseModel):
    """What the reconciler would do now for a proposed plan: assignments to write, ships to buy
    (in order), the `auto` roles' choices with their figures, ships per role desired and
    matched, and notes on what could not be done."""

    purchases: list[dict[str, Any]]
    assignments: list[dict[str, Any]]
    choices: list[dict[str, Any]]
    desired: dict[str, int]
    actual: dict[str, int]
    notes: list[str]


class OverrideIn(BaseModel):
    """A manual assignment: the behaviour (with parameters) a ship runs whatever the plan says,
    until `expires_at` or for `ttl_seconds` (neither: until removed)."""

    model_config = ConfigDict(extra="forbid")

    behaviour: str = Field(min_length=1, max_length=64)
    params: dict[str, Annotated[str, Field(max_length=200)]] = Field(default_factory=dict)
    waypoint_symbol: str = Field(default="", max_length=64)
    reason: str = Field(default="", max_length=500, description="why, for the decisions log")
    expires_at: datetime | None = None
    ttl_seconds: float | None = Field(default=None, gt=0, le=365 * 86400)


class PauseOut(BaseModel):
    """What is paused: purchases, every action, and saturation control's own hold."""

    purchases: bool
    everything: bool
    saturation_holds_purchases: bool

    @classmethod
    def of(cls, paused: Paused, conductor: Conductor) -> PauseOut:
        """From the conductor's state."""
        return cls(
            purchases=paused.purchases,
            everything=paused.all,
            saturation_holds_purchases=conductor.saturation_holds_purchases,
        )


def _wants_yaml(request: Request, format: str | None) -> bool:
    if format is not None:
        return format == "yaml"
    accept = request.headers.get("accept", "")
    return any(kind in accept for kind in YAML_TYPES)


def _yaml_response(document: Any) -> Response:
    return Response(
        yaml.safe_dump(document, sort_keys=False, allow_unicode=True),
        media_type="application/yaml",
    )


async def _document(request: Request) -> Any:
    """The request body as a document: YAML when its content type says so, else JSON."""
    raw = await request.body()
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    try:
        if kind in YAML_TYPES:
            return yaml.safe_load(raw.decode())
        if kind not in ("application/json", ""):
            raise HTTPException(
                415, detail=f"send the plan as application/json or application/yaml, not {kind}"
            )
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
        where = getattr(exc, "problem_mark", None) or ""
        raise RequestValidationError(
            [{"type": "malformed", "loc": ("body",), "msg": f"not a document: {exc} {where}"}]
        ) from None


def _validated(document: Any) -> FleetPlan:
    try:
        return FleetPlan.model_validate(document)
    except ValidationError as exc:
        raise RequestValidationError(
            [
                {
                    "type": e["type"],
                    "loc": ("body", *e["loc"]),
                    "msg": e["msg"],
                    "input": e.get("input"),
                }
                for e in exc.errors(include_url=False)
            ]
        ) from None


def _field_error(field: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"type": "value_error", "loc": ("body", field), "msg": message}])


def create_app(
    *,
    conductor: Conductor,
    saturation: SaturationLoop,
    pool: ConnectionPool,
    token: SecretStr | None,
    clock: Clock,
    extra_routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """The API over a running `conductor` (and its saturation control) and the database behind
    `pool`; writes need `token`. `extra_routers` are mounted beside the API (the web pages)."""
    app = FastAPI(
        title="Flotilla conductor",
        summary="The fleet plan, the ships, the figures and the controls of one conductor.",
        version="1",
    )
    writes = [Depends(bearer_auth(token))]
    api = APIRouter(prefix=API_PREFIX)
    plan_body = _plan_body()

    def window(minutes: int, until: datetime | None) -> tuple[datetime, timedelta]:
        end = until if until is not None else clock.now()
        if end.tzinfo is None:
            end = end.replace(tzinfo=UTC)
        return end.astimezone(UTC), timedelta(minutes=minutes)

    async def rows_by_symbol() -> dict[str, fleet_views.ShipView]:
        async with pool.connection() as conn:
            rows = await fleet_views.list_ships(conn)
        return {row.symbol: row for row in rows}

    # --- the plan -----------------------------------------------------------------------------

    @api.get("/plan", response_model=PlanOut, tags=["plan"], responses={404: {}})
    async def get_plan(
        request: Request,
        format: Annotated[str | None, Query(pattern="^(json|yaml)$")] = None,
    ) -> Any:
        """The plan in force (YAML with `?format=yaml` or `Accept: application/yaml`)."""
        stored = await conductor.get_plan()
        if stored is None:
            raise HTTPException(404, detail="no plan yet")
        out = PlanOut.of(stored)
        return _yaml_response(out.model_dump(mode="json")) if _wants_yaml(request, format) else out

    @api.put(
        "/plan",
        response_model=PlanOut,
        tags=["plan"],
        dependencies=writes,
        openapi_extra=plan_body,
        responses={409: {}},
    )
    async def put_plan(
        request: Request,
        expected_revision: Annotated[
            int | None,
            Query(ge=0, description="refuse (409) unless this is the newest revision (0: none)"),
        ] = None,
    ) -> PlanOut:
        """Replace the plan (JSON or YAML body); the answer is the new revision."""
        plan = _validated(await _document(request))
        try:
            stored = await conductor.replace_plan(
                plan, author="api", expected_revision=expected_revision
            )
        except RevisionConflict as exc:
            raise HTTPException(409, detail=str(exc)) from None
        return PlanOut.of(stored)

    @api.get("/plan/history", response_model=list[PlanOut], tags=["plan"])
    async def plan_history(limit: Annotated[int, Query(ge=1, le=200)] = 20) -> list[PlanOut]:
        """The latest revisions, newest first."""
        return [PlanOut.of(r) for r in await conductor.plan_history(limit)]

    @api.post("/plan/dry-run", response_model=DryRunOut, tags=["plan"], openapi_extra=plan_body)
    async def dry_run(request: Request) -> DryRunOut:
        """The purchases and assignments the reconciler would make now for a proposed plan
        (JSON or YAML body); nothing is changed, so no token is needed."""
        plan = _validated(await _document(request))
        return DryRunOut.model_validate((await conductor.dry_run(plan)).as_data())

    # --- ships and agents ---------------------------------------------------------------------

    @api.get("/ships", response_model=list[ShipOut], tags=["fleet"])
    async def list_ships(
        role: Annotated[str | None, Query(max_length=64)] = None,
        behaviour: Annotated[str | None, Query(max_length=64)] = None,
        status: NavStatus | None = None,
    ) -> list[ShipOut]:
        """Every ship, optionally of one role, behaviour or navigation status."""
        ships = conductor.list_ships(
            role=role, behaviour=behaviour, status=status.value if status else None
        )
        rows = await rows_by_symbol()
        return [ShipOut.of(info, rows.get(info.symbol)) for info in ships]

    @api.get("/ships/{symbol}", response_model=ShipDetailOut, tags=["fleet"], responses={404: {}})
    async def one_ship(
        symbol: Annotated[str, Path(max_length=64)],
        minutes: Minutes = 60,
        requests: Annotated[int, Query(ge=1, le=500)] = 20,
    ) -> ShipDetailOut:
        """One ship: type, place, assignment and override, its database state, its recent
        calls and its earnings over the window."""
        info = conductor.ship(symbol)
        if info is None:
            raise HTTPException(404, detail=f"no ship {symbol!r} in the fleet")
        async with pool.connection() as conn:
            detail = await fleet_views.ship_detail(
                conn, symbol, now=clock.now(), window=timedelta(minutes=minutes), requests=requests
            )
            earnings = (
                detail.earnings
                if detail
                else await analytics.ship_earnings(
                    conn, symbol, now=clock.now(), window=timedelta(minutes=minutes)
                )
            )
        return ShipDetailOut(
            ship=ShipOut.of(info, detail.ship if detail else None),
            requests=[
                RequestOut.model_validate(r, from_attributes=True)
                for r in (detail.requests if detail else [])
            ],
            earnings=Earnings.of(earnings),
            window_minutes=minutes,
        )

    @api.put(
        "/ships/{symbol}/override",
        response_model=OverrideOut,
        tags=["fleet"],
        dependencies=writes,
        responses={404: {}},
    )
    async def set_override(
        symbol: Annotated[str, Path(max_length=64)], body: OverrideIn
    ) -> OverrideOut:
        """Hold the ship on a behaviour until the override expires or is removed."""
        now = clock.now()
        if body.expires_at is not None and body.ttl_seconds is not None:
            raise _field_error("ttl_seconds", "give expires_at or ttl_seconds, not both")
        expires = body.expires_at
        if body.ttl_seconds is not None:
            expires = now + timedelta(seconds=body.ttl_seconds)
        if expires is not None:
            if expires.tzinfo is None:
                expires = expires.replace(tzinfo=UTC)
            if expires <= now:
                raise _field_error("expires_at", "the override would already have expired")
        try:
            override = await conductor.set_override(
                symbol,
                body.behaviour,
                params=body.params,
                waypoint=body.waypoint_symbol,
                reason=body.reason,
                expires_at=expires,
            )
        except KeyError:
            raise HTTPException(404, detail=f"no ship {symbol!r} in the fleet") from None
        except ValueError as exc:
            raise _field_error("behaviour", str(exc)) from None
        return OverrideOut.of(override)

    @api.delete(
        "/ships/{symbol}/override",
        status_code=204,
        tags=["fleet"],
        dependencies=writes,
        responses={404: {}},
    )
    async def clear_override(symbol: Annotated[str, Path(max_length=64)]) -> Response:
        """Remove the ship's override: the plan assigns it again."""
        if not await conductor.clear_override(symbol):
            raise HTTPException(404, detail=f"{symbol!r} has no override")
        return Response(status_code=204)

    @api.get("/overrides", response_model=list[OverrideOut], tags=["fleet"])
    async def list_overrides() -> list[OverrideOut]:
        """Every stored override (an expired one no longer holds)."""
        stored = await conductor.overrides()
        return [OverrideOut.of(stored[ship]) for ship in sorted(stored)]

    @api.get("/agents", response_model=list[AgentOut], tags=["fleet"])
    async def list_agents() -> list[AgentOut]:
        """Every agent the persister has seen."""
        async with pool.connection() as conn:
            agents = await fleet_views.list_agents(conn)
        return [AgentOut.model_validate(a, from_attributes=True) for a in agents]

    # --- stats --------------------------------------------------------------------------------

    @api.get("/stats", response_model=StatsOut, tags=["stats"])
    async def stats(
        minutes: Minutes = 60,
        until: Until = None,
        agent: Annotated[str | None, Query(max_length=64)] = None,
        top: Annotated[int, Query(ge=1, le=100)] = 10,
    ) -> StatsOut:
        """CPH, CPR, saturation, seconds per request and ships over the window, with the best
        ships and every behaviour by net credits."""
        now, length = window(minutes, until)
        async with pool.connection() as conn:
            fleet = await analytics.fleet_stats(conn, now=now, window=length, agent=agent)
            ships = await analytics.earnings_by_ship(conn, now=now, window=length, agent=agent)
            behaviours = await analytics.earnings_by_behaviour(
                conn, now=now, window=length, agent=agent
            )
        return StatsOut.of(fleet, [s for s in ships if s.key][:top], behaviours)

    @api.get("/stats/series", response_model=list[MinuteOut], tags=["stats"])
    async def series(
        minutes: Annotated[int, Query(ge=1, le=60 * 24 * 7)] = 60,
        until: Until = None,
        agent: Annotated[str | None, Query(max_length=64)] = None,
    ) -> list[MinuteOut]:
        """One entry per minute of the window (zeros where nothing happened)."""
        now, length = window(minutes, until)
        async with pool.connection() as conn:
            rows = await analytics.minute_series(conn, now=now, window=length, agent=agent)
        return [MinuteOut.of(m) for m in rows]

    # --- controls and decisions ---------------------------------------------------------------

    @api.get("/control", response_model=PauseOut, tags=["control"])
    async def pause_state() -> PauseOut:
        """What is paused."""
        return PauseOut.of(conductor.paused, conductor)

    @api.post("/control/pause", response_model=PauseOut, tags=["control"], dependencies=writes)
    async def pause(body: ScopeIn) -> PauseOut:
        """Pause purchases (`scope: purchases`) or every action (`scope: all`)."""
        if body.scope == "all":
            return PauseOut.of(await conductor.pause_all(), conductor)
        return PauseOut.of(await conductor.pause_purchases(), conductor)

    @api.post("/control/resume", response_model=PauseOut, tags=["control"], dependencies=writes)
    async def resume(body: ScopeIn) -> PauseOut:
        """Resume purchases (`scope: purchases`) or every action (`scope: all`)."""
        if body.scope == "all":
            return PauseOut.of(await conductor.resume_all(), conductor)
        return PauseOut.of(await conductor.resume_purchases(), conductor)

    @api.get("/saturation", response_model=SaturationOut, tags=["control"])
    async def saturation_state(
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> SaturationOut:
        """The load now, what saturation control holds, and its decisions (newest first), each
        with its reason and figures."""
        load = saturation.load()
        decisions = await conductor.decisions(limit=limit, kind=SaturationLoop.KIND)
        return SaturationOut(
            enabled=saturation.settings.enabled,
            top_class=saturation.settings.top_class,
            top_class_wait=load.top_class_wait,
            utilisation=load.utilisation,
            purchases_held=conductor.saturation_holds_purchases,
            parked=dict(conductor.parked),
            decisions=[DecisionOut.of(d) for d in decisions],
        )

    @api.get("/decisions", response_model=list[DecisionOut], tags=["control"])
    async def decisions(
        kind: Annotated[str | None, Query(max_length=64)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[DecisionOut]:
        """The conductor's decisions (purchases, overrides, pauses, saturation …), newest
        first."""
        return [DecisionOut.of(d) for d in await conductor.decisions(limit=limit, kind=kind)]

    app.include_router(api)
    for router in extra_routers:
        app.include_router(router)
    return app
