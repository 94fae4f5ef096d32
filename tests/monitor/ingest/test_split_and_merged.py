"""Split shipments (一单多包裹) and merged shipments (合并发货) through the import: no parcel is
lost, none is doubled, a re-link is reported (docs/orders-and-parcels.md "Import")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from monitor.ingest import import_file, ingest_rows
from monitor.ingest.files import RawRow
from monitor.ingest.records import split_tracking_numbers
from monitor.store.tables import ORDER_PARCELS, ORDERS, SHIPMENTS
from tests.support.config import make_config

NOW = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
CONFIG = make_config()


def row(order_id: str, numbers: str = "", **values: Any) -> dict[str, Any]:
    base = {"order_id": order_id, "platform": "淘宝", "warehouse": "hz1",
            "paid_at": "2026-11-23 10:00", "province": "江苏"}  # fmt: skip
    if numbers:
        base |= {"carrier": "中通", "tracking_number": numbers, "shipped_at": "2026-11-23 15:00"}
    return base | values


def ingest(engine: Engine, *rows: dict[str, Any], now: datetime = NOW) -> Any:
    report = ingest_rows(engine, CONFIG, [RawRow(i + 2, r) for i, r in enumerate(rows)], now)
    assert report.rejected == []
    return report.counts


def parcels_of(engine: Engine) -> dict[str, list[str]]:
    """Order id -> its tracking numbers."""
    query = (
        select(ORDERS.c.order_id, SHIPMENTS.c.tracking_number)
        .select_from(
            ORDERS.join(ORDER_PARCELS, ORDER_PARCELS.c.sales_order_id == ORDERS.c.id).join(
                SHIPMENTS, SHIPMENTS.c.id == ORDER_PARCELS.c.shipment_id
            )
        )
        .order_by(ORDERS.c.order_id, SHIPMENTS.c.tracking_number)
    )
    found: dict[str, list[str]] = {}
    with engine.connect() as conn:
        for order_id, number in conn.execute(query):
            found.setdefault(order_id, []).append(number)
    return found


def parcel(engine: Engine, number: str) -> Any:
    with engine.connect() as conn:
        rows = conn.execute(select(SHIPMENTS).where(SHIPMENTS.c.tracking_number == number)).all()
    assert len(rows) == 1, f"{number} is stored {len(rows)} times"
    return rows[0]


def test_two_rows_of_one_order_are_two_parcels_of_one_order(engine: Engine) -> None:
    counts = ingest(engine, row("X1", "73100000000903"), row("X1", "73100000000904"))
    assert (counts.inserted, counts.parcels_inserted, counts.links_added) == (1, 2, 2)
    assert parcels_of(engine) == {"X1": ["73100000000903", "73100000000904"]}
    assert parcel(engine, "73100000000903").order_id == "X1"


@pytest.mark.parametrize("separator", [",", "，", ";", "；", "、", "/", " ", " , "])
def test_several_numbers_in_one_cell_are_several_parcels(engine: Engine, separator: str) -> None:
    counts = ingest(engine, row("X1", f"73100000000903{separator}73100000000904"))
    assert counts.parcels_inserted == 2
    assert parcels_of(engine) == {"X1": ["73100000000903", "73100000000904"]}


def test_split_cell_keeps_order_and_drops_repeats() -> None:
    assert split_tracking_numbers(" 9, 7；9 、\t8 ") == ("9", "7", "8")
    assert split_tracking_numbers("") == ()


def test_one_number_on_two_orders_is_one_parcel_carrying_both(engine: Engine) -> None:
    counts = ingest(engine, row("X1", "7310000000090"), row("X2", "7310000000090"))
    assert (counts.inserted, counts.parcels_inserted, counts.links_added) == (2, 1, 2)
    shared = parcel(engine, "7310000000090")
    assert (shared.order_count, shared.order_id) == (2, "X1")
    assert counts.notes == []  # both orders came in together: a merged shipment, not a move


def test_reimport_changes_nothing(engine: Engine) -> None:
    rows = [row("X1", "731,732"), row("X2", "731"), row("X3"), row("X1", "733")]
    ingest(engine, *rows)
    again = ingest(engine, *rows, now=NOW + timedelta(hours=1))
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    assert (again.parcels_inserted, again.parcels_updated, again.links_added) == (0, 0, 0)
    assert again.parcels_unchanged == 3
    assert parcels_of(engine) == {"X1": ["731", "732", "733"], "X2": ["731"]}


def test_a_number_that_moves_to_another_order_is_linked_to_both_and_reported(
    engine: Engine,
) -> None:
    ingest(engine, row("X1", "7310000000091"))
    later = ingest(engine, row("X2", "7310000000091"), now=NOW + timedelta(hours=2))
    assert parcels_of(engine) == {"X1": ["7310000000091"], "X2": ["7310000000091"]}
    (note,) = later.notes
    assert (note.order_id, note.tracking_number, note.other_orders) == (
        "X2", "7310000000091", ("X1",),
    )  # fmt: skip
    assert "X1" in str(note) and "X2" in str(note)


def test_an_incremental_export_never_unlinks_yesterdays_parcel(engine: Engine) -> None:
    ingest(engine, row("X1", "7310000000001"))
    ingest(engine, row("X1", "7310000000002"), now=NOW + timedelta(days=1))
    assert parcels_of(engine) == {"X1": ["7310000000001", "7310000000002"]}


def test_a_corrected_carrier_rekeys_the_parcel_and_tracks_it_afresh(engine: Engine) -> None:
    ingest(engine, row("X1", "YT7000001"))
    with engine.begin() as conn:
        conn.execute(SHIPMENTS.update().values(next_poll_at=None, poll_failures=3))
    later = NOW + timedelta(hours=1)
    counts = ingest(engine, row("X1", "YT7000001", carrier="圆通"), now=later)
    assert (counts.parcels_inserted, counts.parcels_updated) == (0, 1)
    fixed = parcel(engine, "YT7000001")
    assert fixed.carrier == "yto" and fixed.poll_failures == 0 and fixed.next_poll_at == later


def test_the_order_ships_with_its_first_parcel(engine: Engine) -> None:
    ingest(
        engine,
        row("X1", "7310000000001", shipped_at="2026-11-23 17:00"),
        row("X1", "7310000000002", shipped_at="2026-11-23 15:30"),
    )
    with engine.connect() as conn:
        shipped = conn.execute(select(ORDERS.c.shipped_at)).scalar_one()
    assert shipped == datetime(2026, 11, 23, 7, 30, tzinfo=UTC)  # 15:30 in Shanghai


def test_equal_order_ids_of_two_platforms_are_two_orders(engine: Engine) -> None:
    counts = ingest(engine, row("1001"), row("1001", platform="拼多多"))
    assert counts.inserted == 2
    with engine.connect() as conn:
        platforms = sorted(conn.execute(select(ORDERS.c.platform)).scalars())
    assert platforms == ["pinduoduo", "taobao"]


@pytest.mark.parametrize("column", ["picked_up_at", "delivered_at"])
def test_scan_times_without_a_tracking_number_are_rejected(engine: Engine, column: str) -> None:
    report = ingest_rows(
        engine, CONFIG, [RawRow(2, row("X1", **{column: "2026-11-23 18:00"}))], NOW
    )
    (rejected,) = report.rejected
    assert rejected.column == column and "tracking number" in rejected.reason


def test_a_file_import_and_the_api_shapes_agree(sqlite_engine: Engine, tmp_path: Path) -> None:
    export = tmp_path / "orders.csv"
    export.write_text(
        "order_id,platform,warehouse,paid_at,carrier,tracking_number,shipped_at\n"
        "X1,taobao,hz1,2026-11-23 10:00,zto,731；732,2026-11-23 15:00\n",
        encoding="utf-8",
    )
    report = import_file(sqlite_engine, CONFIG, export, NOW)
    assert report.counts.parcels_inserted == 2
    assert parcels_of(sqlite_engine) == {"X1": ["731", "732"]}
