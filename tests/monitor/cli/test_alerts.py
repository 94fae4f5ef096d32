"""`parcelwatch alerts`: the alert queue from the terminal (list, ack, assign, comment,
resolve, show)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import run


def test_alert_queue_from_the_terminal(workdir: Path) -> None:
    run("import", "orders.csv")
    # A detection tick opens the alerts (the daemon's job); here through the Python API.
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from monitor.config import load_config
    from monitor.daemon.tick import run_tick
    from monitor.store.db import make_engine

    config = load_config()
    run_tick(make_engine(config.database.url), config,
             datetime(2026, 11, 22, 20, tzinfo=ZoneInfo("Asia/Shanghai")))  # fmt: skip

    listed = json.loads(run("alerts", "list", "--format", "json").output)
    assert listed[0]["severity"] == "critical"  # most severe first
    ids = {a["kind"]: a["id"] for a in listed}
    stalled = str(ids["stalled"])
    assert run("alerts", "ack", stalled, "--by", "lead1").exit_code == 0
    assert run("alerts", "ack", stalled).exit_code == 1  # already acknowledged
    assert run("alerts", "assign", stalled, "--to", "小王").exit_code == 0
    assert run("alerts", "comment", stalled, "--note", "called the outlet").exit_code == 0
    assert run("alerts", "resolve", stalled, "--note", "reshipped").exit_code == 0
    shown = json.loads(run("alerts", "show", stalled).output)
    assert [h["action"] for h in shown["history"]] == [
        "opened", "acknowledged", "assigned", "commented", "resolved",
    ]  # fmt: skip
    assert shown["history"][1]["actor"] == "lead1"
    table = run("alerts", "list", "--kind", "rejected").output
    assert "A4" in table
    resolved = json.loads(run("alerts", "list", "--state", "resolved", "--format", "json").output)
    assert [a["id"] for a in resolved] == [int(stalled)]
    assert run("alerts", "resolve", "999").exit_code == 1
