"""The store loader of detection (monitor/detection.py): parcels imported from an ERP export
load into the same frames (orders, parcels) that the rule tests build with
tests/support/parcels.py."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine

from monitor.detection import detect, load_orders, load_parcels
from monitor.ingest import import_file, ingest_rows
from monitor.ingest.files import RawRow
from tests.support.config import make_config
from tests.support.parcels import at, order_frame, parcel_frame

CONFIG = make_config()


def test_parcel_frame_matches_the_store_loader(sqlite_engine: Engine, tmp_path: Path) -> None:
    source = tmp_path / "orders.csv"
    source.write_text(
        "订单号,平台,仓库,付款时间,快递公司,快递单号,发货时间,揽收时间,收货省份,金额,物流状态\n"
        "A1,taobao,hz1,2026-11-24 10:00,中通,,,,江苏,12.5,\n"
        "A2,pinduoduo,hz1,2026-11-24 10:05,中通,700000000002,2026-11-24 12:00,"
        "2026-11-24 15:00,新疆维吾尔自治区,,破损\n",
        encoding="utf-8",
    )
    now = at("2026-11-24 16:00")
    report = import_file(sqlite_engine, make_config(), source, now)
    assert report.rejected == []
    orders = order_frame({"order_id": "A1", "paid_at": "2026-11-24 10:00", "amount": 12.5})
    pd.testing.assert_frame_equal(load_orders(sqlite_engine), orders)  # A2 has shipped
    built = parcel_frame(
        {
            "order_id": "A2",
            "platform": "pinduoduo",
            "tracking_number": "700000000002",
            "province": "新疆",
            "shipped_at": "2026-11-24 12:00",
            "picked_up_at": "2026-11-24 15:00",
            "last_event_at": "2026-11-24 15:00",
            "status": "exception",
            "sub_reason": "damaged",
        },
    )
    pd.testing.assert_frame_equal(load_parcels(sqlite_engine, now), built)


def test_the_full_tick_read_piece_by_piece_finds_what_one_read_finds(
    sqlite_engine: Engine,
) -> None:
    """monitor/detection.py PIECE_PARCELS: the pieces' exceptions and the incidents judged
    over all of them are those of one read of the book."""
    now = at("2026-11-19 12:00")
    rows = [
        RawRow(i, {"order_id": f"O{i}", "platform": "taobao", "warehouse": "hz1",
                   "province": "江苏" if i % 5 else "四川", "paid_at": "2026-11-16 09:00",
                   "carrier": "zto" if i % 7 else "yto", "tracking_number": f"73{i:05d}",
                   "shipped_at": "2026-11-16 05:00", "picked_up_at": "2026-11-16 06:00",
                   "last_event_at": "2026-11-17 06:00" if i % 3 else "2026-11-19 10:00",
                   "status": "in_transit"})
        for i in range(1, 41)
    ] + [RawRow(41, {"order_id": "O41", "warehouse": "hz1", "paid_at": "2026-11-17 09:00"})]  # fmt: skip
    assert not ingest_rows(sqlite_engine, CONFIG, rows, now).rejected

    def found(piece: int) -> set[tuple[object, ...]]:
        frame = detect(sqlite_engine, CONFIG, now, piece=piece)
        return {
            (r.kind, r.severity, r.shipment_id, r.sales_order_id, r.carrier, r.province,
             r.since, repr(sorted(r.detail.items())))
            for r in frame.astype(object).where(frame.notna(), None).itertuples(index=False)
        }  # fmt: skip

    whole = found(10**6)
    assert {row[0] for row in whole} >= {"carrier_incident", "stalled", "delayed"}
    assert found(7) == whole


def test_a_tick_failing_mid_book_leaves_no_reading_thread(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The full tick reads the next piece of parcels while it judges one; when judging
    fails, leaving detect waits for that read and ends the reading thread."""
    import monitor.detection as detection

    rows = [RawRow(i, {"order_id": f"P{i}", "platform": "taobao", "warehouse": "hz1",
                       "paid_at": "2026-11-24 10:00", "carrier": "zto",
                       "tracking_number": f"70{i:05d}", "shipped_at": "2026-11-24 12:00",
                       "province": "江苏"}) for i in range(1, 7)]  # fmt: skip
    assert not ingest_rows(sqlite_engine, CONFIG, rows, at("2026-11-24 12:30")).rejected
    judged = []

    def fails_on_the_second(frame: pd.DataFrame | None, *args: Any, **kwargs: Any) -> Any:
        if frame is not None:
            judged.append(len(frame))
            if len(judged) == 2:
                raise RuntimeError("judging failed")
        return real(frame, *args, **kwargs)

    real = detection.evaluate
    monkeypatch.setattr(detection, "evaluate", fails_on_the_second)
    with pytest.raises(RuntimeError, match="judging failed"):
        detect(sqlite_engine, CONFIG, at("2026-11-24 16:00"), piece=2)
    assert judged == [2, 2]
    assert not [t for t in threading.enumerate() if t.name.startswith("parcel-piece")]
