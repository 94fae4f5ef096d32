"""The maintenance windows API: list (the config's and the store's), make, end. A carrier's
Spring Festival stop is announced days ahead, on a chat group, not in a deploy: a lead enters
it here and every replica's detection pauses the matching clocks
(docs/rules.md "Maintenance windows")."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from carriers.registry import CARRIERS
from monitor.alert_queue import MAX_ID
from monitor.maintenance import MaintenanceWindow
from monitor.store.maintenance import StoredWindow, add_window, as_config, end_window, list_windows
from monitor.web.auth import require
from monitor.web.context import AppContext
from monitor.web.errors import AUTH, BAD_REQUEST, NOT_FOUND, TOO_LARGE


def as_json(stored: StoredWindow) -> dict[str, Any]:
    return as_config(stored.window) | {
        "id": stored.id,
        "source": "api",
        "created_by": stored.created_by,
        "created_at": stored.created_at.isoformat(),
        "ended_at": stored.ended_at.isoformat() if stored.ended_at else None,
    }


def build_maintenance_router(ctx: AppContext) -> APIRouter:
    router = APIRouter(tags=["maintenance"], responses={**BAD_REQUEST, **TOO_LARGE, **AUTH})
    auth = ctx.config.auth

    def who(request: Request, role: str) -> str:
        return require(request, auth.tokens, role, auth.anonymous_read)

    @router.get("/api/v1/maintenance")
    def get_windows(request: Request, ended: bool = False) -> dict[str, Any]:
        """The config's windows (`source: config`, no id: change them in the file) and those
        made here (`source: api`)."""
        who(request, "viewer")
        configured = [as_config(w) | {"id": None, "source": "config"}
                      for w in ctx.config.maintenance]  # fmt: skip
        stored = [as_json(w) for w in list_windows(ctx.engine, ended=ended)]
        return {"windows": configured + stored}

    @router.post("/api/v1/maintenance", status_code=201)
    def post_window(request: Request, body: Annotated[dict[str, Any], Body()]) -> JSONResponse:
        """A window in the config's shape: `carrier` and/or `province`; `start` and `end`
        (dates or moments), or `weekdays`, `from` and `to`; `timezone`; `reason`."""
        actor = who(request, "lead")
        if "until" in body:
            return JSONResponse({"error": "until: end a window with DELETE"}, status_code=422)
        try:
            window = MaintenanceWindow.model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or None
            message = f"{field}: {first['msg']}" if field else str(first["msg"])
            return JSONResponse({"error": message, "field": field}, status_code=422)
        known = set(CARRIERS) | set(ctx.config.carriers)
        if window.carrier is not None and window.carrier not in known:
            return JSONResponse(
                {"error": f"carrier: unknown carrier code {window.carrier!r} (known: "
                          f"{', '.join(sorted(known))})", "field": "carrier"},
                status_code=422,
            )  # fmt: skip
        stored = add_window(ctx.engine, window, actor, ctx.clock.now())
        return JSONResponse(as_json(stored), status_code=201)

    @router.delete("/api/v1/maintenance/{window_id}", responses=NOT_FOUND)
    def delete_window(request: Request, window_id: int) -> dict[str, Any]:
        """Ends the window now: the hours it already paused stay paused."""
        who(request, "lead")
        ended = None
        if 1 <= window_id <= MAX_ID:
            ended = end_window(ctx.engine, window_id, ctx.clock.now())
        if ended is None:
            raise HTTPException(404, f"no open maintenance window with id {window_id}")
        return as_json(ended)

    return router
