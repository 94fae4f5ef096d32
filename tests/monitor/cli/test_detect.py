"""`parcelwatch detect`: read-only detection at a chosen moment, as JSON, CSV or a table."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import run


def test_detect_formats_at_a_chosen_moment(workdir: Path) -> None:
    run("import", "orders.csv")
    result = run("detect", "--at", "2026-11-22T20:00", "--format", "json")
    assert result.exit_code == 0
    records = json.loads(result.output)
    kinds = {(r["kind"], r["order_id"]) for r in records}
    assert {
        ("unshipped_past_cutoff", "A1"),
        ("ship_deadline_breached", "A1"),
        ("no_pickup_scan", "A2"),
        ("stalled", "A3"),
        ("rejected", "A4"),
    } <= kinds
    for record in records:
        assert {"kind", "severity", "order_id", "tracking_number", "carrier", "warehouse",
                "province", "since", "detail"} <= set(record)  # fmt: skip
    a1 = next(r for r in records if r["kind"] == "unshipped_past_cutoff")
    assert a1["since"] == "2026-11-20T10:00:00+00:00"  # 18:00 Shanghai
    assert a1["detail"]["due_date"] == "2026-11-20"
    earlier = json.loads(run("detect", "--at", "2026-11-20T17:59", "--format", "json").output)
    # Read-only, and the order is not late a minute before ship_by (18:00).
    assert "unshipped_past_cutoff" not in {r["kind"] for r in earlier}

    csv_out = run("detect", "--at", "2026-11-22T20:00", "--format", "csv").output
    assert csv_out.splitlines()[0].startswith("kind,severity,order_id")
    assert len(csv_out.splitlines()) == len(records) + 1
    table = run("detect", "--at", "2026-11-22T20:00").output
    assert "no_pickup_scan" in table
    assert run("detect", "--at", "yesterday").exit_code == 2
