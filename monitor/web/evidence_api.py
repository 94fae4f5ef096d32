"""Appeal evidence and penalty reconciliation over HTTP (docs/evidence-and-penalties.md):
one order's pack, a zip of packs for many orders or alerts, a penalty export's import, and
the report that judges every imported line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from monitor.config import PLATFORMS
from monitor.evidence.documents import (
    Document,
    bundle,
    contestable_packs,
    order_evidence,
    report_csv,
)
from monitor.evidence.pack import PdfUnavailable, zone_of
from monitor.evidence.penalties import judge_lines, store_lines, stored_lines
from monitor.evidence.verdict import Outcome, PenaltyKind
from monitor.ingest.files import FileUnreadable
from monitor.ingest.penalty_file import parse_penalties
from monitor.store.orders import Ambiguous, orders_of_alerts
from monitor.web.auth import require
from monitor.web.context import AppContext
from monitor.web.errors import (
    AMBIGUOUS_ORDER,
    AUTH,
    BAD_REQUEST,
    NOT_FOUND,
    TOO_LARGE,
    ambiguous_order,
)

FormatName = Literal["pdf", "html", "zip"]
Lang = Literal["zh", "en"]
ChargeKind = Literal["late_shipment", "fake_shipment", "late_pickup"]
MAX_PACKS = 200  # per bulk request: each PDF takes about half a second to lay out


class OrderRef(BaseModel):
    order_id: str = Field(min_length=1, max_length=200)
    platform: str | None = Field(default=None, max_length=40)


class PacksRequest(BaseModel):
    """Orders by id, or alerts (each gives the orders it concerns)."""

    orders: list[OrderRef] = Field(default=[], max_length=MAX_PACKS)
    alerts: list[Annotated[int, Field(ge=1, le=2**62)]] = Field(default=[], max_length=MAX_PACKS)
    lang: Lang = "zh"


@contextmanager
def pdf_or_503() -> Iterator[None]:
    try:
        yield
    except PdfUnavailable as exc:
        raise HTTPException(503, str(exc)) from exc


def attachment(document: Document) -> Response:
    disposition = "inline" if document.filename.endswith(".html") else "attachment"
    return Response(
        document.data,
        media_type=document.media_type,
        headers={"content-disposition": f'{disposition}; filename="{document.filename}"'},
    )


def evidence_packs(
    ctx: AppContext, refs: list[tuple[str, str | None]], lang: str, now: datetime
) -> list[Document]:
    packs = []
    for order_id, platform in refs[:MAX_PACKS]:
        with pdf_or_503():
            found = order_evidence(ctx.engine, ctx.config, order_id, now, platform, "zip", lang)
        if isinstance(found, Document):
            packs.append(found)
    return packs


def build_evidence_router(ctx: AppContext) -> APIRouter:
    router = APIRouter(
        tags=["evidence"], responses={**BAD_REQUEST, **TOO_LARGE, **AUTH, **NOT_FOUND}
    )
    auth = ctx.config.auth

    def who(request: Request, role: str) -> str:
        return require(request, auth.tokens, role, auth.anonymous_read)

    @router.get("/api/v1/orders/{order_id:path}/evidence", responses=AMBIGUOUS_ORDER)
    def get_evidence(
        request: Request,
        order_id: str,
        platform: str | None = None,
        format: FormatName = "pdf",
        lang: Lang = "zh",
        kind: ChargeKind | None = None,
    ) -> Response:
        """One order's appeal evidence: the PDF (default), the HTML page, or the zip with the
        carrier's bodies as received and a manifest of SHA-256 hashes. `kind` judges one
        charge; without it the pack states both shipping and pickup."""
        who(request, "viewer")
        charge = PenaltyKind(kind) if kind else None
        with pdf_or_503():
            found = order_evidence(ctx.engine, ctx.config, order_id, ctx.clock.now(), platform,
                                   format, lang, charge)  # fmt: skip
        if isinstance(found, Ambiguous):
            return ambiguous_order(found)
        if found is None:
            raise HTTPException(404, f"no order {order_id!r}")
        return attachment(found)

    @router.post("/api/v1/evidence")
    def post_evidence(request: Request, body: PacksRequest) -> Response:
        """A zip of evidence packs (each one verifiable on its own) for these orders and for
        the orders of these alerts."""
        who(request, "viewer")
        refs: list[tuple[str, str | None]] = [(o.order_id, o.platform) for o in body.orders]
        refs += orders_of_alerts(ctx.engine, list(body.alerts))
        if not refs:
            raise HTTPException(400, "name orders or alerts (carrier-wide alerts have no order)")
        packs = evidence_packs(ctx, refs, body.lang, ctx.clock.now())
        if not packs:
            raise HTTPException(404, "none of these orders is in the store")
        name = f"evidence-{ctx.clock.now():%Y%m%d-%H%M}.zip"
        return attachment(Document(bundle(packs), "application/zip", name))

    @router.post("/api/v1/penalties")
    async def post_penalties(
        request: Request,
        platform: Annotated[Literal[PLATFORMS] | None, Query()] = None,  # type: ignore[valid-type]
        name: Annotated[str, Query(max_length=200)] = "upload.csv",
    ) -> JSONResponse:
        """Import a platform's penalty export (the CSV file as the body). Lines already
        imported are not added again; bad lines are listed by number."""
        who(request, "lead")
        data = await request.body()
        try:
            read = parse_penalties(data, Path(Path(name).name), ctx.config.penalties, platform)
        except FileUnreadable as exc:
            raise HTTPException(400, str(exc)) from exc
        added, known = store_lines(ctx.engine, read.lines, ctx.clock.now())
        return JSONResponse(
            {
                "added": added,
                "already_imported": known,
                "rejected": [{"line": n, "error": e} for n, e in read.errors],
                "unmapped_kinds": sorted(read.unmapped_kinds),
            },
            status_code=422 if read.errors and not read.lines else 200,
        )

    @router.get("/api/v1/penalties")
    def get_penalties(
        request: Request, since: datetime | None = None, lang: Lang = "zh"
    ) -> dict[str, Any]:
        """Every imported line judged against today's evidence: contestable, fair or
        unknown, with the sentence that says why, and the totals."""
        who(request, "viewer")
        now = ctx.clock.now()
        judged = judge_lines(ctx.engine, ctx.config, stored_lines(ctx.engine, since), now)
        lines, totals = [], {o.value: {"lines": 0, "amount": 0.0} for o in Outcome}
        for line in judged:
            p, v = line.penalty, line.verdict
            zone = zone_of(ctx.config, line.facts.warehouse if line.facts else "")
            totals[v.outcome.value]["lines"] += 1
            totals[v.outcome.value]["amount"] += line.amount
            lines.append(
                {
                    "id": p["id"],
                    "platform": p["platform"],
                    "order_id": p["order_id"],
                    "kind": p["kind"],
                    "kind_text": p["kind_text"],
                    "amount": line.amount,
                    "charged_at": p["charged_at"].isoformat() if p["charged_at"] else None,
                    "outcome": v.outcome.value,
                    "at_fault": v.at_fault,
                    "carrier": v.carrier,
                    "province": line.province,
                    "reason": v.sentence(lang, zone),
                    "source": p["source"],
                }
            )
        return {"lines": lines, "totals": totals}

    @router.get("/api/v1/penalties/evidence.zip")
    def get_penalty_packs(
        request: Request, since: datetime | None = None, lang: Lang = "zh"
    ) -> Response:
        """The report's zip: an evidence pack per contestable line, and penalties.csv."""
        who(request, "viewer")
        now = ctx.clock.now()
        judged = judge_lines(ctx.engine, ctx.config, stored_lines(ctx.engine, since), now)
        with pdf_or_503():
            packs = contestable_packs(judged, ctx.config, now, lang)
        data = bundle(packs, report_csv(judged, ctx.config, lang))
        return attachment(Document(data, "application/zip", f"penalty-evidence-{now:%Y%m%d}.zip"))

    return router
