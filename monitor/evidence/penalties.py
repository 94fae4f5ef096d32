"""Platform penalty lines: stored once each, matched to their orders and judged against the
evidence when a report is made (docs/evidence-and-penalties.md "Reconciliation").

The judgement is not stored: a pickup scan that arrives after the import (a late push, a
replay) changes it, and the report always argues from what the store holds now.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite

from monitor.config import Config
from monitor.evidence.facts import OrderFacts, facts_of
from monitor.evidence.verdict import Outcome, PenaltyKind, Verdict, judge
from monitor.store.orders import Ambiguous, find_order
from monitor.store.tables import ORDERS, PENALTIES

P = PENALTIES.c
ORD = ORDERS.c
# The platforms' wordings, most specific first: 虚假发货超时 is a fake shipment although it
# contains 发货超时 (docs/evidence-and-penalties.md "Penalty exports").
KIND_PHRASES: tuple[tuple[str, PenaltyKind], ...] = (
    ("虚假发货", PenaltyKind.FAKE_SHIPMENT),
    ("fake shipment", PenaltyKind.FAKE_SHIPMENT),
    ("揽收超时", PenaltyKind.LATE_PICKUP),
    ("超时揽收", PenaltyKind.LATE_PICKUP),
    ("延迟揽收", PenaltyKind.LATE_PICKUP),
    ("揽收延迟", PenaltyKind.LATE_PICKUP),
    ("未揽收", PenaltyKind.LATE_PICKUP),
    ("late pickup", PenaltyKind.LATE_PICKUP),
    ("延迟发货", PenaltyKind.LATE_SHIPMENT),
    ("发货超时", PenaltyKind.LATE_SHIPMENT),
    ("超时发货", PenaltyKind.LATE_SHIPMENT),
    ("未按时发货", PenaltyKind.LATE_SHIPMENT),
    ("发货延迟", PenaltyKind.LATE_SHIPMENT),
    ("late shipment", PenaltyKind.LATE_SHIPMENT),
)


def kind_of(text: str, extra: Mapping[str, str] | None = None) -> PenaltyKind:
    """The charge a platform's wording names: the config's own wordings first (exactly),
    then the built-in phrases (contained in the text)."""
    words = text.strip()
    if extra and words in extra:
        return PenaltyKind(extra[words])
    folded = words.casefold()
    for phrase, kind in KIND_PHRASES:
        if phrase in folded:
            return kind
    return PenaltyKind.OTHER


@dataclass(frozen=True)
class PenaltyLine:
    platform: str
    order_id: str
    kind: PenaltyKind
    kind_text: str
    amount: float
    charged_at: datetime | None
    source: str  # file:line

    @property
    def line_hash(self) -> str:
        """Of what the platform charged, not of where it was read: the same line in next
        week's export (or the file imported twice) is stored once."""
        moment = self.charged_at.isoformat() if self.charged_at else ""
        key = "|".join((self.platform, self.order_id, self.kind_text, f"{self.amount:.2f}", moment))
        return hashlib.sha256(key.encode()).hexdigest()


def with_platforms(engine: Engine, lines: Iterable[PenaltyLine]) -> list[PenaltyLine]:
    """A line whose export named no platform takes its order's, when one platform has that
    order id: so that the same export read with and without `--platform` is one set of lines."""
    lines = list(lines)
    unnamed = sorted({line.order_id for line in lines if line.platform == "other"})
    found: dict[str, set[str]] = {}
    with engine.connect() as conn:
        for i in range(0, len(unnamed), 500):
            query = select(ORD.order_id, ORD.platform).where(ORD.order_id.in_(unnamed[i : i + 500]))
            for order_id, platform in conn.execute(query):
                found.setdefault(order_id, set()).add(platform)
    return [
        replace(line, platform=next(iter(found[line.order_id])))
        if line.platform == "other" and len(found.get(line.order_id, ())) == 1
        else line
        for line in lines
    ]


def store_lines(engine: Engine, lines: Iterable[PenaltyLine], now: datetime) -> tuple[int, int]:
    """Insert the lines not yet stored, in one transaction: (added, already stored)."""
    lines = with_platforms(engine, lines)
    rows = {
        line.line_hash: {
            "platform": line.platform, "order_id": line.order_id, "kind": line.kind.value,
            "kind_text": line.kind_text, "amount": line.amount, "charged_at": line.charged_at,
            "source": line.source, "line_hash": line.line_hash, "imported_at": now,
        }
        for line in lines
    }  # fmt: skip
    if not rows:
        return 0, 0
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(PENALTIES).on_conflict_do_nothing(index_elements=["line_hash"])
    with engine.begin() as conn:
        before = set(conn.execute(select(P.line_hash).where(P.line_hash.in_(list(rows)))).scalars())
        new = [row for key, row in rows.items() if key not in before]
        if new:
            conn.execute(insert, new)
    return len(rows) - len(before), len(before)


@dataclass(frozen=True)
class Judged:
    penalty: dict[str, Any]
    verdict: Verdict
    facts: OrderFacts | None

    @property
    def outcome(self) -> Outcome:
        return self.verdict.outcome

    @property
    def amount(self) -> float:
        return float(self.penalty["amount"])

    @property
    def province(self) -> str | None:
        return self.facts.order.get("province") if self.facts else None


def stored_lines(
    engine: Engine, since: datetime | None = None, until: datetime | None = None
) -> list[dict[str, Any]]:
    """Penalty lines charged (or, without a charge time, imported) in [since, until)."""
    when = func.coalesce(P.charged_at, P.imported_at)
    query = select(PENALTIES).order_by(when, P.id)
    if since is not None:
        query = query.where(when >= since)
    if until is not None:
        query = query.where(when < until)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def judge_lines(
    engine: Engine, config: Config, lines: Iterable[dict[str, Any]], now: datetime
) -> list[Judged]:
    judged = []
    for line in lines:
        platform = line["platform"] if line["platform"] != "other" else None
        view = find_order(engine, line["order_id"], platform)
        if isinstance(view, Ambiguous):
            verdict = Verdict(Outcome.UNKNOWN, "order_ambiguous",
                              {"order_id": line["order_id"],
                               "platforms": ", ".join(view.platforms)})  # fmt: skip
            judged.append(Judged(line, verdict, None))
            continue
        facts = facts_of(engine, config, view) if view is not None else None
        kind = PenaltyKind(line["kind"])
        verdict = judge(facts, kind, now, line["order_id"], line["kind_text"])
        judged.append(Judged(line, verdict, facts))
    return judged


def carrier_costs(judged: Iterable[Judged]) -> dict[tuple[str, str | None], tuple[int, float]]:
    """Charges the shop paid for its carrier's lateness, per (carrier, buyer's province):
    fair pickup charges where the number was uploaded in time and the scan came late."""
    costs: dict[tuple[str, str | None], tuple[int, float]] = {}
    for line in judged:
        verdict = line.verdict
        if verdict.outcome is Outcome.FAIR and verdict.at_fault == "carrier" and verdict.carrier:
            key = (verdict.carrier, line.province)
            count, amount = costs.get(key, (0, 0.0))
            costs[key] = (count + 1, amount + line.amount)
    return costs
