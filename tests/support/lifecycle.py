"""One order through real detection ticks: imported rows, the alerts they open, and the outbox
rows written alongside."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select

from monitor.alert_queue import AlertFilter, list_alerts
from monitor.ingest import ingest_rows
from monitor.ingest.files import RawRow
from monitor.store.models import OutboxMessage
from tests.support.config import make_config

SH = ZoneInfo("Asia/Shanghai")
CONFIG = make_config()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def put(engine: Engine, now: datetime, **row: Any) -> None:
    values = {"order_id": "O1", "platform": "taobao", "warehouse": "hz1", "province": "江苏"}
    values.update(row)
    report = ingest_rows(engine, CONFIG, [RawRow(1, values)], now)
    assert not report.rejected, report.rejected


def alerts(engine: Engine, **where: Any) -> list[dict[str, Any]]:
    return list_alerts(engine, AlertFilter(**where), limit=1000)


def count(engine: Engine, model: Any, *where: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model).where(*where)).scalar())


def in_transit(engine: Engine, now: datetime, last_scan: str) -> None:
    put(
        engine,
        now,
        paid_at="2026-11-16 09:00",
        carrier="zto",
        tracking_number="7300001",
        shipped_at="2026-11-16 12:00",
        picked_up_at="2026-11-16 15:00",
        last_event_at=last_scan,
        status="in_transit",
    )


def outbox_messages(engine: Engine) -> list[OutboxMessage]:
    from sqlmodel import Session

    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).scalars())
