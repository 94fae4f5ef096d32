"""Importing ERP exports: encodings, Chinese headers, carrier and province names, bad rows
reported by line and column while good rows still land, and idempotent re-imports."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from carriers.registry import CARRIERS
from monitor.ingest import FileUnreadable, import_file
from monitor.store.models import SalesOrder, Shipment, TrackingEvent
from monitor.store.orders import OrderView, find_order
from tests.support.config import make_config

NOW = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
CONFIG = make_config()
HEADER = "订单编号,平台,仓库,付款时间,快递公司,快递单号,发货时间,收货地址,实付金额,揽收时间,签收时间,物流状态"
GOOD = [
    "TB1,淘宝,hz1,2026-11-23 10:00:00,中通快递,731234567890,2026-11-23 15:00:00,浙江省杭州市西湖区文三路90号,99.5,2026-11-23 18:00:00,,运输中",
    "PDD2,拼多多,gz1,2026/11/23 9:05,J&T,JT0001,2026-11-23 12:00,新疆维吾尔自治区乌鲁木齐市天山区,19.9,,,待揽收",
    "JD3,京东,hz1,2026-11-22 10:00,顺丰,SF100,2026-11-22 11:00,喀什地区喀什市人民路1号,500,2026-11-22 12:00,2026-11-23 10:00,已签收",
    "DY4,抖音,gz1,2026-11-23 20:00,,,,上海市浦东新区张江路1号,30,,,",
]


def write(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def shipments(engine: Engine) -> dict[str, SimpleNamespace]:
    """Each order as the one-row-per-order view: its fields, then its first parcel's."""
    with Session(engine) as session:
        orders = list(session.exec(select(SalesOrder)).scalars())
    found = {}
    for order in orders:
        view = find_order(engine, order.order_id, order.platform)
        assert isinstance(view, OrderView)
        none = {"status": "awaiting_shipment", "carrier": None, "tracking_number": None}
        first = view.parcels[0] if view.parcels else none
        parcel = {k: v for k, v in first.items() if k not in ("id", "shipped_at")}
        found[order.order_id] = SimpleNamespace(**(view.order | parcel))
    return found


def count(engine: Engine, model: type) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar())


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_encodings_and_aliases(sqlite_engine: Engine, tmp_path: Path, encoding: str) -> None:
    file = write(tmp_path / "orders.csv", [HEADER, *GOOD], encoding)
    report = import_file(sqlite_engine, CONFIG, file, NOW)
    assert report.rejected == [] and report.exit_code == 0
    assert report.counts.inserted == 4
    assert report.encoding == encoding
    rows = shipments(sqlite_engine)
    tb = rows["TB1"]
    assert (tb.platform, tb.carrier, tb.province, tb.city, tb.status) == (
        "taobao",
        "zto",
        "浙江",
        "杭州",
        "in_transit",
    )
    # 10:00 in the warehouse's zone (Asia/Shanghai) is 02:00 UTC.
    assert tb.paid_at == datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    assert tb.amount == 99.5
    pdd = rows["PDD2"]
    assert (pdd.carrier, pdd.province, pdd.status) == ("jt", "新疆", "label_created")
    assert pdd.paid_at == datetime(2026, 11, 23, 1, 5, tzinfo=UTC)  # "2026/11/23 9:05"
    jd = rows["JD3"]
    assert (jd.carrier, jd.province, jd.status) == ("sf", "新疆", "delivered")  # city-only address
    assert jd.delivered_at == datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    dy = rows["DY4"]
    assert (dy.carrier, dy.province, dy.status, dy.shipped_at) == (
        None,
        "上海",
        "awaiting_shipment",
        None,
    )


def test_history_becomes_tracking_events_once(sqlite_engine: Engine, tmp_path: Path) -> None:
    file = write(tmp_path / "orders.csv", [HEADER, *GOOD])
    import_file(sqlite_engine, CONFIG, file, NOW)
    events = count(sqlite_engine, TrackingEvent)
    assert events == 3  # TB1 picked up; JD3 picked up and delivered
    again = import_file(sqlite_engine, CONFIG, file, NOW)
    assert (again.counts.inserted, again.counts.updated, again.counts.unchanged) == (0, 0, 4)
    assert count(sqlite_engine, TrackingEvent) == events
    assert (count(sqlite_engine, SalesOrder), count(sqlite_engine, Shipment)) == (4, 3)


def test_changed_row_updates_its_order(sqlite_engine: Engine, tmp_path: Path) -> None:
    import_file(sqlite_engine, CONFIG, write(tmp_path / "a.csv", [HEADER, *GOOD]), NOW)
    changed = GOOD[3].replace(",,,,上海市", ",韵达,4300000000001,2026-11-24 09:00,上海市")
    report = import_file(sqlite_engine, CONFIG, write(tmp_path / "b.csv", [HEADER, changed]), NOW)
    assert (report.counts.updated, report.counts.inserted) == (1, 0)  # its ship time
    assert report.counts.parcels_inserted == 1
    dy = shipments(sqlite_engine)["DY4"]
    assert (dy.carrier, dy.tracking_number, dy.status) == (
        "yunda",
        "4300000000001",
        "label_created",
    )


def test_bad_rows_reported_with_line_and_column(sqlite_engine: Engine, tmp_path: Path) -> None:
    bad = [
        "B1,淘宝,hz1,2026-13-40 10:00,中通,731,2026-11-23 15:00,浙江杭州,1,,,",  # bad date
        "B2,淘宝,hz1,2026-11-23 10:00,飞毛腿快递,X1,2026-11-23 15:00,浙江杭州,1,,,",  # carrier
        ",淘宝,hz1,2026-11-23 10:00,中通,731,2026-11-23 15:00,浙江杭州,1,,,",  # no order id
        "B4,淘宝,sh9,2026-11-23 10:00,中通,731,2026-11-23 15:00,浙江杭州,1,,,",  # warehouse
        "B5,淘宝,hz1,2026-11-23 10:00,中通,731,2026-11-23 15:00,浙江杭州,abc,,,",  # amount
        "B6,淘宝,hz1,2026-11-23 10:00,中通,731,2026-11-23 15:00,浙江杭州,1,,,飞走了",  # status
    ]
    file = write(tmp_path / "orders.csv", [HEADER, GOOD[0], *bad, GOOD[1]])
    report = import_file(sqlite_engine, CONFIG, file, NOW)
    assert report.exit_code == 1
    assert report.counts.inserted == 2
    found = [(r.line, r.column) for r in report.rejected]
    assert found == [
        (3, "paid_at"),
        (4, "carrier"),
        (5, "order_id"),
        (6, "warehouse"),
        (7, "amount"),
        (8, "status"),
    ]
    assert "飞毛腿快递" in report.rejected[1].reason
    assert "sh9" in report.rejected[3].reason and "hz1" in report.rejected[3].reason
    assert str(report.rejected[0]).startswith("line 3, column paid_at: not a date and time")


def test_line_numbers_survive_quoted_newlines(sqlite_engine: Engine, tmp_path: Path) -> None:
    multiline = 'Q1,淘宝,hz1,2026-11-23 10:00,中通,731,2026-11-23 15:00,"浙江杭州\n西湖区",1,,,'
    broken = "Q2,淘宝,hz1,yesterday,中通,731,2026-11-23 15:00,浙江杭州,1,,,"
    file = write(tmp_path / "orders.csv", [HEADER, multiline, broken])
    report = import_file(sqlite_engine, CONFIG, file, NOW)
    assert [(r.line, r.column) for r in report.rejected] == [(4, "paid_at")]


def test_unreadable_files(sqlite_engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(FileUnreadable, match="cannot read"):
        import_file(sqlite_engine, CONFIG, tmp_path / "missing.csv", NOW)
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes(("\n".join([HEADER, GOOD[0]])).encode("utf-16"))
    with pytest.raises(FileUnreadable, match="not UTF-8 or GB18030"):
        import_file(sqlite_engine, CONFIG, utf16, NOW)
    no_order = write(tmp_path / "no_order.csv", ["平台,付款时间", "淘宝,2026-11-23 10:00"])
    with pytest.raises(FileUnreadable, match="no order_id column"):
        import_file(sqlite_engine, CONFIG, no_order, NOW)
    empty = write(tmp_path / "empty.csv", [])
    with pytest.raises(FileUnreadable, match="empty file"):
        import_file(sqlite_engine, CONFIG, empty, NOW)


def test_jsonl_with_a_broken_line(sqlite_engine: Engine, tmp_path: Path) -> None:
    lines = [
        '{"order_id": "J1", "warehouse": "hz1", "paid_at": "2026-11-23T10:00:00+08:00"}',
        '{"order_id": "J2", "warehouse": "hz1", "paid_at": ',
        '{"订单编号": "J3", "仓库": "gz1", "付款时间": "2026-11-23 11:00", "快递公司": "EMS",'
        ' "快递单号": "9800000000001", "发货时间": "2026-11-23 12:00", "收货省份": "Xinjiang"}',
        "[1, 2]",
    ]
    report = import_file(sqlite_engine, CONFIG, write(tmp_path / "o.jsonl", lines), NOW)
    assert report.counts.inserted == 2
    assert [r.line for r in report.rejected] == [2, 4]
    assert shipments(sqlite_engine)["J3"].province == "新疆"


def test_configured_carrier_names(tmp_path: Path, sqlite_engine: Engine) -> None:
    config = make_config(carriers={"zto": {"names": ["中通速递王"]}})
    line = "C1,淘宝,hz1,2026-11-23 10:00,中通速递王,731,2026-11-23 15:00,浙江杭州,1,,,"
    report = import_file(sqlite_engine, config, write(tmp_path / "c.csv", [HEADER, line]), NOW)
    assert report.rejected == []
    assert shipments(sqlite_engine)["C1"].carrier == "zto"
    assert set(CARRIERS) >= {"sf", "zto", "yto", "yunda", "sto", "jt", "ems", "youzheng", "jd"}


@pytest.mark.postgres
def test_import_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    from sqlalchemy import text

    from monitor.store.db import make_engine, upgrade

    engine = make_engine(postgres_url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text(
            "TRUNCATE outbox, alert_event, alert, tracking_event, order_parcel, shipment, "
            "sales_order CASCADE"
        ))  # fmt: skip
    file = write(tmp_path / "orders.csv", [HEADER, *GOOD], "gb18030")
    assert import_file(engine, CONFIG, file, NOW).counts.inserted == 4
    again = import_file(engine, CONFIG, file, NOW)
    assert again.counts.unchanged == 4
    assert shipments(engine)["TB1"].paid_at == datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    engine.dispose()
