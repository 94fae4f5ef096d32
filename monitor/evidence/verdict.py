"""Judging a platform's charge against the facts: contestable (the evidence shows the seller
shipped, or the carrier scanned, in time), fair, or unknown, with the one sentence that says
why (docs/evidence-and-penalties.md "How a charge is judged").

A fair charge is also attributed: to the seller (shipped late, or never) or to the carrier
(the number was uploaded in time, the carrier scanned it late). What is charged to the shop
for the carrier's lateness is what the weekly scorecard counts against that carrier.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from monitor.evidence.facts import OrderFacts, ParcelFacts
from monitor.evidence.text import TEXT


class PenaltyKind(StrEnum):
    LATE_SHIPMENT = "late_shipment"  # 延迟发货, 发货超时
    FAKE_SHIPMENT = "fake_shipment"  # 虚假发货: a number without a pickup scan in time
    LATE_PICKUP = "late_pickup"  # 揽收超时
    OTHER = "other"


class Outcome(StrEnum):
    CONTESTABLE = "contestable"
    FAIR = "fair"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reason: str  # a key of TEXT[lang]["reasons"]
    values: dict[str, object] = field(default_factory=dict)  # the moments and numbers it cites
    at_fault: str | None = None  # seller | carrier | None
    carrier: str | None = None  # the carrier of the parcel judged, for attribution

    def sentence(self, lang: str, zone: ZoneInfo) -> str:
        words = TEXT[lang]
        values = {k: _shown(v, zone) for k, v in self.values.items()}
        return words["reasons"][self.reason].format(**values)


def _shown(value: object, zone: ZoneInfo) -> object:
    if isinstance(value, datetime):
        return value.astimezone(zone).strftime("%m-%d %H:%M")
    if isinstance(value, float):
        return f"{value:.1f}".removesuffix(".0")
    return value


def _hours(later: datetime, earlier: datetime) -> float:
    return round((later - earlier).total_seconds() / 3600, 1)


def judge(
    facts: OrderFacts | None,
    kind: PenaltyKind,
    now: datetime,
    order_id: str = "",
    kind_text: str = "",
) -> Verdict:
    if facts is None:
        return Verdict(Outcome.UNKNOWN, "order_missing", {"order_id": order_id})
    if kind is PenaltyKind.LATE_SHIPMENT:
        return shipping(facts, now)
    if kind in (PenaltyKind.FAKE_SHIPMENT, PenaltyKind.LATE_PICKUP):
        return pickup(facts, now)
    return Verdict(Outcome.UNKNOWN, "kind_unknown", {"text": kind_text or kind.value})


def shipping(facts: OrderFacts, now: datetime) -> Verdict:
    """Was the order shipped by the platform's deadline? The upload of its first tracking
    number is what the platforms see; a pickup scan before the deadline shows it too."""
    due = facts.deadline.at
    uploaded = facts.shipped_at
    if uploaded is None:
        return Verdict(Outcome.FAIR, "not_shipped", {"now": now, "due": due}, "seller")
    if uploaded <= due:
        return Verdict(Outcome.CONTESTABLE, "uploaded_in_time", {"at": uploaded, "due": due})
    scans = [p.pickup_at for p in facts.parcels if p.pickup_at is not None]
    if scans and min(scans) <= due:
        return Verdict(Outcome.CONTESTABLE, "picked_up_in_time", {"at": min(scans), "due": due})
    late = _hours(uploaded, due)
    return Verdict(
        Outcome.FAIR, "uploaded_late", {"at": uploaded, "due": due, "late": late}, "seller"
    )


def pickup(facts: OrderFacts, now: datetime) -> Verdict:
    """Did the carrier scan every uploaded number within the pickup window? The first parcel
    that it did not decides; with every parcel in time, the charge is contestable."""
    verdicts = [_parcel_pickup(p, now) for p in facts.parcels if p.uploaded_at is not None]
    if not verdicts:
        return Verdict(Outcome.FAIR, "no_number", {"now": now}, "seller")
    return next((v for v in verdicts if v.outcome is not Outcome.CONTESTABLE), verdicts[0])


def _parcel_pickup(parcel: ParcelFacts, now: datetime) -> Verdict:
    assert parcel.uploaded_at is not None and parcel.pickup_due_at is not None
    values: dict[str, object] = {
        "number": parcel.tracking_number or "",
        "uploaded": parcel.uploaded_at,
        "window": parcel.pickup_window_hours,
    }
    if parcel.pickup_at is None:
        if now < parcel.pickup_due_at:
            return Verdict(
                Outcome.CONTESTABLE,
                "pickup_not_yet_due",
                values | {"due": parcel.pickup_due_at},
                carrier=parcel.carrier,
            )
        # Not scanned at all: the warehouse may never have handed it over; nobody is blamed.
        return Verdict(Outcome.FAIR, "never_scanned", values, carrier=parcel.carrier)
    values |= {"at": parcel.pickup_at, "hours": _hours(parcel.pickup_at, parcel.uploaded_at)}
    if parcel.pickup_at <= parcel.pickup_due_at:
        return Verdict(Outcome.CONTESTABLE, "scanned_in_time", values, carrier=parcel.carrier)
    return Verdict(Outcome.FAIR, "scanned_late", values, "carrier", parcel.carrier)


def summary(facts: OrderFacts, now: datetime) -> list[Verdict]:
    """A pack made without a charge in hand states both: shipping and pickup."""
    verdicts = [shipping(facts, now)]
    if any(p.uploaded_at is not None for p in facts.parcels):
        verdicts.append(pickup(facts, now))
    return verdicts
