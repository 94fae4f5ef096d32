"""Arrow frame reads (monitor/store/frames.py) on both backends: UTC time columns, NULLs and an
empty result with its columns."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, select

from monitor.store.frames import read_frame
from tests.support.store import NOW, ORDERS, add_shipment


def test_read_frame_gives_utc_time_columns(engine: Engine) -> None:
    add_shipment(engine, "F1", shipped_at=NOW, amount=12.5, province="新疆")
    add_shipment(engine, "F2")
    query = select(
        ORDERS.c.order_id, ORDERS.c.paid_at, ORDERS.c.shipped_at, ORDERS.c.province
    ).order_by(ORDERS.c.order_id)
    frame = read_frame(engine, query, ["paid_at", "shipped_at"])
    assert str(frame["paid_at"].dtype) == "datetime64[us, UTC]"
    assert frame["paid_at"].iloc[0] == pd.Timestamp(NOW)
    assert pd.isna(frame["shipped_at"].iloc[1])
    assert frame["province"].tolist()[0] == "新疆"
    empty = read_frame(engine, query.where(ORDERS.c.order_id == "none"), ["paid_at"])
    assert empty.empty and list(empty.columns) == ["order_id", "paid_at", "shipped_at", "province"]
