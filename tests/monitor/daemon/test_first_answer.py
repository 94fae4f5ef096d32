"""Push mode without false alarms: subscribing a parcel is not an answer about it, so the
carrier-side rules wait for the carrier's first push or poll answer. Before, 270 critical
no_pickup_scan alerts opened at subscription and cleared seconds later when pushes came."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from carriers.status import ParcelStatus
from monitor.clock import FixedClock
from monitor.daemon.poller import CarrierClient, Poller
from monitor.daemon.tick import run_tick
from monitor.ingest import ingest_rows
from monitor.ingest.files import RawRow
from monitor.ingest.tracking import apply_updates
from monitor.store.tables import ALERTS, SHIPMENTS
from tests.support.config import make_config
from tests.support.fake_carrier import FakeAdapter, scan

SHIPPED = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
LATER = SHIPPED + timedelta(hours=30)  # past the 24 h no-pickup threshold
CONFIG = make_config(carriers={"zto": {"adapter": "kuaidi100"}})


def kinds(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return {str(k) for k in conn.execute(select(ALERTS.c.kind)).scalars()}


def test_subscribed_but_unanswered_parcels_raise_no_carrier_alert(engine: Engine) -> None:
    rows = [RawRow(1, {"order_id": "A1", "warehouse": "hz1", "paid_at": "2026-11-22 09:00",
                       "carrier": "zto", "tracking_number": "731",
                       "shipped_at": "2026-11-22 12:00"})]  # fmt: skip
    assert not ingest_rows(engine, CONFIG, rows, SHIPPED).rejected
    fake = FakeAdapter()
    poller = Poller(engine, CONFIG, [CarrierClient(fake, frozenset({"zto"}))],
                    FixedClock(SHIPPED + timedelta(minutes=1)),
                    callback_base="https://shop.example")  # fmt: skip
    assert asyncio.run(poller.subscribe_new()) == 1
    with engine.connect() as conn:
        stored = conn.execute(select(SHIPMENTS)).one()
    assert stored.subscribed_at is not None
    assert stored.last_polled_at is None and stored.answered_at is None

    run_tick(engine, CONFIG, LATER)
    assert "no_pickup_scan" not in kinds(engine)  # the carrier has said nothing yet

    # The first push: the carrier knows the number, still no pickup scan.
    fake.timelines["731"] = [scan(SHIPPED, ParcelStatus.LABEL_CREATED, "已下单")]
    apply_updates(engine, [fake.update_for("731", source="push")], LATER, subscribed=True)
    with engine.connect() as conn:
        assert conn.execute(select(SHIPMENTS.c.answered_at)).scalar_one() == LATER
    run_tick(engine, CONFIG, LATER + timedelta(minutes=1))
    assert "no_pickup_scan" in kinds(engine)
