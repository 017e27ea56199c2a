"""The dashboard as one FastAPI `APIRouter`: four HTML pages, their static assets (served from
this package, never from elsewhere) and the JSON data endpoints the pages poll.

    app.include_router(dashboard_router(source, write_token=token))

Pages (under `prefix`, `/dashboard` by default): `/` the fleet overview, `/ships/{symbol}` one
ship, `/charts`, `/plan`. Data: `/data/...`; reads are open, writes (`PUT /data/plan`, the
override) need `Authorization: Bearer <token>` — 401 without a token, 403 with a wrong one or
when no token is configured.
"""

from __future__ import annotations

import hmac
import html
import re
from datetime import timedelta
from importlib import resources
from typing import Annotated, Any, Final

from fastapi import APIRouter, Body, Header, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from conductor.web.source import DashboardSource, PlanInvalid, SourceUnavailable, UnknownShip

__all__ = ["ASSETS", "DEFAULT_PREFIX", "PAGES", "dashboard_router", "parse_window"]

DEFAULT_PREFIX: Final = "/dashboard"
ASSETS: Final = {
    "dashboard.css": "text/css; charset=utf-8",
    "common.js": "text/javascript; charset=utf-8",
    "charts.js": "text/javascript; charset=utf-8",
    "overview.js": "text/javascript; charset=utf-8",
    "ship.js": "text/javascript; charset=utf-8",
    "charts_page.js": "text/javascript; charset=utf-8",
    "plan.js": "text/javascript; charset=utf-8",
}
# page name -> (title, script)
PAGES: Final = {
    "overview": ("Fleet overview", "overview.js"),
    "ship": ("Ship", "ship.js"),
    "charts": ("Charts", "charts_page.js"),
    "plan": ("Plan", "plan.js"),
}
_WINDOW = re.compile(r"^(\d{1,5})([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
_LONGEST = timedelta(days=90)


def parse_window(text: str) -> timedelta:
    """`30m`, `1h`, `7d` as a duration; ValueError otherwise (or beyond 90 days)."""
    match = _WINDOW.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise ValueError("window must look like 30m, 1h or 7d")
    window = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if window > _LONGEST:
        raise ValueError("window must be at most 90d")
    return window


def _window(text: str) -> timedelta:
    try:
        return parse_window(text)
    except ValueError as exc:
        raise HTTPException(422, detail=[{"loc": ["query", "window"], "msg": str(exc)}]) from exc


def _asset(name: str) -> bytes:
    return resources.files("conductor.web").joinpath("static", name).read_bytes()


def _page(title: str, page: str, script: str, root: str) -> str:
    nav = "".join(
        f'<a href="{root}{href}" data-page="{name}">{label}</a>'
        for name, href, label in (
            ("overview", "/", "Fleet"),
            ("charts", "/charts", "Charts"),
            ("plan", "/plan", "Plan"),
        )
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} · Flotilla</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{root}/static/dashboard.css">
</head>
<body data-root="{root}" data-page="{page}">
<header><span class="brand">Flotilla</span><nav>{nav}</nav>
<form id="token-form" class="token" autocomplete="off">
<input id="token" type="password" placeholder="token for changes" aria-label="token">
<button type="submit">Save</button><span id="token-state"></span></form></header>
<div id="banner" class="banner" hidden></div>
<main id="main"><p class="loading">Loading…</p></main>
<script src="{root}/static/common.js"></script>
<script src="{root}/static/charts.js"></script>
<script src="{root}/static/{script}"></script>
</body></html>
"""


def dashboard_router(
    source: DashboardSource, *, write_token: str | None, prefix: str = DEFAULT_PREFIX
) -> APIRouter:
    """The dashboard's routes under `prefix`, reading and writing through `source`. Writes
    need `write_token` (none configured: every write is refused with 403)."""
    router = APIRouter(prefix=prefix, include_in_schema=False)
    assets = {name: _asset(name) for name in ASSETS}

    def root(request: Request) -> str:
        return str(request.scope.get("root_path", "")) + prefix

    def page(request: Request, name: str) -> HTMLResponse:
        title, script = PAGES[name]
        return HTMLResponse(_page(title, name, script, root(request)))

    def authorize(authorization: str | None) -> str:
        if not authorization or not authorization.lower().startswith("bearer "):
            raise HTTPException(401, "a bearer token is needed to change anything")
        given = authorization[len("bearer ") :].strip()
        if write_token is None:
            raise HTTPException(403, "changes are disabled: the conductor has no token set")
        if not hmac.compare_digest(given.encode(), write_token.encode()):
            raise HTTPException(403, "the token is wrong")
        return "dashboard"

    async def answer(call: Any) -> Any:
        try:
            return await call
        except SourceUnavailable as exc:
            return JSONResponse({"detail": str(exc)}, status_code=503)
        except UnknownShip as exc:
            raise HTTPException(404, f"no ship {exc.args[0]!s}") from exc
        except PlanInvalid as exc:
            raise HTTPException(
                422, detail=[{"loc": ["body", *exc.field.split(".")], "msg": exc.message}]
            ) from exc

    @router.get("/", response_class=HTMLResponse, name="dashboard_overview")
    async def overview_page(request: Request) -> HTMLResponse:
        return page(request, "overview")

    @router.get("/ships/{symbol}", response_class=HTMLResponse)
    async def ship_page(request: Request, symbol: str) -> HTMLResponse:
        return page(request, "ship")

    @router.get("/charts", response_class=HTMLResponse)
    async def charts_page(request: Request) -> HTMLResponse:
        return page(request, "charts")

    @router.get("/plan", response_class=HTMLResponse)
    async def plan_page(request: Request) -> HTMLResponse:
        return page(request, "plan")

    @router.get("/static/{name}")
    async def static(name: str) -> Response:
        if name not in assets:
            raise HTTPException(404, f"no asset {name}")
        return Response(
            assets[name], media_type=ASSETS[name], headers={"Cache-Control": "no-cache"}
        )

    @router.get("/data/overview")
    async def overview(window: Annotated[str, Query()] = "7d") -> Any:
        return await answer(source.overview(_window(window)))

    @router.get("/data/ships")
    async def ships() -> Any:
        return await answer(source.ships())

    @router.get("/data/ships/{symbol}")
    async def ship(symbol: str, window: Annotated[str, Query()] = "24h") -> Any:
        return await answer(source.ship(symbol, _window(window)))

    @router.get("/data/charts")
    async def charts(window: Annotated[str, Query()] = "24h") -> Any:
        return await answer(source.charts(_window(window)))

    @router.get("/data/plan")
    async def plan() -> Any:
        return await answer(source.plan())

    @router.post("/data/plan/dry-run")
    async def dry_run(body: Annotated[Any, Body()]) -> Any:
        return await answer(source.dry_run(body))

    @router.put("/data/plan")
    async def apply_plan(
        body: Annotated[Any, Body()],
        authorization: Annotated[str | None, Header()] = None,
    ) -> Any:
        by = authorize(authorization)
        return await answer(source.apply_plan(body, by=by))

    @router.get("/data/auth")
    async def check_token(authorization: Annotated[str | None, Header()] = None) -> Any:
        authorize(authorization)
        return {"ok": True}

    @router.put("/data/ships/{symbol}/override")
    async def set_override(
        symbol: str,
        body: Annotated[dict[str, Any], Body()],
        authorization: Annotated[str | None, Header()] = None,
    ) -> Any:
        authorize(authorization)
        behaviour = body.get("behaviour")
        if not isinstance(behaviour, str) or not behaviour.strip():
            raise HTTPException(
                422, detail=[{"loc": ["body", "behaviour"], "msg": "name a behaviour"}]
            )
        minutes = body.get("expires_minutes")
        if minutes is not None and (
            isinstance(minutes, bool) or not isinstance(minutes, int | float) or minutes <= 0
        ):
            raise HTTPException(
                422,
                detail=[{"loc": ["body", "expires_minutes"], "msg": "must be a positive number"}],
            )
        expires = timedelta(minutes=minutes) if minutes else None
        return await answer(source.set_override(symbol, behaviour.strip(), expires))

    @router.delete("/data/ships/{symbol}/override")
    async def clear_override(
        symbol: str, authorization: Annotated[str | None, Header()] = None
    ) -> Any:
        authorize(authorization)
        return await answer(source.clear_override(symbol))

    return router
