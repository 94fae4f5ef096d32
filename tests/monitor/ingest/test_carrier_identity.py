"""The stored carrier is always one of parcelwatch's codes: an aggregator's own identifier
(a 17TRACK numeric key, an AfterShip slug, an unmapped Kuaidi100 code) never replaces it; a
corrected courier that is one of ours does, recorded in the parcel's history, and the parcel
is subscribed again (the new carrier may sit on another account)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Engine, select, update

from carriers.base import CarrierEvent, TrackingUpdate
from carriers.status import ParcelStatus
from monitor.ingest import ingest_rows
from monitor.ingest.files import RawRow
from monitor.ingest.tracking import apply_updates
from monitor.store.tables import SHIPMENTS, TRACKING_EVENTS
from tests.support.config import make_config

NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
CONFIG = make_config(carriers={"zto": {"adapter": "kuaidi100"}, "yto": {"adapter": "kuaidi100"}})


@pytest.fixture
def parcel(engine: Engine) -> Engine:
    rows = [RawRow(1, {"order_id": "A1", "warehouse": "hz1", "paid_at": "2026-11-23 09:00",
                       "carrier": "zto", "tracking_number": "731",
                       "shipped_at": "2026-11-23 12:00"})]  # fmt: skip
    assert not ingest_rows(engine, CONFIG, rows, NOW).rejected
    with engine.begin() as conn:
        conn.execute(update(SHIPMENTS).values(subscribed_at=NOW - timedelta(hours=5)))
    return engine


def answer(carrier: str) -> TrackingUpdate:
    scan = CarrierEvent(occurred_at=NOW - timedelta(hours=3), status=ParcelStatus.IN_TRANSIT,
                        raw_text="快件已到达【杭州转运中心】")  # fmt: skip
    return TrackingUpdate("731", carrier, ParcelStatus.IN_TRANSIT, (scan,), source="push")


def stored(engine: Engine) -> tuple[str, datetime | None]:
    with engine.connect() as conn:
        row = conn.execute(select(SHIPMENTS.c.carrier, SHIPMENTS.c.subscribed_at)).one()
    return row.carrier, row.subscribed_at


@pytest.mark.parametrize("foreign", ["2151", "fedex", "yuantongkuaiyun"])
def test_an_aggregators_own_identifier_is_never_stored(parcel: Engine, foreign: str) -> None:
    counter = {"source": "push"}
    before = REGISTRY.get_sample_value("parcelwatch_carrier_ids_unmapped_total", counter) or 0
    apply_updates(parcel, [answer(foreign)], NOW)
    assert stored(parcel) == ("zto", NOW - timedelta(hours=5))
    after = REGISTRY.get_sample_value("parcelwatch_carrier_ids_unmapped_total", counter)
    assert after == before + 1


def test_a_corrected_courier_of_ours_is_stored_with_its_history(parcel: Engine) -> None:
    apply_updates(parcel, [answer("yto")], NOW)
    assert stored(parcel) == ("yto", None)  # to be subscribed again under its account
    with parcel.connect() as conn:
        texts = list(conn.execute(select(TRACKING_EVENTS.c.raw_text)).scalars())
    assert "carrier corrected: zto → yto" in texts
    apply_updates(parcel, [answer("yto")], NOW)  # the same answer again changes nothing
    with parcel.connect() as conn:
        assert len(list(conn.execute(select(TRACKING_EVENTS.c.id)))) == len(texts)
