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
    assert "1 unchanged, 1 rejected" in partial.output
    assert run("import", "missing.csv").exit_code == 2
