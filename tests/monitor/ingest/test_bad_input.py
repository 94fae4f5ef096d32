"""Bad input at the import edge (issue: hardening): every impossible value is a row error
naming its column, the good rows still import, and nothing poisons the store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from monitor.ingest import FileUnreadable, import_file, ingest_rows
from monitor.ingest.files import MAX_RECORD_LINES, RawRow, open_rows
from monitor.store.tables import ORDERS, SHIPMENTS
from tests.support.config import make_config

NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
CONFIG = make_config()
HEADER = "order_id,warehouse,paid_at,carrier,tracking_number,shipped_at,amount\n"


def row(order: str, **values: str) -> RawRow:
    base = {"order_id": order, "warehouse": "hz1", "paid_at": "2026-11-23 10:00"}
    return RawRow(1, base | values)


def stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(ORDERS)).scalar_one())


@pytest.mark.parametrize(
    ("values", "column", "reason"),
    [
        ({"paid_at": "9999-12-31 23:59:59"}, "paid_at", "in the future"),
        ({"paid_at": "0001-01-01 00:00:00+14:00"}, "paid_at", "before 2000"),
        ({"paid_at": "1999-12-31 23:00"}, "paid_at", "before 2000"),
        (
            {"shipped_at": "2031-01-01 00:00", "carrier": "zto", "tracking_number": "73"},
            "shipped_at",
            "in the future",
        ),
        ({"amount": "1e309"}, "amount", "not a plausible amount"),
        ({"amount": "inf"}, "amount", "not a plausible amount"),
        ({"amount": "nan"}, "amount", "not a plausible amount"),
        ({"address": "杭州\x00西湖"}, "address", "NUL"),
        ({"order_id": "A\x00B"}, "order_id", "NUL"),
    ],
)
def test_impossible_values_are_row_errors_naming_the_column(
    engine: Engine, values: dict[str, str], column: str, reason: str
) -> None:
    report = ingest_rows(engine, CONFIG, [row("BAD", **values), row("GOOD")], NOW)
    (rejected,) = report.rejected
    assert rejected.column == column and reason in rejected.reason
    assert report.counts.inserted == 1 and stored(engine) == 1


def test_a_nul_byte_in_a_csv_field_rejects_that_row_only(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "nul.csv"
    path.write_bytes(
        (HEADER + "A1,hz1,2026-11-23 10:00,,,,\nA2,hz1,2026-11-23 10:00,,,,1\x002\n"
         "A3,hz1,2026-11-23 10:00,,,,\n").encode()
    )  # fmt: skip
    report = import_file(engine, CONFIG, path, NOW)
    assert [(r.line, r.column) for r in report.rejected] == [(3, "amount")]
    assert report.counts.inserted == 2


def test_an_unbalanced_quote_is_reported_at_its_line_and_the_rest_is_read(
    engine: Engine, tmp_path: Path
) -> None:
    lines = [f"A{i},hz1,2026-11-23 10:00,zto,7310{i},2026-11-23 12:00,\n" for i in range(1, 9)]
    lines[1] = '"' + lines[1]  # row 2 opens a quote that never closes
    path = tmp_path / "quote.csv"
    path.write_text(HEADER + "".join(lines), encoding="utf-8")
    report = import_file(engine, CONFIG, path, NOW)
    assert report.rows == 8
    assert [(r.line, "unbalanced quote" in r.reason) for r in report.rejected] == [(3, True)]
    assert report.counts.inserted == 7


def test_a_quote_running_past_the_record_limit_is_cut_there(tmp_path: Path) -> None:
    body = ['A1,hz1,2026-11-23 10:00,,,,"a long\n']
    body += [f"line {i}\n" for i in range(MAX_RECORD_LINES + 2)]
    body += ["A9,hz1,2026-11-23 10:00,,,,\n"]
    path = tmp_path / "long.csv"
    path.write_text(HEADER + "".join(body), encoding="utf-8")
    rows = list(open_rows(path).rows)
    assert rows[0].line == 2 and rows[0].error and "unbalanced quote" in rows[0].error
    assert rows[-1].values.get("order_id") == "A9"


def test_a_multi_line_address_in_quotes_is_one_cell(tmp_path: Path) -> None:
    path = tmp_path / "address.csv"
    path.write_text(
        "order_id,warehouse,paid_at,address\n"
        'A1,hz1,2026-11-23 10:00,"浙江省杭州市\n西湖区文三路 1 号"\nA2,hz1,2026-11-23 10:00,上海\n',
        encoding="utf-8",
    )
    rows = list(open_rows(path).rows)
    assert [(r.line, r.values["order_id"]) for r in rows] == [(2, "A1"), (4, "A2")]
    assert rows[0].values["address"] == "浙江省杭州市\n西湖区文三路 1 号"


def test_a_file_mixing_encodings_names_the_odd_line(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes(
        "order_id,warehouse,paid_at,address\nB1,hz1,2026-11-23 10:00,浙江杭州\n".encode()
        + "B2,hz1,2026-11-23 10:00,杭州\n".encode("gb18030")
        + "B3,hz1,2026-11-23 10:00,上海\n".encode()
    )
    report = import_file(engine, CONFIG, path, NOW)
    (rejected,) = report.rejected
    assert rejected.line == 3 and "UTF-8" in rejected.reason and "encodings" in rejected.reason
    assert report.counts.inserted == 2


def test_two_headers_for_one_field_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("订单编号,order_id,warehouse,paid_at\nA,B,hz1,2026-11-23 10:00\n", "utf-8")
    with pytest.raises(FileUnreadable, match="'订单编号' and 'order_id' both mean order_id"):
        import_file(make_engine_for(tmp_path), CONFIG, path, NOW)


def make_engine_for(tmp_path: Path) -> Engine:
    from monitor.store.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'dup.db'}")
    upgrade(engine)
    return engine


def test_a_row_with_only_a_pickup_time_is_picked_up_not_in_transit(engine: Engine) -> None:
    rows = [
        row("P1", carrier="zto", tracking_number="731", shipped_at="2026-11-23 11:00",
            picked_up_at="2026-11-23 12:00"),
        row("P2", carrier="zto", tracking_number="732", shipped_at="2026-11-23 11:00",
            picked_up_at="2026-11-23 12:00", last_event_at="2026-11-23 20:00"),
    ]  # fmt: skip
    assert not ingest_rows(engine, CONFIG, rows, NOW).rejected
    with engine.connect() as conn:
        statuses = dict(conn.execute(select(SHIPMENTS.c.order_id, SHIPMENTS.c.status)).all())
    assert statuses == {"P1": "picked_up", "P2": "in_transit"}
