"""Parcels handed to zto at hz1 and the scans a fake carrier answers for them, for the tests of
the tracking code, the poller and the push endpoints."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from carriers.status import ParcelStatus
from monitor.ingest import ingest_rows
from monitor.ingest.files import RawRow
from monitor.store.models import Shipment, TrackingEvent
from tests.support.config import make_config
from tests.support.fake_carrier import scan

SH = ZoneInfo("Asia/Shanghai")
CONFIG = make_config()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def shipment(engine: Engine, order_id: str = "O1") -> Shipment:
    from sqlmodel import Session

    with Session(engine) as session:
        return session.exec(select(Shipment).where(Shipment.order_id == order_id)).scalars().one()


def events(engine: Engine) -> list[TrackingEvent]:
    from sqlmodel import Session

    with Session(engine) as session:
        rows = session.exec(select(TrackingEvent).order_by(TrackingEvent.occurred_at)).scalars()
        return list(rows)


def seed(engine: Engine, now: datetime, count: int = 1) -> None:
    rows = [
        RawRow(
            i + 1,
            {
                "order_id": f"O{i + 1}",
                "warehouse": "hz1",
                "province": "江苏",
                "paid_at": "2026-11-20 09:00",
                "carrier": "zto",
                "tracking_number": f"73{i + 1:04d}",
                "shipped_at": "2026-11-20 12:00",
            },
        )
        for i in range(count)
    ]
    assert not ingest_rows(engine, CONFIG, rows, now).rejected


JOURNEY = [
    scan(
        at("2026-11-20 15:00"),
        ParcelStatus.PICKED_UP,
        "快件已被【中通快递杭州西湖区网点】揽收",
        "103",
    ),
    scan(at("2026-11-20 22:00"), ParcelStatus.IN_TRANSIT, "快件已到达【杭州转运中心】", "1002"),
    scan(at("2026-11-21 09:00"), ParcelStatus.IN_TRANSIT, "快件已到达【南京转运中心】", "1002"),
]
