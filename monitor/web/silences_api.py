"""The silences API: list, make (from matchers, or "like this alert"), end early. A lead's
tool, as the alert queue's actions are; viewers may list them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from alerts.silences import Silence, SilenceError, matchers_like
from monitor.alert_queue import MAX_ID
from monitor.alert_queue import get_alert as fetch_alert
from monitor.store.silences import create_silence, end_silence, list_silences
from monitor.web.auth import require
from monitor.web.context import AppContext
from monitor.web.errors import AUTH, BAD_REQUEST, NOT_FOUND, TOO_LARGE


class SilenceBody(BaseModel):
    matchers: dict[str, str] | None = None  # kind, carrier, province, warehouse, platform, shop
    like_alert: Annotated[int, Field(ge=1, le=MAX_ID)] | None = None  # its kind, carrier, province
    starts_at: datetime | None = None  # default now
    ends_at: datetime | None = None
    minutes: Annotated[int, Field(ge=1, le=60 * 24 * 30)] | None = None  # or a duration
    reason: str = Field(min_length=1, max_length=500)


def as_json(silence: Silence) -> dict[str, Any]:
    return {
        "id": silence.id,
        "matchers": dict(silence.matchers),
        "starts_at": silence.starts_at.isoformat(),
        "ends_at": silence.ends_at.isoformat(),
        "reason": silence.reason,
        "created_by": silence.created_by,
    }


def build_silences_router(ctx: AppContext) -> APIRouter:
    router = APIRouter(tags=["silences"], responses={**BAD_REQUEST, **TOO_LARGE, **AUTH})
    auth = ctx.config.auth

    def who(request: Request, role: str) -> str:
        return require(request, auth.tokens, role, auth.anonymous_read)

    @router.get("/api/v1/silences")
    def get_silences(request: Request, ended: bool = False) -> dict[str, Any]:
        who(request, "viewer")
        now = ctx.clock.now()
        return {"silences": [as_json(s) for s in list_silences(ctx.engine, now, ended=ended)]}

    @router.post("/api/v1/silences", status_code=201, responses=NOT_FOUND)
    def post_silence(request: Request, body: Annotated[SilenceBody, Body()]) -> JSONResponse:
        actor = who(request, "lead")
        now = ctx.clock.now()
        matchers = dict(body.matchers or {})
        if body.like_alert is not None:
            alert = fetch_alert(ctx.engine, body.like_alert)
            if alert is None:
                raise HTTPException(404, f"no alert with id {body.like_alert}")
            matchers = matchers_like(alert) | matchers
        starts = body.starts_at or now
        ends = body.ends_at or (starts + timedelta(minutes=body.minutes or 120))
        try:
            silence = create_silence(ctx.engine, matchers, starts, ends, body.reason, actor, now)
        except SilenceError as exc:
            return JSONResponse({"error": str(exc), "field": exc.field}, status_code=422)
        return JSONResponse(as_json(silence), status_code=201)

    @router.delete("/api/v1/silences/{silence_id}", responses=NOT_FOUND)
    def delete_silence(request: Request, silence_id: int) -> dict[str, Any]:
        who(request, "lead")
        ended = None
        if 1 <= silence_id <= MAX_ID:
            ended = end_silence(ctx.engine, silence_id, ctx.clock.now())
        if ended is None:
            raise HTTPException(404, f"no silence with id {silence_id}")
        return as_json(ended)

    return router
