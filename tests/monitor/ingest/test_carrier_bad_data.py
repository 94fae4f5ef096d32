"""Carrier answers that cannot be true are not stored as truth (issue: hardening): a scan
dated 9999-12-31 or before 2000 is dropped and counted, an estimate years ahead forgotten,
and NUL characters (which PostgreSQL text refuses) removed from the carrier's words; on both
backends, and the parcel's next poll can still be computed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY
from sqlalchemy import Engine, select

from carriers.base import CarrierEvent, TrackingUpdate
from carriers.status import ParcelStatus
from monitor.ingest import ingest_rows
from monitor.ingest.files import RawRow
from monitor.ingest.poll_schedule import PlanInput
from monitor.ingest.tracking import apply_updates
from monitor.store.tables import SHIPMENTS, TRACKING_EVENTS
from tests.support.config import make_config

NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
CONFIG = make_config(carriers={"zto": {"adapter": "kuaidi100"}})


def rejected() -> float:
    value = REGISTRY.get_sample_value(
        "parcelwatch_tracking_events_rejected_total",
        {"source": "push", "reason": "implausible_time"},
    )
    return value or 0.0


def event(at: datetime, status: ParcelStatus, text: str) -> CarrierEvent:
    return CarrierEvent(occurred_at=at, status=status, raw_text=text, location="杭州\x00")


def test_impossible_scans_are_dropped_and_nul_removed(engine: Engine) -> None:
    rows = [RawRow(1, {"order_id": "A1", "warehouse": "hz1", "paid_at": "2026-11-23 09:00",
                       "carrier": "zto", "tracking_number": "731",
                       "shipped_at": "2026-11-23 12:00"})]  # fmt: skip
    assert not ingest_rows(engine, CONFIG, rows, NOW).rejected
    update = TrackingUpdate(
        tracking_number="731",
        carrier="zto",
        status=ParcelStatus.DELIVERED,  # said by the scan that cannot be true
        events=(
            event(NOW - timedelta(hours=10), ParcelStatus.PICKED_UP, "【杭州】已揽收\x00"),
            event(NOW - timedelta(hours=2), ParcelStatus.IN_TRANSIT, "已发往成都"),
            event(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), ParcelStatus.DELIVERED, "签收"),
            event(datetime(1970, 1, 1, tzinfo=UTC), ParcelStatus.IN_TRANSIT, "epoch"),
        ),
        expected_delivery_at=datetime(2099, 1, 1, tzinfo=UTC),
        source="push",
    )
    before = rejected()
    apply_updates(engine, [update], NOW, subscribed=True, plan=PlanInput(CONFIG))
    assert rejected() - before == 2
    with engine.connect() as conn:
        texts = sorted(conn.execute(select(TRACKING_EVENTS.c.raw_text)).scalars())
        parcel = conn.execute(select(SHIPMENTS)).one()
    assert texts == ["【杭州】已揽收", "已发往成都"]
    assert parcel.status == "in_transit" and parcel.delivered_at is None
    assert parcel.last_event_at == NOW - timedelta(hours=2)
    assert parcel.expected_delivery_at is None
    assert parcel.next_poll_at is not None and parcel.next_poll_at > NOW
