"""The store loader of detection (monitor/detection.py): parcels imported from an ERP export
load into the same frames (orders, parcels) that the rule tests build with
tests/support/parcels.py."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from monitor.detection import load_orders, load_parcels
from monitor.ingest import import_file
from tests.support.config import make_config
from tests.support.parcels import at, order_frame, parcel_frame


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
