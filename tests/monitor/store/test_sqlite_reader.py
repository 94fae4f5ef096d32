"""The SQLite reader process (monitor/store/sqlite_reader.py) behind `read_frame`: it comes
back after being killed and reports SQL errors without dying."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from monitor.store import frames
from monitor.store.frames import SQLiteReadError, read_frame
from tests.support.store import ORDERS, add_shipment


def test_sqlite_reader_process_recovers_after_being_killed(sqlite_engine: Engine) -> None:
    add_shipment(sqlite_engine, "K1")
    query = select(ORDERS.c.order_id)
    assert read_frame(sqlite_engine, query)["order_id"].tolist() == ["K1"]
    process = frames._reader._process
    assert process is not None
    process.kill()
    process.wait()
    assert read_frame(sqlite_engine, query)["order_id"].tolist() == ["K1"]


def test_sqlite_reader_reports_sql_errors(sqlite_engine: Engine) -> None:
    with pytest.raises(SQLiteReadError, match="no_such_table"):
        read_frame(sqlite_engine, "SELECT * FROM no_such_table")
    # The helper survives a bad query.
    assert read_frame(sqlite_engine, "SELECT 1 AS one")["one"].tolist() == [1]
