"""The `parcelwatch` command line: every verb, its output formats and its exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from monitor.cli import main

HEADER = (
    "订单编号,平台,仓库,付款时间,快递公司,快递单号,发货时间,收货省份,揽收时间,最后更新时间,物流状态"
)
ROWS = [
    "A1,淘宝,hz1,2026-11-20 10:00,,,,江苏,,,",  # unshipped: past cutoff and past 48 h
    "A2,拼多多,hz1,2026-11-20 10:00,中通,7301,2026-11-20 15:00,新疆,,,",  # no pickup scan
    "A3,天猫,hz1,2026-11-19 10:00,顺丰,SF1,2026-11-19 15:00,广东,2026-11-19 18:00,"
    "2026-11-20 02:00,运输中",  # stalled, delayed
    "A4,天猫,hz1,2026-11-19 10:00,顺丰,SF2,2026-11-19 15:00,广东,2026-11-19 18:00,"
    "2026-11-20 02:00,拒签",  # rejected
]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PARCELWATCH_DATABASE_URL", raising=False)
    monkeypatch.delenv("PARCELWATCH_CONFIG", raising=False)
    (tmp_path / "parcelwatch.toml").write_text(
        '[database]\nurl = "sqlite:///pw.db"\n\n[[warehouses]]\nid = "hz1"\nprovince = "浙江"\n',
        encoding="utf-8",
    )
    (tmp_path / "orders.csv").write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    return tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_init_then_check_config(workdir: Path) -> None:
    result = run("init", "--out", "example.toml")
    assert result.exit_code == 0
    assert run("init", "--out", "example.toml").exit_code == 2  # no silent overwrite
    checked = run("check-config", "--config", "example.toml")
    assert checked.exit_code == 0, checked.output
    assert "config OK" in checked.output
    assert "stall: in transit" in checked.output
    assert "carrier=ems, province=新疆" in checked.output  # the example's override column
    assert "96 h" in checked.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[[warehouses]]\nid = "hz1"\ncutof = "16:00"\n', "warehouses[0].cutof: unknown key"),
        ('[[warehouses]]\nid = "hz1"\ncutoff = "25:00"\n', "warehouses[0].cutoff: expected"),
        ('[[warehouses]]\nid = "hz1"\ntimezone = "Mars/Olympus"\n', "unknown time zone"),
        ('[[warehouses]]\nid = "hz1"\ncalendar = "lunar"\n', "warehouses[0].calendar"),
        ("[rules]\nlost_after_days = -1\n", "rules.lost_after_days"),
        ('[[rules.override]]\ncarrier = "feimaotui"\n', "unknown carrier 'feimaotui'"),
        ("[rules\n", "not valid TOML"),
    ],
)
def test_bad_config_exits_2_naming_file_and_key(workdir: Path, text: str, expected: str) -> None:
    (workdir / "bad.toml").write_text(text, encoding="utf-8")
    result = run("check-config", "--config", "bad.toml")
    assert result.exit_code == 2
    assert "bad.toml" in result.output and expected in result.output


def test_missing_named_config_is_an_error(workdir: Path) -> None:
    result = run("check-config", "--config", "nope.toml")
    assert result.exit_code == 2 and "no such file" in result.output


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


def test_db_upgrade(workdir: Path) -> None:
    assert run("db", "upgrade").exit_code == 0
    assert (workdir / "pw.db").exists()
    helps = run("demo", "--help").output
    assert "--speed" in helps and "--port" in helps  # the demo itself: tests/test_e2e.py


def test_console_script_runs_as_a_real_process(workdir: Path) -> None:
    script = Path(sys.executable).with_name("parcelwatch")
    done = subprocess.run([str(script), "check-config"], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    bad = subprocess.run([str(script), "import", "nowhere.csv"], capture_output=True, text=True,
                         timeout=120, check=False)  # fmt: skip
    assert bad.returncode == 2 and "nowhere.csv" in bad.stderr


def test_hash_password(workdir: Path) -> None:
    from monitor.config import parse_config
    from monitor.web.sessions import check_password

    result = CliRunner().invoke(main, ["hash-password"], input="s3cret\ns3cret\n")
    assert result.exit_code == 0
    hashed = result.output.strip().splitlines()[-1]
    auth = parse_config(
        {"auth": {"users": [{"name": "lead", "role": "lead", "password_hash": hashed}]}}
    ).auth
    assert check_password(auth, "lead", "s3cret") is not None
    assert check_password(auth, "lead", "wrong") is None
