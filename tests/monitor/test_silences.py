"""Silences at chosen moments: a silenced alert opens and is recorded but does not notify;
when the silence ends, what it held and is still open is announced once; a crash in the
middle of the release loses and doubles nothing; through the API and the CLI too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from alerts.silences import Silence, SilenceError, check_matchers, silencing
from monitor.alert_queue import act
from monitor.clock import FixedClock
from monitor.daemon.tick import run_tick
from monitor.ingest import ingest_rows
from monitor.ingest.files import RawRow
from monitor.store import silences as store_silences
from monitor.store.silences import create_silence, end_silence, release_ended
from monitor.store.tables import ALERT_HISTORY, ALERTS, OUTBOX
from monitor.web.app import create_app
from monitor.web.auth import hash_token
from monitor.web.context import AppContext
from tests.support.config import make_config

PAID = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 09:00 Shanghai, before the 16:00 cutoff
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # 20:00 Shanghai: past ship_by, unshipped
CONFIG = make_config(
    auth={"tokens": [{"name": "ci", "role": "lead", "token_sha256": hash_token("t")}]}
)


@pytest.fixture
def shop(engine: Engine) -> Engine:
    rows = [
        RawRow(i, {"order_id": f"{wh}-{i}", "warehouse": wh, "paid_at": "2026-11-23 09:00"})
        for i, wh in enumerate(["hz1", "hz1", "gz1"], start=1)
    ]
    assert not ingest_rows(engine, CONFIG, rows, PAID).rejected
    return engine


def alerts(engine: Engine) -> dict[str, dict[str, object]]:
    with engine.connect() as conn:
        return {r.order_id: dict(r._mapping) for r in conn.execute(select(ALERTS))}


def outbox(engine: Engine) -> list[tuple[str | None, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(select(OUTBOX.c.payload, OUTBOX.c.event, OUTBOX.c.idempotency_key))
        return sorted((r.payload.get("order_id"), r.event, r.idempotency_key) for r in rows)


def actions(engine: Engine, alert_id: object) -> list[str]:
    with engine.connect() as conn:
        query = select(ALERT_HISTORY.c.action).where(ALERT_HISTORY.c.alert_id == alert_id)
        return list(conn.execute(query.order_by(ALERT_HISTORY.c.id)).scalars())


def test_matchers_are_checked() -> None:
    with pytest.raises(SilenceError, match="matchers"):
        check_matchers({})
    with pytest.raises(SilenceError, match="shoe_size"):
        check_matchers({"shoe_size": "42"})
    assert check_matchers({"carrier": " zto ", "province": ""}) == {"carrier": "zto"}


def test_the_oldest_active_matching_silence_holds() -> None:
    late = Silence(2, {"carrier": "zto"}, NOW - timedelta(hours=1), NOW + timedelta(hours=1))
    early = Silence(1, {"kind": "stalled"}, NOW - timedelta(hours=1), NOW + timedelta(hours=1))
    ended = Silence(0, {"carrier": "zto"}, NOW - timedelta(hours=3), NOW - timedelta(hours=1))
    alert = {"kind": "stalled", "carrier": "zto"}
    assert silencing([late, ended, early], alert, NOW) is early
    assert silencing([ended], alert, NOW) is None
    assert silencing([late], {"kind": "stalled", "carrier": "sf"}, NOW) is None


def test_a_silenced_alert_opens_without_notifying_and_is_announced_once_after(
    shop: Engine,
) -> None:
    made = create_silence(shop, {"warehouse": "hz1"}, NOW - timedelta(minutes=5),
                          NOW + timedelta(hours=2), "hz1 stocktake", "lead", NOW)  # fmt: skip
    run_tick(shop, CONFIG, NOW)
    held = alerts(shop)
    assert set(held) == {"hz1-1", "hz1-2", "gz1-3"}
    assert held["hz1-1"]["silenced_by"] == made.id and held["gz1-3"]["silenced_by"] is None
    assert [o for o, *_ in outbox(shop)] == ["gz1-3"]  # only the unsilenced one notified
    assert "silenced" in actions(shop, held["hz1-1"]["id"])

    run_tick(shop, CONFIG, NOW + timedelta(hours=1))  # still silenced: nothing new
    assert [o for o, *_ in outbox(shop)] == ["gz1-3"]

    end = NOW + timedelta(hours=2, minutes=1)
    run_tick(shop, CONFIG, end)
    released = [(o, e) for o, e, key in outbox(shop) if "released" in key]
    assert sorted(released) == [("hz1-1", "opened"), ("hz1-2", "opened")]
    assert all(a["silenced_by"] is None for a in alerts(shop).values())
    assert actions(shop, held["hz1-1"]["id"])[-1] == "unsilenced"
    run_tick(shop, CONFIG, end + timedelta(minutes=5))
    assert len(outbox(shop)) == 3  # announced once


def test_a_silence_on_a_shop_holds_only_that_shops_alerts(engine: Engine) -> None:
    """Alerts carry their order's shop (店铺), so one shop's known trouble can be quieted while
    the shop beside it, shipping from the same warehouse, still notifies."""
    rows = [
        RawRow(i, {"order_id": f"S{i}", "warehouse": "hz1", "paid_at": "2026-11-23 09:00",
                   "shop": shop})
        for i, shop in enumerate(["鹿鸣家居小铺", "鹿鸣家居旗舰店"], start=1)
    ]  # fmt: skip
    assert not ingest_rows(engine, CONFIG, rows, PAID).rejected
    create_silence(engine, {"shop": "鹿鸣家居小铺"}, NOW - timedelta(minutes=5),
                   NOW + timedelta(hours=2), "小铺盘点", "lead", NOW)  # fmt: skip
    run_tick(engine, CONFIG, NOW)
    held = alerts(engine)
    assert held["S1"]["shop"] == "鹿鸣家居小铺" and held["S1"]["silenced_by"] is not None
    assert held["S2"]["silenced_by"] is None
    assert [o for o, *_ in outbox(engine)] == ["S2"]


def test_a_crash_during_the_release_loses_and_doubles_nothing(
    shop: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = create_silence(shop, {"warehouse": "hz1"}, NOW - timedelta(minutes=5),
                          NOW + timedelta(hours=1), "stocktake", "lead", NOW)  # fmt: skip
    run_tick(shop, CONFIG, NOW)
    end_silence(shop, made.id, NOW + timedelta(minutes=10))
    real = store_silences.announce
    calls = [0]

    def dies_on_the_second(*args: Any, **kwargs: Any) -> None:
        calls[0] += 1
        if calls[0] == 2:
            raise RuntimeError("killed mid-release")
        real(*args, **kwargs)

    monkeypatch.setattr(store_silences, "announce", dies_on_the_second)
    with pytest.raises(RuntimeError):
        release_ended(shop, NOW + timedelta(minutes=11))
    assert not [k for *_, k in outbox(shop) if "released" in k]  # the transaction rolled back
    monkeypatch.setattr(store_silences, "announce", real)
    assert release_ended(shop, NOW + timedelta(minutes=12)) == 2  # after the restart
    assert release_ended(shop, NOW + timedelta(minutes=13)) == 0


def test_a_silenced_alert_resolved_by_hand_announces_nothing(shop: Engine) -> None:
    create_silence(shop, {"warehouse": "hz1"}, NOW - timedelta(minutes=5),
                   NOW + timedelta(hours=1), "stocktake", "lead", NOW)  # fmt: skip
    run_tick(shop, CONFIG, NOW)
    alert_id = alerts(shop)["hz1-1"]["id"]
    act(shop, int(alert_id), "resolve", "lead", NOW + timedelta(minutes=1))  # type: ignore[arg-type]
    assert [o for o, *_ in outbox(shop)] == ["gz1-3"]


def test_silences_through_the_api(shop: Engine) -> None:
    run_tick(shop, CONFIG, NOW)
    gz = alerts(shop)["gz1-3"]["id"]
    with TestClient(create_app(AppContext(shop, CONFIG, FixedClock(NOW)))) as client:
        client.headers["Authorization"] = "Bearer t"
        made = client.post("/api/v1/silences", json={"like_alert": gz, "reason": "known",
                                                      "minutes": 30})  # fmt: skip
        assert made.status_code == 201
        assert made.json()["matchers"] == {"kind": "unshipped_past_cutoff"}
        listed = client.get("/api/v1/silences").json()["silences"]
        assert [s["id"] for s in listed] == [made.json()["id"]]
        bad = client.post("/api/v1/silences", json={"matchers": {}, "reason": "x"})
        assert bad.status_code == 422 and bad.json()["field"] == "matchers"
        assert client.post("/api/v1/silences", json={"like_alert": 10**9,
                                                      "reason": "x"}).status_code == 404  # fmt: skip
        ended = client.delete(f"/api/v1/silences/{made.json()['id']}")
        assert ended.status_code == 200
        assert client.get("/api/v1/silences").json()["silences"] == []
        assert client.delete("/api/v1/silences/999").status_code == 404
        anonymous = client.get("/api/v1/silences", headers={"Authorization": ""})
        assert anonymous.status_code == 401


def test_silences_from_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "parcelwatch.toml").write_text(
        '[database]\nurl = "sqlite:///pw.db"\n\n[[warehouses]]\nid = "hz1"\n', encoding="utf-8"
    )
    runner = CliRunner()
    made = runner.invoke(__import__("monitor.cli", fromlist=["main"]).main,
                         ["silences", "add", "--carrier", "zto", "--province", "广东",
                          "--hours", "24", "--reason", "typhoon"])  # fmt: skip
    assert made.exit_code == 0, made.output
    from monitor.cli import main

    listed = runner.invoke(main, ["silences", "list"])
    assert "carrier=zto province=广东" in listed.output and "typhoon" in listed.output
    assert runner.invoke(main, ["silences", "add", "--reason", "x"]).exit_code == 2
    assert runner.invoke(main, ["silences", "end", "1"]).exit_code == 0
    assert "no silences" in runner.invoke(main, ["silences", "list"]).output
    assert runner.invoke(main, ["silences", "end", "9"]).exit_code == 1


def test_silence_alerts_like_this_one_from_the_parcel_page(shop: Engine) -> None:
    from monitor.web.sessions import hash_password
    from tests.support.config import make_config as config_with

    cfg = config_with(auth={"users": [{"name": "lead", "role": "lead",
                                       "password_hash": hash_password("pw")}]})  # fmt: skip
    run_tick(shop, cfg, NOW)
    with TestClient(create_app(AppContext(shop, cfg, FixedClock(NOW)))) as client:
        token = client.get("/login").text.split('name="csrf" value="')[1].split('"')[0]
        client.post("/login", data={"user": "lead", "password": "pw", "csrf": token})
        page = client.get("/parcels/gz1-3")
        assert 'action="/alerts/' in page.text and "/silence" in page.text
        csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
        gz = alerts(shop)["gz1-3"]["id"]
        made = client.post(f"/alerts/{gz}/silence", data={"csrf": csrf, "hours": "6",
                                                          "reason": "盘点", "next": "/"},
                           follow_redirects=False)  # fmt: skip
        assert made.status_code == 303
        assert client.post(f"/alerts/{gz}/silence", data={"reason": "x"}).status_code == 403
    (silence,) = store_silences.list_silences(shop, NOW)
    assert silence.matchers == {"kind": "unshipped_past_cutoff"} and silence.reason == "盘点"
    assert silence.ends_at == NOW + timedelta(hours=6) and silence.created_by == "lead"
    # A new alert like it, opening under the silence: in the queue, marked, not notified.
    late = [RawRow(9, {"order_id": "gz1-9", "warehouse": "gz1", "paid_at": "2026-11-23 09:30"})]
    assert not ingest_rows(shop, cfg, late, PAID).rejected
    run_tick(shop, cfg, NOW + timedelta(minutes=1))
    assert alerts(shop)["gz1-9"]["silenced_by"] == silence.id
    with TestClient(create_app(AppContext(shop, cfg, FixedClock(NOW)))) as client:
        token = client.get("/login").text.split('name="csrf" value="')[1].split('"')[0]
        client.post("/login", data={"user": "lead", "password": "pw", "csrf": token})
        assert 'class="held"' in client.get("/?lang=zh").text
        assert "静默中" in client.get("/parcels/gz1-9?lang=zh").text
