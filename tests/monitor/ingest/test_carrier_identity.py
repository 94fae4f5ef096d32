"""The stored carrier is always one of parcelwatch's codes: an aggregator's own identifier
(a 17TRACK numeric key, an AfterShip slug, an unmapped Kuaidi100 code) never replaces it; a
corrected courier that is one of ours does, recorded in the parcel's history, and the parcel
is subscribed again (the new carrier may sit on another account). An unmapped identifier is
counted only once the write that met it committed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Engine, select, update

from carriers.base import CarrierEvent, TrackingUpdate
from carriers.status import ParcelStatus
from monitor.ingest import ingest_rows
from monitor.ingest.files import RawRow
from monitor.ingest.tracking import apply_updates, apply_updates_in
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


def unmapped_counted() -> float:
    counter = {"source": "push"}
    return REGISTRY.get_sample_value("parcelwatch_carrier_ids_unmapped_total", counter) or 0.0


@pytest.mark.parametrize("foreign", ["2151", "fedex", "yuantongkuaiyun"])
def test_an_aggregators_own_identifier_is_never_stored(parcel: Engine, foreign: str) -> None:
    before = unmapped_counted()
    apply_updates(parcel, [answer(foreign)], NOW)
    assert stored(parcel) == ("zto", NOW - timedelta(hours=5))
    assert unmapped_counted() == before + 1


def test_an_unmapped_identifier_counts_only_once_its_write_committed(parcel: Engine) -> None:
    before = unmapped_counted()
    with pytest.raises(RuntimeError), parcel.begin() as conn:  # the batch fails after it
        result = apply_updates_in(conn, [answer("2151")], NOW)
        assert result.unmapped == {"push": 1}
        raise RuntimeError("the rest of the batch failed")
    assert unmapped_counted() == before  # rolled back: nothing stored, nothing counted
    with parcel.begin() as conn:  # the same batch again (a carrier sends its push again)
        result = apply_updates_in(conn, [answer("2151")], NOW)
    result.record_metrics()
    assert unmapped_counted() == before + 1
    assert stored(parcel) == ("zto", NOW - timedelta(hours=5))


def test_a_corrected_courier_of_ours_is_stored_with_its_history(parcel: Engine) -> None:
    apply_updates(parcel, [answer("yto")], NOW)
    assert stored(parcel) == ("yto", None)  # to be subscribed again under its account
    with parcel.connect() as conn:
        texts = list(conn.execute(select(TRACKING_EVENTS.c.raw_text)).scalars())
    assert "carrier corrected: zto → yto" in texts
    apply_updates(parcel, [answer("yto")], NOW)  # the same answer again changes nothing
    with parcel.connect() as conn:
        assert len(list(conn.execute(select(TRACKING_EVENTS.c.id)))) == len(texts)
