"""`parcelwatch import`: its exit codes (0 imported, 1 some rows rejected, 2 unreadable)."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import HEADER, ROWS, run


def test_import_exit_codes(workdir: Path) -> None:
    assert run("import", "orders.csv").exit_code == 0
    (workdir / "bad.csv").write_text(
        "\n".join([HEADER, ROWS[0], "B1,淘宝,hz1,not-a-date,,,,江苏,,,"]) + "\n", encoding="utf-8"
    )
    partial = run("import", "bad.csv")
    assert partial.exit_code == 1
    assert "bad.csv: line 3, column paid_at" in partial.output
    assert "1 unchanged; parcels 0 new, 0 updated, 0 unchanged; 1 rejected" in partial.output
    assert run("import", "missing.csv").exit_code == 2


def test_the_summary_counts_orders_and_parcels_and_reports_a_moved_number(workdir: Path) -> None:
    (workdir / "split.csv").write_text(
        "订单编号,平台,仓库,付款时间,快递公司,快递单号,发货时间\n"
        'X1,淘宝,hz1,2026-11-23 10:00,中通,"73100000000903,73100000000904",2026-11-23 15:00\n'
        "X2,淘宝,hz1,2026-11-23 11:00,中通,73100000000904,2026-11-23 15:00\n",
        encoding="utf-8",
    )
    result = run("import", "split.csv")
    assert result.exit_code == 0, result.output
    assert "orders 2 new, 0 updated, 0 unchanged; parcels 2 new, 0 updated" in result.output
    (workdir / "moved.csv").write_text(
        "订单编号,平台,仓库,付款时间,快递公司,快递单号,发货时间\n"
        "X3,淘宝,hz1,2026-11-23 12:00,中通,73100000000903,2026-11-23 15:00\n",
        encoding="utf-8",
    )
    moved = run("import", "moved.csv")
    assert moved.exit_code == 0
    assert "73100000000903 was on order X1; now also on X3" in moved.output
