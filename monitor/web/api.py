"""The REST API under /api/v1: shipments (import rows, read one with its events), the alert
queue (list, read with history, act) and the weekly scorecard. Bearer tokens or a session;
roles viewer < lead < admin (monitor/web/auth.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from alerts.model import Action
from monitor.alert_queue import (
    MAX_ID,
    ActionError,
    AlertFilter,
    act,
    count_alerts,
    history,
    list_alerts,
)
from monitor.alert_queue import get_alert as fetch_alert
from monitor.ingest import ingest_rows
from monitor.ingest.files import RawRow
from monitor.ingest.records import canonical_header
from monitor.scorecard import build_scorecard
from monitor.scorecard.render import as_dict
from monitor.store.orders import Ambiguous, find_order, order_document
from monitor.web.auth import require
from monitor.web.context import AppContext
from monitor.web.errors import (
    AMBIGUOUS_ORDER,
    AUTH,
    BAD_REQUEST,
    CONFLICT,
    NOT_FOUND,
    TOO_LARGE,
    ambiguous_order,
)


class ActionBody(BaseModel):
    note: str | None = None
    assignee: str | None = None
    until: datetime | None = None


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


def build_api_router(ctx: AppContext) -> APIRouter:
    router = APIRouter(responses={**BAD_REQUEST, **TOO_LARGE, **AUTH, **NOT_FOUND})
    auth = ctx.config.auth

    def who(request: Request, role: str) -> str:
        return require(request, auth.tokens, role, auth.anonymous_read)

    @router.post("/api/v1/shipments", tags=["shipments"])
    def post_shipments(
        request: Request, payload: Annotated[dict[str, Any] | list[dict[str, Any]], Body()]
    ) -> JSONResponse:
        who(request, "lead")
        items = payload if isinstance(payload, list) else [payload]
        rows = [
            RawRow(i + 1, {c: v for k, v in item.items() if (c := canonical_header(str(k)))})
            for i, item in enumerate(items)
        ]
        report = ingest_rows(ctx.engine, ctx.config, rows, ctx.clock.now())
        counts = report.counts
        body = {
            "received": report.rows,
            # orders (the names of the one-parcel-per-order contract), then the parcels
            "inserted": counts.inserted,
            "updated": counts.updated,
            "unchanged": counts.unchanged,
            "parcels": {
                "inserted": counts.parcels_inserted,
                "updated": counts.parcels_updated,
                "unchanged": counts.parcels_unchanged,
            },
            "notes": [str(n) for n in counts.notes],
            "rejected": [
                {"index": r.line - 1, "column": r.column, "reason": r.reason}
                for r in report.rejected
            ],
        }
        accepted = report.rows - len(report.rejected)
        return JSONResponse(body, status_code=422 if report.rejected and not accepted else 200)

    @router.get("/api/v1/shipments/{order_id:path}", tags=["shipments"], responses=AMBIGUOUS_ORDER)
    def get_shipment(request: Request, order_id: str, platform: str | None = None) -> Any:
        """The order with its parcels, each with its tracking events. An order id two
        platforms share needs `?platform=` (409 lists them)."""
        who(request, "viewer")
        found = find_order(ctx.engine, order_id, platform)
        if isinstance(found, Ambiguous):
            return ambiguous_order(found)
        if found is None:
            raise HTTPException(404, f"no shipment with order id {order_id!r}")
        return order_document(found)

    # -- alerts --------------------------------------------------------------------------

    @router.get("/api/v1/alerts", tags=["alerts"])
    def get_alerts(
        request: Request,
        state: str | None = "active",
        kind: str | None = None,
        severity: str | None = None,
        carrier: str | None = None,
        warehouse: str | None = None,
        province: str | None = None,
        platform: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    ) -> dict[str, Any]:
        who(request, "viewer")
        where = AlertFilter(
            state=state or None, kind=kind, severity=severity, carrier=carrier,
            warehouse=warehouse, platform=platform,
            province=province,
        )  # fmt: skip
        return {
            "counts": count_alerts(ctx.engine, where),
            "alerts": [_jsonable(a) for a in list_alerts(ctx.engine, where, limit, offset)],
        }

    @router.get("/api/v1/alerts/{alert_id}", tags=["alerts"])
    def get_alert(request: Request, alert_id: int) -> dict[str, Any]:
        who(request, "viewer")
        alert = fetch_alert(ctx.engine, alert_id)
        if alert is None:
            raise HTTPException(404, f"no alert with id {alert_id}")
        body = _jsonable(alert)
        body["history"] = [_jsonable(h) for h in history(ctx.engine, alert_id)]
        return body

    @router.post("/api/v1/alerts/{alert_id}/{action}", tags=["alerts"], responses=CONFLICT)
    def alert_action(
        request: Request, alert_id: int, action: str, body: ActionBody | None = None
    ) -> dict[str, Any]:
        try:
            verb = Action(action)
        except ValueError:
            raise HTTPException(404, f"unknown action {action!r}") from None
        actor = who(request, "lead")
        body = body or ActionBody()
        try:
            alert = act(ctx.engine, alert_id, verb, actor, ctx.clock.now(), note=body.note,
                        assignee=body.assignee, until=body.until)  # fmt: skip
        except ActionError as exc:
            raise HTTPException(404 if exc.not_found else 409, str(exc)) from exc
        return _jsonable(alert)

    @router.get("/api/v1/scorecards", tags=["scorecards"])
    def get_scorecard(request: Request, week: str | None = None) -> dict[str, Any]:
        who(request, "viewer")
        try:
            card = build_scorecard(ctx.engine, ctx.config, week, ctx.clock.now())
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from exc
        return as_dict(card)

    return router
