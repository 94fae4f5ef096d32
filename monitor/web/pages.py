"""The pages warehouse leads use: the alert queue, a parcel's timeline, sign-in.

Server-rendered with Jinja2 (autoescaped: scan texts and imported fields are untrusted),
working without JavaScript; forms post back with a CSRF token and redirect (POST, then GET).
Times are shown in each parcel's warehouse zone; canonical values (kinds, statuses,
carriers, platforms, history actions) by their names in the reader's language, and each alert
as one sentence (monitor/web/sentences.py), its raw detail behind a disclosure. The queue
refreshes itself from `/fragments/queue` (static/live.js) where JavaScript runs.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from alerts.model import Action, AlertKind, AlertState, Severity
from alerts.silences import SilenceError, matchers_like
from carriers.registry import CARRIERS
from monitor.alert_queue import (
    MAX_ID,
    ActionError,
    AlertFilter,
    act,
    count_alerts,
    get_alert,
    histories_of,
    list_alerts,
)
from monitor.config import PLATFORMS
from monitor.evidence.documents import Document, bundle
from monitor.store.orders import Ambiguous, find_order, orders_of_alerts
from monitor.store.silences import create_silence
from monitor.store.web_auth import clear_failures, locked_until, record_failure
from monitor.web.context import AppContext
from monitor.web.evidence_api import attachment, evidence_packs
from monitor.web.i18n import KIND_NAMES, LANGUAGES, TEXT, Labels, pick_language
from monitor.web.queue_view import QueueFilter, held_members, last_locations, with_sentences
from monitor.web.security import client_address
from monitor.web.sentences import history_note, local_time, span
from monitor.web.sessions import (
    Viewer,
    check_password,
    csrf_ok,
    csrf_token,
    current_viewer,
    sign_in,
    sign_out,
    wall_clock,
)
from monitor.web.today import spark, today_view

PAGE_SIZE = 50
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
FILTERS = ("state", "kind", "severity", "warehouse", "carrier", "province", "platform")
KEPT = (*FILTERS, "mine", "incident")  # what the queue's URL carries
BULK_ACTIONS = (Action.ACKNOWLEDGE.value, Action.RESOLVE.value, Action.ASSIGN.value)
LIVE_SECONDS = 10  # how often the queue asks for changes
INCIDENT_KINDS = (AlertKind.HUB_INCIDENT.value, AlertKind.CARRIER_INCIDENT.value)
EXPORT_COLUMNS = (
    "id", "kind", "severity", "state", "order_id", "orders", "tracking_number", "carrier",
    "warehouse", "province", "platform", "since", "opened_at", "assignee",
)  # fmt: skip
TIMES = ("since", "opened_at")


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect a signed-in lead to another host."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


def _csv_cell(value: Any) -> str:
    """Spreadsheet formula injection: a cell starting with = + - @ is text, not a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def build_router(ctx: AppContext) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    auth = ctx.config.auth
    zones = {w.id: ZoneInfo(w.timezone) for w in ctx.config.warehouses}

    def zone_of(warehouse: str | None) -> ZoneInfo:
        return zones.get(warehouse or "", ZoneInfo("Asia/Shanghai"))

    def full_time(value: datetime | None, warehouse: str | None = None) -> str:
        """For files (CSV): the whole local date and time."""
        return (
            "" if value is None else value.astimezone(zone_of(warehouse)).strftime("%Y-%m-%d %H:%M")
        )

    def render(
        request: Request, name: str, viewer: Viewer | None, status_code: int = 200, **values: Any
    ) -> Response:
        lang = pick_language(request)
        now = ctx.clock.now()

        def local(value: datetime | None, warehouse: str | None = None) -> str:
            return local_time(value, lang, zone_of(warehouse), now)

        response = TEMPLATES.TemplateResponse(
            request,
            name,
            {
                "t": TEXT[lang],
                "lang": lang,
                "languages": LANGUAGES,
                "kind_name": lambda k: KIND_NAMES[lang].get(k, k),
                "names": Labels(lang),
                "local": local,
                "full_time": full_time,
                "note_text": lambda a, h: history_note(
                    h["action"], h["note"], lang, zone_of(a.get("warehouse")), now
                ),
                "viewer": viewer,
                "csrf": csrf_token(request) if viewer and viewer.can("lead") else "",
                # Signing out is a form too (a link could be followed by another site).
                "session_csrf": csrf_token(request) if viewer else "",
                **values,
            },
            status_code=status_code,
        )
        if request.query_params.get("lang") in LANGUAGES:
            response.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax")
        return response

    def reader(request: Request) -> Viewer:
        viewer = current_viewer(request, auth, ctx.engine)
        if viewer is None:
            raise HTTPException(303, headers={"Location": f"/login?next={request.url.path}"})
        return viewer

    def writer(request: Request, token: str | None) -> Viewer:
        viewer = current_viewer(request, auth, ctx.engine)
        if viewer is None or not viewer.can("lead"):
            raise HTTPException(403, "signing in as a lead is needed for this")
        if not csrf_ok(request, token):
            raise HTTPException(403, "the form has expired (CSRF check failed); reload the page")
        return viewer

    def filters_from(request: Request, viewer: Viewer | None = None) -> AlertFilter:
        values: dict[str, Any] = {k: (request.query_params.get(k) or None) for k in FILTERS}
        values["state"] = values["state"] or "active"
        if values["state"] == "all":
            values["state"] = None
        if request.query_params.get("mine") and viewer is not None:
            values["assignee"] = viewer.name
        incident = request.query_params.get("incident", "")
        if incident.isdigit() and int(incident) <= MAX_ID:
            values["incident"] = int(incident)
        return QueueFilter(**values)

    def queue_values(request: Request, viewer: Viewer, page: int, sort: str) -> dict[str, Any]:
        """What the queue page and its live fragment both show."""
        where = filters_from(request, viewer)
        page = min(max(page, 1), 10**9)
        counts = count_alerts(ctx.engine, where)
        total = sum(counts.values())
        rows = list_alerts(ctx.engine, where, PAGE_SIZE, (page - 1) * PAGE_SIZE, sort)
        places = last_locations(ctx.engine, (r["shipment_id"] for r in rows))
        with_sentences(rows, pick_language(request), ctx.clock.now(), zones, places)
        held = held_members(ctx.engine, (r["id"] for r in rows if r["kind"] in INCIDENT_KINDS))
        for row in rows:
            row["members"] = held.get(row["id"], 0)
        query = {k: v for k in KEPT if (v := request.query_params.get(k))}
        query_string = urlencode(query | {"sort": sort})
        return {
            "alerts": rows, "counts": counts, "total": total, "page": page, "sort": sort,
            "pages": max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1), "query": query,
            "query_string": query_string,
            "here": f"/?{query_string}&page={page}",
            "live_url": f"/fragments/queue?{query_string}&page={page}",
            "live_seconds": LIVE_SECONDS,
        }  # fmt: skip

    @router.get("/", response_class=HTMLResponse)
    def queue(request: Request, page: int = 1, sort: str = "severity") -> Response:
        viewer = reader(request)
        values = queue_values(request, viewer, page, sort)
        return render(
            request, "queue.html", viewer, **values,
            kinds=[k.value for k in AlertKind], severities=[s.value for s in Severity],
            states=["active", *[s.value for s in AlertState], "all"],
            warehouses=[w.id for w in ctx.config.warehouses],
            carriers=sorted(set(ctx.config.carriers) | set(CARRIERS)),
            platforms=list(PLATFORMS),
        )  # fmt: skip

    @router.get("/fragments/queue", response_class=HTMLResponse)
    def queue_fragment(request: Request, page: int = 1, sort: str = "severity") -> Response:
        """The queue's rows alone, for the page's live refresh (static/live.js)."""
        viewer = reader(request)
        response = render(request, "queue_fragment.html", viewer,
                          **queue_values(request, viewer, page, sort))  # fmt: skip
        response.headers["Cache-Control"] = "no-store"
        return response

    @router.get("/alerts.csv")
    def export(request: Request, sort: str = "severity") -> Response:
        reader(request)
        rows = list_alerts(ctx.engine, filters_from(request), 100_000, 0, sort)
        columns = EXPORT_COLUMNS
        buffer = io.StringIO()
        buffer.write("\ufeff")  # Excel opens UTF-8 CSV with Chinese correctly only with a BOM
        out = csv.writer(buffer)
        out.writerow(list(columns))
        for row in rows:
            # Every order a merged parcel carries (docs/orders-and-parcels.md "The model").
            row["orders"] = " ".join((row.get("detail") or {}).get("orders") or [])
            cells = [full_time(row[c], row["warehouse"]) if c in TIMES else row[c] for c in columns]
            out.writerow([_csv_cell(cell) for cell in cells])
        return Response(
            buffer.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="parcelwatch-alerts.csv"'},
        )

    @router.get("/parcels/{order_id:path}", response_class=HTMLResponse)
    def order_page(request: Request, order_id: str, platform: str | None = None) -> Response:
        """An order with its parcels, each with its timeline, and the alerts of all of them."""
        viewer = reader(request)
        found = find_order(ctx.engine, order_id, platform, newest_events_first=True)
        if isinstance(found, Ambiguous):
            return render(request, "choose_order.html", viewer, choice=found, status_code=409)
        if found is None:
            raise HTTPException(404, f"no order with id {order_id}")
        alerts = list_alerts(
            ctx.engine, AlertFilter(of_order=(found.id, tuple(found.parcel_ids))), 200, 0,
            "newest",
        )  # fmt: skip
        places = {
            int(p["id"]): place
            for p in found.parcels
            if (place := next((e["location"] for e in p["events"] if e["location"]), None))
        }
        with_sentences(alerts, pick_language(request), ctx.clock.now(), zones, places)
        histories = histories_of(ctx.engine, [a["id"] for a in alerts])
        for alert in alerts:
            alert["history"] = histories.get(alert["id"], [])
        return render(request, "parcel.html", viewer, order=found.order, parcels=found.parcels,
                      alerts=alerts)  # fmt: skip

    @router.post("/alerts/{alert_id}/action")
    def alert_action(
        request: Request,
        alert_id: int,
        action: str = Form(),
        csrf: str | None = Form(None),
        note: str | None = Form(None),
        assignee: str | None = Form(None),
        until: str | None = Form(None),
        next: str | None = Form(None),
    ) -> Response:
        viewer = writer(request, csrf)
        _act(alert_id, action, viewer, note, assignee, until)
        return RedirectResponse(_safe_next(next), status_code=303)

    @router.post("/alerts/{alert_id}/silence")
    def silence_like(
        request: Request,
        alert_id: int,
        csrf: str | None = Form(None),
        hours: float = Form(24),
        reason: str = Form(""),
        next: str | None = Form(None),
    ) -> Response:
        """ "Silence alerts like this one": its kind, carrier and province, for `hours`."""
        viewer = writer(request, csrf)
        alert = get_alert(ctx.engine, alert_id)
        if alert is None:
            raise HTTPException(404, f"no alert with id {alert_id}")
        like = matchers_like(alert)
        now = ctx.clock.now()
        try:
            create_silence(ctx.engine, like, now, now + timedelta(hours=min(max(hours, 1), 720)),
                           reason, viewer.name, now)  # fmt: skip
        except SilenceError as exc:
            raise HTTPException(400, str(exc)) from exc
        return RedirectResponse(_safe_next(next), status_code=303)

    @router.post("/alerts/bulk")
    async def bulk(request: Request) -> Response:
        form = await request.form()
        viewer = writer(request, str(form.get("csrf") or ""))
        action = str(form.get("action") or "")
        ids = [int(str(v)) for v in form.getlist("ids") if str(v).isdigit()]
        if action == "evidence":  # a download: the selected alerts' orders, one pack each
            return _evidence_zip(ids, pick_language(request))
        if action not in BULK_ACTIONS:
            raise HTTPException(400, "bulk actions are ack, resolve, assign and evidence")
        # Assigning without a name takes the lead's own ("assign to me").
        assignee = (
            (str(form.get("assignee") or "").strip() or viewer.name) if action == "assign" else None
        )
        for alert_id in ids:
            try:
                _act(alert_id, action, viewer, str(form.get("note") or "") or None, assignee, None)
            except HTTPException as exc:
                if exc.status_code != 409:  # already done by someone else: fine in bulk
                    raise
        return RedirectResponse(_safe_next(str(form.get("next") or "/")), status_code=303)

    def _evidence_zip(alert_ids: list[int], lang: str) -> Response:
        refs = orders_of_alerts(ctx.engine, [i for i in alert_ids if i <= MAX_ID])
        if not refs:
            raise HTTPException(
                400, "select alerts about orders or parcels (carrier-wide alerts have no order)"
            )
        now = ctx.clock.now()
        packs = evidence_packs(ctx, list(refs), lang, now)
        name = f"evidence-{now:%Y%m%d-%H%M}.zip"
        return attachment(Document(bundle(packs), "application/zip", name))

    def _act(alert_id: int, action: str, viewer: Viewer, note: str | None,
             assignee: str | None, until: str | None) -> None:  # fmt: skip
        try:
            verb = Action(action)
        except ValueError:
            raise HTTPException(400, f"unknown action {action!r}") from None
        moment = None
        if until:
            try:
                moment = datetime.fromisoformat(until)
            except ValueError:
                raise HTTPException(400, f"not a date and time: {until!r}") from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=ZoneInfo("Asia/Shanghai"))
        try:
            act(ctx.engine, alert_id, verb, viewer.name, ctx.clock.now(), note=note or None,
                assignee=assignee or None, until=moment)  # fmt: skip
        except ActionError as exc:
            raise HTTPException(404 if exc.not_found else 409, str(exc)) from exc

    @router.get("/today", response_class=HTMLResponse)
    def today(request: Request, warehouse: str | None = None) -> Response:
        """One warehouse's day (monitor/web/today.py)."""
        viewer = reader(request)
        now = ctx.clock.now()
        day = today_view(ctx.engine, ctx.config, warehouse, now)
        if day is None:
            known = ", ".join(w.id for w in ctx.config.warehouses) or "none configured"
            raise HTTPException(404, f"no warehouse {warehouse!r} (warehouses: {known})")
        lang = pick_language(request)
        with_sentences(day.at_risk, lang, now, zones, {})
        with_sentences(day.incidents, lang, now, zones, {})
        left_hours = (day.ship_by_at - now).total_seconds() / 3600
        return render(request, "today.html", viewer, today=day, left_hours=left_hours,
                      left=span(abs(left_hours), lang), spark=spark,
                      warehouses=[w.id for w in ctx.config.warehouses])  # fmt: skip

    @router.get("/scorecards", response_class=HTMLResponse)
    def scorecards(request: Request, week: str | None = None) -> Response:
        """The weekly carrier scorecard in the reader's language (charts inline)."""
        viewer = reader(request)
        from monitor.scorecard import build_scorecard
        from monitor.web.scorecard_page import scorecard_values

        try:
            card = build_scorecard(ctx.engine, ctx.config, week or None, ctx.clock.now())
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from exc
        return render(request, "scorecards.html", viewer,
                      **scorecard_values(card, pick_language(request)))  # fmt: skip

    def login_form(request: Request, next: str, status: int = 200, **values: Any) -> Response:
        response = render(request, "login.html", None, next=_safe_next(next),
                          login_csrf=csrf_token(request), **{"error": False, **values})  # fmt: skip
        response.status_code = status
        return response

    @router.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/") -> Response:
        return login_form(request, next)

    @router.post("/login")
    def login(
        request: Request,
        user: str = Form(),
        password: str = Form(),
        next: str = Form("/"),
        csrf: str | None = Form(None),
    ) -> Response:
        """Sign in: the form's CSRF token (a page of another site cannot sign a browser in
        as someone else), then the throttle per user and per address, then the password."""
        if not csrf_ok(request, csrf):
            return login_form(request, next, 403, error="expired")
        now = wall_clock()
        keys = [f"user:{user}", f"addr:{client_address(request, auth.trust_proxy_headers)}"]
        until = locked_until(ctx.engine, keys, now)
        if until is not None:
            wait = max(int((until - now).total_seconds()) + 1, 1)
            response = login_form(request, next, 429, error="throttled", wait=wait)
            response.headers["Retry-After"] = str(wait)
            return response
        viewer = check_password(auth, user, password)
        if viewer is None:
            record_failure(ctx.engine, keys, now)
            return login_form(request, next, 401, error=True)
        clear_failures(ctx.engine, keys[0])
        sign_in(request, viewer, auth, ctx.engine)
        return RedirectResponse(_safe_next(next), status_code=303)

    @router.post("/logout")
    def logout(request: Request, session_csrf: str | None = Form(None)) -> Response:
        # Its own field name: the action forms' `csrf` is only on pages of those who may act.
        if not csrf_ok(request, session_csrf):
            raise HTTPException(403, "the form has expired (CSRF check failed); reload the page")
        sign_out(request, ctx.engine)
        return RedirectResponse("/login", status_code=303)

    return router
