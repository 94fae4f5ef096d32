"""Judging a charge against an order's facts at a chosen "now" (docs/evidence-and-penalties.md
"How a charge is judged"): the boundaries (on the deadline is in time), a split order whose
second parcel was scanned late, a pickup window not yet over, and the sentences in both
languages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from monitor.evidence.facts import Deadline, OrderFacts, ParcelFacts
from monitor.evidence.verdict import Outcome, PenaltyKind, judge, summary

PAID = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
DUE = PAID + timedelta(hours=48)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def parcel(uploaded: datetime | None, pickup: datetime | None, number: str = "ZT1",
           carrier: str = "zto") -> ParcelFacts:  # fmt: skip
    return ParcelFacts(id=1, carrier=carrier, tracking_number=number, uploaded_at=uploaded,
                       pickup_at=pickup, pickup_event=None, pickup_window_hours=24, events=[],
                       answers=[], orders=["A1"])  # fmt: skip


def order(*parcels: ParcelFacts) -> OrderFacts:
    uploads = [p.uploaded_at for p in parcels if p.uploaded_at]
    facts = {"order_id": "A1", "platform": "pinduoduo", "warehouse": "hz1", "paid_at": PAID,
             "shipped_at": min(uploads) if uploads else None}  # fmt: skip
    return OrderFacts(facts, Deadline(DUE, "promise", 48), list(parcels))


def test_a_number_uploaded_exactly_at_the_deadline_is_in_time() -> None:
    verdict = judge(order(parcel(DUE, None)), PenaltyKind.LATE_SHIPMENT, DUE + timedelta(days=2))
    assert verdict.outcome is Outcome.CONTESTABLE and verdict.reason == "uploaded_in_time"
    late = judge(order(parcel(DUE + timedelta(seconds=1), None)), PenaltyKind.LATE_SHIPMENT,
                 DUE + timedelta(days=2))  # fmt: skip
    assert late.outcome is Outcome.FAIR and late.at_fault == "seller"


def test_a_pickup_scan_before_the_deadline_answers_a_late_upload() -> None:
    facts = order(parcel(DUE + timedelta(hours=2), DUE - timedelta(hours=1)))
    verdict = judge(facts, PenaltyKind.LATE_SHIPMENT, DUE + timedelta(days=1))
    assert verdict.outcome is Outcome.CONTESTABLE and verdict.reason == "picked_up_in_time"


def test_an_order_never_shipped_is_fairly_charged_to_the_seller() -> None:
    verdict = judge(order(), PenaltyKind.LATE_SHIPMENT, DUE + timedelta(days=1))
    assert (verdict.outcome, verdict.reason, verdict.at_fault) == (Outcome.FAIR, "not_shipped",
                                                                   "seller")  # fmt: skip
    assert judge(order(), PenaltyKind.FAKE_SHIPMENT, DUE).reason == "no_number"


def test_the_pickup_window_runs_from_the_upload_and_includes_its_end() -> None:
    up = PAID + timedelta(hours=3)
    in_time = judge(order(parcel(up, up + timedelta(hours=24))), PenaltyKind.LATE_PICKUP, DUE)
    assert in_time.outcome is Outcome.CONTESTABLE and in_time.reason == "scanned_in_time"
    late = judge(order(parcel(up, up + timedelta(hours=30))), PenaltyKind.LATE_PICKUP, DUE)
    assert (late.outcome, late.at_fault, late.carrier) == (Outcome.FAIR, "carrier", "zto")


def test_a_charge_before_the_window_ended_is_contestable() -> None:
    up = PAID + timedelta(hours=3)
    verdict = judge(order(parcel(up, None)), PenaltyKind.FAKE_SHIPMENT, up + timedelta(hours=5))
    assert verdict.outcome is Outcome.CONTESTABLE and verdict.reason == "pickup_not_yet_due"
    after = judge(order(parcel(up, None)), PenaltyKind.FAKE_SHIPMENT, up + timedelta(hours=25))
    assert (after.outcome, after.reason, after.at_fault) == (Outcome.FAIR, "never_scanned", None)


def test_a_split_order_is_judged_by_its_parcel_that_was_late() -> None:
    up = PAID + timedelta(hours=3)
    facts = order(parcel(up, up + timedelta(hours=2), "ZT1"),
                  parcel(up, up + timedelta(hours=40), "YT2", "yto"))  # fmt: skip
    verdict = judge(facts, PenaltyKind.FAKE_SHIPMENT, DUE + timedelta(days=1))
    assert verdict.outcome is Outcome.FAIR and verdict.carrier == "yto"
    assert verdict.values["number"] == "YT2"


def test_the_sentence_cites_local_times_in_both_languages() -> None:
    up = datetime(2026, 11, 24, 7, 2, tzinfo=UTC)  # 15:02 in Shanghai
    scan = datetime(2026, 11, 24, 9, 20, tzinfo=UTC)  # 17:20
    facts = order(parcel(up, scan))
    shipped, picked = summary(facts, DUE)
    assert shipped.sentence("zh", SHANGHAI) == "运单号上传 11-24 15:02，早于发货时限 11-26 10:00"
    assert picked.sentence("zh", SHANGHAI) == (
        "揽收扫描 11-24 17:20，在运单号 ZT1 上传（11-24 15:02）后 2.3 小时，未超过 24 小时时限"
    )
    assert shipped.sentence("en", SHANGHAI) == (
        "tracking number uploaded 11-24 15:02, before the ship deadline 11-26 10:00"
    )


def test_unknown_orders_and_charges_are_unknown() -> None:
    missing = judge(None, PenaltyKind.LATE_SHIPMENT, DUE, "P404")
    assert missing.outcome is Outcome.UNKNOWN and "P404" in missing.sentence("zh", SHANGHAI)
    other = judge(order(), PenaltyKind.OTHER, DUE, "A1", "虚假签收")
    assert other.outcome is Outcome.UNKNOWN and "虚假签收" in other.sentence("zh", SHANGHAI)
