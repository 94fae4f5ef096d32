"""The evidence documents the CLI, the API and the pages hand out: one order's pack as HTML,
PDF or a zip, and one zip of packs for many orders (a penalty report's contestable lines, a
bulk action in the queue)."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Engine

from monitor.config import Config
from monitor.evidence.facts import OrderFacts, order_facts
from monitor.evidence.pack import Charge, build_pack, render_html, render_pdf, zone_of
from monitor.evidence.penalties import Judged
from monitor.evidence.verdict import PenaltyKind, Verdict, judge, summary
from monitor.store.orders import Ambiguous

Format = Literal["html", "pdf", "zip"]
MEDIA_TYPES = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "zip": "application/zip",
}


@dataclass(frozen=True)
class Document:
    data: bytes
    media_type: str
    filename: str


def pack_name(facts: OrderFacts) -> str:
    order = facts.order
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(order["order_id"]))
    return f"evidence-{order['platform']}-{safe}"


def verdicts_for(facts: OrderFacts, now: datetime, kind: PenaltyKind | None) -> list[Verdict]:
    return summary(facts, now) if kind is None else [judge(facts, kind, now)]


def render(
    facts: OrderFacts,
    config: Config,
    now: datetime,
    fmt: Format = "pdf",
    lang: str = "zh",
    kind: PenaltyKind | None = None,
    charge: Charge | None = None,
) -> Document:
    verdicts = verdicts_for(facts, now, PenaltyKind(charge.kind) if charge else kind)
    name = pack_name(facts) + (f"-{charge.kind}" if charge else "")
    if fmt == "zip":
        data = build_pack(facts, verdicts, config, now, lang, charge)
    else:
        html = render_html(facts, verdicts, config, now, lang, charge)
        data = html.encode() if fmt == "html" else render_pdf(html)
    return Document(data, MEDIA_TYPES[fmt], f"{name}.{fmt}")


def order_evidence(
    engine: Engine,
    config: Config,
    order_id: str,
    now: datetime,
    platform: str | None = None,
    fmt: Format = "pdf",
    lang: str = "zh",
    kind: PenaltyKind | None = None,
) -> Document | Ambiguous | None:
    facts = order_facts(engine, config, order_id, platform)
    if facts is None or isinstance(facts, Ambiguous):
        return facts
    return render(facts, config, now, fmt, lang, kind)


def bundle(packs: Iterable[Document], index: bytes | None = None) -> bytes:
    """One zip of packs (each a zip that `parcelwatch evidence --verify` checks on its own),
    with `penalties.csv` when it is a report's."""
    buffer = io.BytesIO()
    seen: set[str] = set()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for pack in packs:
            if pack.filename in seen:  # a merged parcel's orders, or two lines of one order
                continue
            seen.add(pack.filename)
            archive.writestr(pack.filename, pack.data)
        if index is not None:
            archive.writestr("penalties.csv", index)
    return buffer.getvalue()


def report_csv(judged: Iterable[Judged], config: Config, lang: str = "zh") -> bytes:
    """The classification, one row per penalty line, UTF-8 with a BOM so Excel opens it."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "platform",
            "order_id",
            "kind",
            "kind_text",
            "amount",
            "charged_at",
            "outcome",
            "at_fault",
            "carrier",
            "province",
            "reason",
            "source",
        ]
    )
    for line in judged:
        p, v = line.penalty, line.verdict
        zone = zone_of(config, line.facts.warehouse) if line.facts else zone_of(config, "")
        writer.writerow(
            [
                p["platform"],
                p["order_id"],
                p["kind"],
                p["kind_text"],
                f"{line.amount:.2f}",
                p["charged_at"].isoformat() if p["charged_at"] else "",
                v.outcome.value,
                v.at_fault or "",
                v.carrier or "",
                line.province or "",
                v.sentence(lang, zone),
                p["source"],
            ]
        )
    return ("\ufeff" + buffer.getvalue()).encode()


def contestable_packs(
    judged: Iterable[Judged], config: Config, now: datetime, lang: str = "zh"
) -> list[Document]:
    packs = []
    for line in judged:
        if line.outcome.value != "contestable" or line.facts is None:
            continue
        p = line.penalty
        charge = Charge(p["kind"], p["kind_text"], float(p["amount"]), p["charged_at"])
        packs.append(render(line.facts, config, now, "zip", lang, charge=charge))
    return packs
