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
from conductor.api.control import ConductorControl, DryRun, Override, PauseState, PlanRevision
from conductor.api.schemas import (
    AgentOut,
    DecisionOut,
    Earnings,
    MinuteOut,
    NavStatus,
    RequestOut,
    SaturationOut,
    ScopeIn,
    ShipDetailOut,
    ShipOut,
    StatsOut,
)
from flotilla.clock import Clock
from flotilla.db import analytics, fleet_views
from flotilla.db.pool import ConnectionPool

__all__ = [
    "API_PREFIX",
    "MAX_WINDOW_MINUTES",
    "DryRunOut",
    "OverrideIn",
    "OverrideOut",
    "PauseOut",
    "PlanOut",
    "create_app",
]

API_PREFIX = "/api/v1"
MAX_WINDOW_MINUTES = 60 * 24 * 31
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")
_PLAN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "application/yaml": {"schema": {"type": "object"}},
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
    updated_at: datetime
    updated_by: str
    plan: dict[str, Any]

    @classmethod
    def of(cls, revision: PlanRevision) -> PlanOut:
        """From the conductor's record."""
        return cls(
            revision=revision.revision,
            updated_at=revision.updated_at,
            updated_by=revision.updated_by,
            plan=dict(revision.document),
        )


class DryRunOut(BaseModel):
    """What the reconciler would do for a proposed plan."""

    purchases: list[dict[str, Any]]
    assignments: list[dict[str, Any]]
    notes: list[str]

    @classmethod
    def of(cls, dry_run: DryRun) -> DryRunOut:
        """From the conductor's answer."""
        return cls(
            purchases=[dict(p) for p in dry_run.purchases],
            assignments=[dict(a) for a in dry_run.assignments],
            notes=list(dry_run.notes),
        )


class OverrideIn(BaseModel):
    """A manual assignment: the behaviour (with parameters) a ship runs whatever the plan says,
    until `expires_at` or for `ttl_seconds` (neither: until removed)."""

    model_config = ConfigDict(extra="forbid")

    behaviour: str = Field(min_length=1, max_length=64)
    params: dict[str, Annotated[str, Field(max_length=256)]] = Field(default_factory=dict)
    waypoint_symbol: str = Field(default="", max_length=64)
    expires_at: datetime | None = None
    ttl_seconds: float | None = Field(default=None, gt=0, le=365 * 86400)


class OverrideOut(BaseModel):
    """An override in force."""

    ship_symbol: str
    behaviour: str
    params: dict[str, str]
    waypoint_symbol: str
    expires_at: datetime | None
    set_at: datetime

    @classmethod
    def of(cls, override: Override) -> OverrideOut:
        """From the conductor's record."""
        return cls(
            ship_symbol=override.ship_symbol,
            behaviour=override.behaviour,
            params=dict(override.params),
            waypoint_symbol=override.waypoint_symbol,
            expires_at=override.expires_at,
            set_at=override.set_at,
        )


class PauseOut(BaseModel):
    """What is paused."""

    purchases: bool
    everything: bool
    saturation_holds_purchases: bool

    @classmethod
    def of(cls, state: PauseState) -> PauseOut:
        """From the conductor's state."""
        return cls(
            purchases=state.purchases,
            everything=state.everything,
            saturation_holds_purchases=state.saturation_holds_purchases,
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


def _validated(control: ConductorControl, document: Any) -> Any:
    try:
        return control.validate_plan(document)
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


def create_app(
    *,
    control: ConductorControl,
    pool: ConnectionPool,
    token: SecretStr | None,
    clock: Clock,
    extra_routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """The API app over the running conductor (`control`) and the database (`pool`); writes need
    `token`. `extra_routers` are mounted beside the API (e.g. the web pages)."""
    app = FastAPI(
        title="Flotilla conductor",
        summary="The fleet plan, the ships, the figures and the controls of one conductor.",
        version="1",
    )
    writes = [Depends(bearer_auth(token))]
    api = APIRouter(prefix=API_PREFIX)

    def since(minutes: int, until: datetime | None) -> tuple[datetime, timedelta]:
        end = until.astimezone(UTC) if until is not None else clock.now()
        return end, timedelta(minutes=minutes)

    # --- the plan -----------------------------------------------------------------------------

    @api.get("/plan", response_model=PlanOut, tags=["plan"], responses={404: {}})
    async def get_plan(
        request: Request,
        format: Annotated[str | None, Query(pattern="^(json|yaml)$")] = None,
    ) -> Any:
        """The plan in force (YAML with `?format=yaml` or `Accept: application/yaml`)."""
        current = await control.current_plan()
        if current is None:
            raise HTTPException(404, detail="no plan yet")
        out = PlanOut.of(current)
        return _yaml_response(out.model_dump(mode="json")) if _wants_yaml(request, format) else out

    @api.put(
        "/plan",
        response_model=PlanOut,
        tags=["plan"],
        dependencies=writes,
        openapi_extra=_PLAN_BODY,
    )
    async def put_plan(request: Request) -> PlanOut:
        """Replace the plan (JSON or YAML body); the answer is the new revision."""
        plan = _validated(control, await _document(request))
        return PlanOut.of(await control.replace_plan(plan, updated_by="api"))

    @api.get("/plan/history", response_model=list[PlanOut], tags=["plan"])
    async def plan_history(
        limit: Annotated[int, Query(ge=1, le=200)] = 20,
    ) -> list[PlanOut]:
        """The latest revisions, newest first."""
        return [PlanOut.of(r) for r in await control.plan_history(limit)]

    @api.post("/plan/dry-run", response_model=DryRunOut, tags=["plan"], openapi_extra=_PLAN_BODY)
    async def dry_run(request: Request) -> DryRunOut:
        """The purchases and assignments the reconciler would make now for a proposed plan
        (JSON or YAML body); nothing is changed."""
        plan = _validated(control, await _document(request))
        return DryRunOut.of(await control.dry_run(plan))

    # --- ships and agents ---------------------------------------------------------------------

    @api.get("/ships", response_model=list[ShipOut], tags=["fleet"])
    async def list_ships(
        role: Annotated[str | None, Query(max_length=64)] = None,
        behaviour: Annotated[str | None, Query(max_length=64)] = None,
        status: NavStatus | None = None,
        agent: Annotated[str | None, Query(max_length=64)] = None,
    ) -> list[ShipOut]:
        """Every ship, optionally of one role, behaviour or navigation status."""
        async with pool.connection() as conn:
            ships = await fleet_views.list_ships(
                conn,
                agent=agent,
                role=role,
                behaviour=behaviour,
                status=status.value if status else None,
            )
        return [ShipOut.of(s) for s in ships]

    @api.get("/ships/{symbol}", response_model=ShipDetailOut, tags=["fleet"], responses={404: {}})
    async def one_ship(
        symbol: Annotated[str, Path(max_length=64)],
        minutes: Minutes = 60,
        requests: Annotated[int, Query(ge=1, le=500)] = 20,
    ) -> ShipDetailOut:
        """One ship: state, assignment, override, recent calls and earnings over the window."""
        async with pool.connection() as conn:
            detail = await fleet_views.ship_detail(
                conn,
                symbol,
                now=clock.now(),
                window=timedelta(minutes=minutes),
                requests=requests,
            )
        if detail is None:
            raise HTTPException(404, detail=f"no ship {symbol!r}")
        override = (await control.overrides()).get(symbol)
        return ShipDetailOut(
            ship=ShipOut.of(detail.ship),
            override=OverrideOut.of(override).model_dump(mode="json") if override else None,
            requests=[RequestOut.model_validate(r, from_attributes=True) for r in detail.requests],
            earnings=Earnings.of(detail.earnings),
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
            raise RequestValidationError(
                [
                    {
                        "type": "value_error",
                        "loc": ("body", "ttl_seconds"),
                        "msg": "give expires_at or ttl_seconds, not both",
                    }
                ]
            )
        expires = body.expires_at
        if body.ttl_seconds is not None:
            expires = now + timedelta(seconds=body.ttl_seconds)
        if expires is not None:
            if expires.tzinfo is None:
                expires = expires.replace(tzinfo=UTC)
            if expires <= now:
                raise RequestValidationError(
                    [
                        {
                            "type": "value_error",
                            "loc": ("body", "expires_at"),
                            "msg": "the override would already have expired",
                        }
                    ]
                )
        try:
            override = await control.set_override(
                symbol,
                behaviour=body.behaviour,
                params=body.params,
                waypoint_symbol=body.waypoint_symbol,
                expires_at=expires,
            )
        except KeyError:
            raise HTTPException(404, detail=f"no ship {symbol!r}") from None
        except ValueError as exc:
            raise RequestValidationError(
                [{"type": "value_error", "loc": ("body", "behaviour"), "msg": str(exc)}]
            ) from None
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
        if not await control.clear_override(symbol):
            raise HTTPException(404, detail=f"{symbol!r} has no override")
        return Response(status_code=204)

    @api.get("/overrides", response_model=list[OverrideOut], tags=["fleet"])
    async def list_overrides() -> list[OverrideOut]:
        """Every override in force."""
        return [OverrideOut.of(o) for o in (await control.overrides()).values()]

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
        now, window = since(minutes, until)
        async with pool.connection() as conn:
            fleet = await analytics.fleet_stats(conn, now=now, window=window, agent=agent)
            ships = await analytics.earnings_by_ship(conn, now=now, window=window, agent=agent)
            behaviours = await analytics.earnings_by_behaviour(
                conn, now=now, window=window, agent=agent
            )
        return StatsOut.of(fleet, [s for s in ships if s.key][:top], behaviours)

    @api.get("/stats/series", response_model=list[MinuteOut], tags=["stats"])
    async def series(
        minutes: Annotated[int, Query(ge=1, le=60 * 24 * 7)] = 60,
        until: Until = None,
        agent: Annotated[str | None, Query(max_length=64)] = None,
    ) -> list[MinuteOut]:
        """One entry per minute of the window (zeros where nothing happened)."""
        now, window = since(minutes, until)
        async with pool.connection() as conn:
            rows = await analytics.minute_series(conn, now=now, window=window, agent=agent)
        return [MinuteOut.of(m) for m in rows]

    # --- controls -----------------------------------------------------------------------------

    @api.get("/control", response_model=PauseOut, tags=["control"])
    async def pause_state() -> PauseOut:
        """What is paused."""
        return PauseOut.of(control.pause_state())

    @api.post("/control/pause", response_model=PauseOut, tags=["control"], dependencies=writes)
    async def pause(body: ScopeIn) -> PauseOut:
        """Pause purchases (`scope: purchases`) or every action (`scope: all`)."""
        return PauseOut.of(await control.pause(everything=body.scope == "all"))

    @api.post("/control/resume", response_model=PauseOut, tags=["control"], dependencies=writes)
    async def resume(body: ScopeIn) -> PauseOut:
        """Resume purchases (`scope: purchases`) or every action (`scope: all`)."""
        return PauseOut.of(await control.resume(everything=body.scope == "all"))

    @api.get("/saturation", response_model=SaturationOut, tags=["control"])
    async def saturation(
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> SaturationOut:
        """The load now, what saturation control holds, and its latest decisions (newest
        last), each with its reason."""
        controller = control.saturation
        load = control.now_load()
        decisions = list(controller.decisions)[-limit:]
        return SaturationOut(
            enabled=controller.settings.enabled,
            top_class=controller.settings.top_class,
            top_class_wait=load.top_class_wait,
            utilisation=load.utilisation,
            purchases_paused=controller.purchases_paused,
            parked=dict(controller.parked),
            decisions=[DecisionOut.of(d) for d in decisions],
        )

    app.include_router(api)
    for router in extra_routers:
        app.include_router(router)
    return app
