"""The UTC timestamp type (monitor/store/types.py) on both backends: aware times round-trip as
the same instant, naive ones are refused."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, select

from tests.support.store import NOW, ORDERS, add_shipment


def test_times_round_trip_as_aware_utc(engine: Engine) -> None:
    shanghai = timezone(timedelta(hours=8))
    add_shipment(engine, "T1", shipped_at=NOW.astimezone(shanghai))
    with engine.connect() as conn:
        row = conn.execute(select(ORDERS).where(ORDERS.c.order_id == "T1")).one()
    assert row.paid_at == NOW and row.paid_at.tzinfo is not None
    assert row.shipped_at == NOW  # stored as the same instant
    with engine.connect() as conn:
        found = conn.execute(
            select(ORDERS.c.order_id).where(ORDERS.c.paid_at < NOW + timedelta(seconds=1))
        ).all()
    assert [r.order_id for r in found] == ["T1"]


def test_naive_times_are_refused(engine: Engine) -> None:
    with pytest.raises(Exception, match="no time zone"):
        add_shipment(engine, "T2", shipped_at=datetime(2026, 11, 24, 10, 0))
