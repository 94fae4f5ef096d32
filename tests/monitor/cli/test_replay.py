"""Push bodies kept as received, and `parcelwatch replay`: a verified push is kept once
(however often the carrier re-sends it), compressed, with the headers its signature needs;
unsigned ones are not kept; replay runs today's parser over what was kept and restores what a
buggy parser lost, and a second replay changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select

from carriers.kuaidi100.parse import push_sign
from monitor.cli import main
from monitor.clock import FixedClock
from monitor.daemon.carrier_clients import build_clients
from monitor.daemon.service import Daemon
from monitor.ingest import ingest_rows
from monitor.ingest.files import RawRow
from monitor.store.raw_answers import RawPush, answers_about, count_raw, keep_raw, raw_answers
from monitor.store.tables import CARRIER_ANSWERS, TRACKING_EVENTS
from monitor.web.app import create_app
from tests.support.config import make_config

NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
ENV = {
    "PARCELWATCH_KUAIDI100_CUSTOMER": "C1",
    "PARCELWATCH_KUAIDI100_KEY": "K1",
    "PARCELWATCH_KUAIDI100_SALT": "salt-1",
}
CONFIG_TOML = """[database]
url = "sqlite:///{db}"

[[warehouses]]
id = "hz1"
province = "浙江"

[carriers.zto]
adapter = "kuaidi100"
"""


def push_body(number: str) -> bytes:
    param = json.dumps({
        "status": "polling", "message": "",
        "lastResult": {"message": "ok", "nu": number, "ischeck": "0", "com": "zhongtong",
                       "status": "200", "state": "0",
                       "data": [{"time": "2026-11-24 10:00:00", "context": "【杭州】已发往成都",
                                 "status": "在途", "statusCode": "0"},
                                {"time": "2026-11-23 18:00:00", "context": "【杭州】已揽收",
                                 "status": "揽收", "statusCode": "1"}]},
    }, ensure_ascii=False)  # fmt: skip
    return urlencode({"param": param, "sign": push_sign(param, "salt-1")}).encode()


@pytest.fixture
def daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Daemon:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    db = tmp_path / "pw.db"
    (tmp_path / "parcelwatch.toml").write_text(CONFIG_TOML.format(db=db), encoding="utf-8")
    cfg = make_config(f"sqlite:///{db}", carriers={"zto": {"adapter": "kuaidi100"}})
    daemon = Daemon(cfg, FixedClock(NOW), build_clients(cfg, httpx.AsyncClient(), ENV))
    rows = [RawRow(1, {"order_id": "A1", "warehouse": "hz1", "paid_at": "2026-11-23 09:00",
                       "carrier": "zto", "tracking_number": "731",
                       "shipped_at": "2026-11-23 12:00"})]  # fmt: skip
    assert not ingest_rows(daemon.engine, cfg, rows, NOW).rejected
    return daemon


FORM = {"content-type": "application/x-www-form-urlencoded"}


def events(daemon: Daemon) -> int:
    with daemon.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(TRACKING_EVENTS)).scalar_one())


def test_a_verified_push_is_kept_once_as_received(daemon: Daemon) -> None:
    body = push_body("731")
    with TestClient(create_app(daemon.ctx)) as client:
        for _ in range(3):  # the carrier re-sends until acknowledged
            assert client.post("/webhooks/kuaidi100", content=body, headers=FORM).status_code == 200
        forged = client.post("/webhooks/kuaidi100", content=body.replace(b"salt", b"x") + b"0",
                             headers=FORM)  # fmt: skip
        assert forged.status_code in (400, 401)
    (kept,) = list(raw_answers(daemon.engine, NOW - timedelta(days=1)))
    assert kept.body == body and kept.api == "kuaidi100"
    assert kept.headers.get("content-type") == "application/x-www-form-urlencoded"
    with daemon.engine.connect() as conn:
        stored = conn.execute(select(CARRIER_ANSWERS.c.body)).scalar_one()
    assert len(stored) < len(body)  # compressed


def test_replay_restores_what_a_parser_lost_and_twice_changes_nothing(
    daemon: Daemon, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with TestClient(create_app(daemon.ctx)) as client:
        client.post("/webhooks/kuaidi100", content=push_body("731"), headers=FORM)
    assert events(daemon) == 2
    with daemon.engine.begin() as conn:  # what a parser bug would have left: no events
        conn.execute(delete(TRACKING_EVENTS))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    first = runner.invoke(main, ["replay", "--since", "2026-11-01"])
    assert first.exit_code == 0, first.output
    assert "replayed 1 stored pushes" in first.output and "0 refused" in first.output
    assert events(daemon) == 2
    again = runner.invoke(main, ["replay", "--since", "2026-11-01"])
    assert again.exit_code == 0 and events(daemon) == 2


def test_old_bodies_are_pruned_after_the_retention(daemon: Daemon) -> None:
    engine = daemon.engine
    old = RawPush("kuaidi100", {}, b"old body", NOW - timedelta(days=200), numbers=("731",))
    keep_raw(engine, [old], NOW - timedelta(days=200), timedelta(days=180))
    assert count_raw(engine) == 1
    assert len(answers_about(engine, ["731"])["731"]) == 1
    later = NOW + timedelta(hours=2)  # the next write after the hourly pruning is due
    keep_raw(engine, [RawPush("kuaidi100", {}, b"new body", later)], later, timedelta(days=180))
    assert [r.body for r in raw_answers(engine, NOW - timedelta(days=365))] == [b"new body"]
    assert answers_about(engine, ["731"]) == {"731": []}  # its link went with it


def test_replay_refuses_what_todays_secret_does_not_verify(
    daemon: Daemon, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with TestClient(create_app(daemon.ctx)) as client:
        client.post("/webhooks/kuaidi100", content=push_body("731"), headers=FORM)
    with daemon.engine.begin() as conn:
        conn.execute(delete(TRACKING_EVENTS))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PARCELWATCH_KUAIDI100_SALT", "a-rotated-salt")
    result = CliRunner().invoke(main, ["replay", "--since", "2026-11-01"])
    assert result.exit_code == 0 and "1 refused" in result.output
    assert events(daemon) == 0  # nothing stored from a body today's secret cannot verify
