"""Arrow frame reads (monitor/store/frames.py) on both backends: UTC time columns, NULLs and an
empty result with its columns."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import Engine, select, text

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


@pytest.mark.postgres
def test_postgresql_reads_reuse_a_connection_and_drop_one_that_failed(
    _postgres_engine: Engine,
) -> None:
    def backend_pid() -> int:
        return int(read_frame(_postgres_engine, "SELECT pg_backend_pid() AS pid")["pid"][0])

    first = backend_pid()
    assert backend_pid() == first  # the idle connection was taken again, not a new one
    with pytest.raises(Exception, match="no_such_table"):
        read_frame(_postgres_engine, "SELECT * FROM no_such_table")
    after = backend_pid()
    assert after != first  # the connection that failed was closed, not put back
    assert backend_pid() == after
    # Autocommit: the idle connection holds no transaction open between reads.
    with _postgres_engine.connect() as conn:
        state = conn.execute(
            text("SELECT state FROM pg_stat_activity WHERE pid = :pid"), {"pid": after}
        ).scalar_one()
    assert state == "idle"
