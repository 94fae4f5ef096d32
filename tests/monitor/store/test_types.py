"""The UTC timestamp type (monitor/store/types.py) on both backends: aware times round-trip as
the same instant, naive ones are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from monitor.store.types import EPOCH, from_micros, to_micros
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


@given(st.datetimes(timezones=st.timezones()))
def test_micros_are_exact_and_round_trip(moment: datetime) -> None:
    """Any aware moment, before or after the epoch, in any zone: the integer is the exact
    number of microseconds (timedelta division, the slow way), and reads back as the instant."""
    micros = to_micros(moment)
    assert micros == (moment - EPOCH) // timedelta(microseconds=1)
    assert from_micros(micros) == moment.astimezone(UTC)  # across zones, folds compare unequal
