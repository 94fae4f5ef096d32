"""The store on both backends: migrations, the UTC timestamp type, the one-open-alert-per-
fingerprint guarantee, and the Arrow frame reads (including the SQLite reader process dying)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pandas as pd
import pytest
from sqlalchemy import Engine, insert, inspect, select
from sqlalchemy.exc import IntegrityError

from monitor.store import frames
from monitor.store.db import upgrade
from monitor.store.frames import SQLiteReadError, read_frame
from monitor.store.models import Alert, Shipment

SHIPMENTS = Shipment.__table__  # type: ignore[attr-defined]
ALERTS = Alert.__table__  # type: ignore[attr-defined]
NOW = datetime(2026, 11, 24, 2, 30, 15, 123456, tzinfo=UTC)


def add_shipment(engine: Engine, order_id: str, **values: object) -> None:
    row = {
        "order_id": order_id,
        "warehouse": "hz1",
        "paid_at": NOW,
        "created_at": NOW,
        "updated_at": NOW,
    } | values
    with engine.begin() as conn:
        conn.execute(insert(SHIPMENTS), row)


def test_migrations_are_idempotent_and_complete(engine: Engine) -> None:
    upgrade(engine)  # a second run is a no-op
    tables = set(inspect(engine).get_table_names())
    assert {"shipment", "tracking_event", "alert", "alert_event", "outbox"} <= tables


def test_times_round_trip_as_aware_utc(engine: Engine) -> None:
    shanghai = timezone(timedelta(hours=8))
    add_shipment(engine, "T1", shipped_at=NOW.astimezone(shanghai))
    with engine.connect() as conn:
        row = conn.execute(select(SHIPMENTS).where(SHIPMENTS.c.order_id == "T1")).one()
    assert row.paid_at == NOW and row.paid_at.tzinfo is not None
    assert row.shipped_at == NOW  # stored as the same instant
    with engine.connect() as conn:
        found = conn.execute(
            select(SHIPMENTS.c.order_id).where(SHIPMENTS.c.paid_at < NOW + timedelta(seconds=1))
        ).all()
    assert [r.order_id for r in found] == ["T1"]


def test_naive_times_are_refused(engine: Engine) -> None:
    with pytest.raises(Exception, match="no time zone"):
        add_shipment(engine, "T2", shipped_at=datetime(2026, 11, 24, 10, 0))


def test_one_open_alert_per_fingerprint(engine: Engine) -> None:
    alert = {
        "fingerprint": "stalled:O1",
        "kind": "stalled",
        "severity": "warning",
        "state": "open",
        "since": NOW,
        "opened_at": NOW,
        "updated_at": NOW,
        "detail": {},
    }
    with engine.begin() as conn:
        conn.execute(insert(ALERTS), alert | {"state": "resolved"})
        conn.execute(insert(ALERTS), alert | {"state": "resolved"})  # history may repeat
        conn.execute(insert(ALERTS), alert)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(ALERTS), alert | {"state": "acknowledged"})


def test_read_frame_gives_utc_time_columns(engine: Engine) -> None:
    add_shipment(engine, "F1", shipped_at=NOW, amount=12.5, province="新疆")
    add_shipment(engine, "F2")
    query = select(
        SHIPMENTS.c.order_id, SHIPMENTS.c.paid_at, SHIPMENTS.c.shipped_at, SHIPMENTS.c.province
    ).order_by(SHIPMENTS.c.order_id)
    frame = read_frame(engine, query, ["paid_at", "shipped_at"])
    assert str(frame["paid_at"].dtype) == "datetime64[us, UTC]"
    assert frame["paid_at"].iloc[0] == pd.Timestamp(NOW)
    assert pd.isna(frame["shipped_at"].iloc[1])
    assert frame["province"].tolist()[0] == "新疆"
    empty = read_frame(engine, query.where(SHIPMENTS.c.order_id == "none"), ["paid_at"])
    assert empty.empty and list(empty.columns) == ["order_id", "paid_at", "shipped_at", "province"]


def test_sqlite_reader_process_recovers_after_being_killed(sqlite_engine: Engine) -> None:
    add_shipment(sqlite_engine, "K1")
    query = select(SHIPMENTS.c.order_id)
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


@pytest.mark.postgres
def test_singleton_jobs_run_on_one_replica_at_a_time(postgres_url: str) -> None:
    from sqlalchemy import create_engine

    from monitor.store.locks import run_alone

    first, second = create_engine(postgres_url), create_engine(postgres_url)
    try:
        inner = run_alone(first, "detect", lambda: run_alone(second, "detect", lambda: "ran"))
        assert inner is None  # the other replica skipped while the first held the lock
        assert run_alone(second, "detect", lambda: "ran") == "ran"  # released afterwards
    finally:
        first.dispose()
        second.dispose()


def test_singleton_jobs_just_run_on_sqlite(sqlite_engine: Engine) -> None:
    from monitor.store.locks import run_alone

    assert run_alone(sqlite_engine, "detect", lambda x: x + 1, 1) == 2
