"""The FastAPI app: health, metrics, push callbacks and the REST API (DESIGN.md "HTTP").

Handlers do blocking store work in FastAPI's thread pool (plain `def` handlers, or
`run_in_threadpool` where the raw body must be read first), so the event loop that also runs
the scheduler's jobs is never blocked by a database call.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Body, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import select, text
from starlette.middleware.sessions import SessionMiddleware

from alerts.model import Action
from carriers.base import SignatureError
from monitor import __version__
from monitor.alert_queue import ActionError, AlertFilter, act, count_alerts, history, list_alerts
from monitor.ingest import ingest_rows
from monitor.ingest.files import RawRow
from monitor.ingest.records import canonical_header
from monitor.metrics.instruments import PUSHES_REJECTED
from monitor.scorecard import build_scorecard
from monitor.scorecard.render import as_dict
from monitor.store.tables import SHIPMENTS, TRACKING_EVENTS
from monitor.web.auth import require
from monitor.web.context import AppContext
from monitor.web.pages import build_router
from monitor.web.sessions import session_secret

STALE_AFTER_SECONDS = 600
STATIC = Path(__file__).with_name("static")


class ActionBody(BaseModel):
    note: str | None = None
    assignee: str | None = None
    until: datetime | None = None


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


def create_app(ctx: AppContext) -> FastAPI:
    app = FastAPI(
        title="parcelwatch",
        version=__version__,
        description="Logistics exception monitoring: alert queue, shipments, carrier pushes.",
    )
    app.state.ctx = ctx
    auth = ctx.config.auth

    def who(request: Request, role: str) -> str:
        return require(request, auth.tokens, role, auth.anonymous_read)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", tags=["ops"])
    def readyz() -> JSONResponse:
        problems = []
        try:
            with ctx.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # any driver error means "not ready", with the reason
            problems.append(f"store unreachable: {type(exc).__name__}")
        if not ctx.scheduler_running:
            problems.append("scheduler not running")
        now = ctx.clock.now()
        for job, beat in ctx.heartbeats.items():
            lag = (now - beat).total_seconds()
            if lag > STALE_AFTER_SECONDS * _clock_speed(ctx):
                problems.append(f"job {job} last ran {lag:.0f} s ago")
        status = 503 if problems else 200
        return JSONResponse({"ready": not problems, "problems": problems}, status_code=status)

    @app.get("/metrics", tags=["ops"])
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    # -- carrier push callbacks ----------------------------------------------------------

    async def receive_push(api: str, request: Request) -> Response:
        adapter = ctx.push_adapters.get(api)
        if adapter is None:
            raise HTTPException(404, f"no {api} account is configured")
        body = await request.body()
        try:
            parsed = adapter.parse_push(dict(request.headers), body)
        except SignatureError as exc:
            PUSHES_REJECTED.labels(api=api, reason="signature").inc()
            raise HTTPException(401, f"bad signature: {exc}") from exc
        except ValueError as exc:
            PUSHES_REJECTED.labels(api=api, reason="malformed").inc()
            raise HTTPException(400, f"malformed push: {exc}") from exc
        # Store (group-committed with concurrent pushes), then acknowledge; a failure
        # answers 500 so that the carrier sends the push again. Detection picks the change
        # up on its own tick.
        await ctx.push_writer.submit(parsed.updates)
        return Response(parsed.reply_body, media_type=parsed.reply_content_type)

    @app.post("/webhooks/kuaidi100", tags=["carriers"])
    async def kuaidi100_push(request: Request) -> Response:
        return await receive_push("kuaidi100", request)

    @app.post("/webhooks/17track", tags=["carriers"])
    async def track17_push(request: Request) -> Response:
        return await receive_push("17track", request)

    @app.post("/webhooks/aftership", tags=["carriers"])
    async def aftership_push(request: Request) -> Response:
        return await receive_push("aftership", request)

    # -- shipments -----------------------------------------------------------------------

    @app.post("/api/v1/shipments", tags=["shipments"])
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
        body = {
            "received": report.rows,
            "inserted": report.counts.inserted,
            "updated": report.counts.updated,
            "unchanged": report.counts.unchanged,
            "rejected": [
                {"index": r.line - 1, "column": r.column, "reason": r.reason}
                for r in report.rejected
            ],
        }
        accepted = report.rows - len(report.rejected)
        return JSONResponse(body, status_code=422 if report.rejected and not accepted else 200)

    @app.get("/api/v1/shipments/{order_id}", tags=["shipments"])
    def get_shipment(request: Request, order_id: str) -> dict[str, Any]:
        who(request, "viewer")
        with ctx.engine.connect() as conn:
            row = conn.execute(select(SHIPMENTS).where(SHIPMENTS.c.order_id == order_id)).first()
            if row is None:
                raise HTTPException(404, f"no shipment with order id {order_id!r}")
            events = conn.execute(
                select(TRACKING_EVENTS)
                .where(TRACKING_EVENTS.c.shipment_id == row.id)
                .order_by(TRACKING_EVENTS.c.occurred_at)
            )
            shipment = _jsonable(dict(row._mapping))
            shipment["events"] = [_jsonable(dict(e._mapping)) for e in events]
        for private in ("content_hash", "poll_lease_until"):
            shipment.pop(private, None)
        return shipment

    # -- alerts --------------------------------------------------------------------------

    @app.get("/api/v1/alerts", tags=["alerts"])
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
        offset: Annotated[int, Query(ge=0)] = 0,
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

    @app.get("/api/v1/alerts/{alert_id}", tags=["alerts"])
    def get_alert(request: Request, alert_id: int) -> dict[str, Any]:
        who(request, "viewer")
        from monitor.alert_queue import get_alert as fetch

        alert = fetch(ctx.engine, alert_id)
        if alert is None:
            raise HTTPException(404, f"no alert with id {alert_id}")
        body = _jsonable(alert)
        body["history"] = [_jsonable(h) for h in history(ctx.engine, alert_id)]
        return body

    @app.post("/api/v1/alerts/{alert_id}/{action}", tags=["alerts"])
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

    @app.get("/api/v1/scorecards", tags=["scorecards"])
    def get_scorecard(request: Request, week: str | None = None) -> dict[str, Any]:
        who(request, "viewer")
        try:
            card = build_scorecard(ctx.engine, ctx.config, week, ctx.clock.now())
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from exc
        return as_dict(card)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))  # fmt: skip

    app.include_router(build_router(ctx))
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(auth),
        session_cookie="parcelwatch_session",
        same_site="lax",
        max_age=12 * 3600,  # a working day; then sign in again
    )

    return app


def _clock_speed(ctx: AppContext) -> float:
    return float(getattr(ctx.clock, "speed", 1.0))
