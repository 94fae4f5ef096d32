"""Maintenance windows made through the API (monitor/web/maintenance_api.py): stored, shared,
they pause the stall clock like the config's, survive a restart, end early without giving
back the hours they paused, and keep the parcels they held out of the incident baseline
(docs/rules.md "Maintenance windows")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from monitor.clock import FixedClock
from monitor.detection import detect, incident_baseline, with_stored_windows
from monitor.web.app import create_app
from monitor.web.auth import hash_token
from monitor.web.context import AppContext
from tests.support.config import make_config
from tests.support.store import add_shipment

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # the parcel's last scan
LEAD, VIEWER = {"Authorization": "Bearer lead-1"}, {"Authorization": "Bearer view-1"}
CONFIG = make_config(
    auth={"tokens": [{"name": "小王", "role": "lead", "token_sha256": hash_token("lead-1")},
                     {"name": "v", "role": "viewer", "token_sha256": hash_token("view-1")}]},
    maintenance=[{"carrier": "sf", "weekdays": ["sun"], "from": "00:00", "to": "06:00"}],
)  # fmt: skip
WINDOW = {"carrier": "zto", "start": "2026-11-20T11:00:00+08:00",
          "end": "2026-11-21T11:00:00+08:00", "reason": "中通杭州转运中心停运"}  # fmt: skip


def in_transit(engine: Engine, order_id: str = "M1", **values: object) -> None:
    values = {"status": "in_transit"} | values
    add_shipment(engine, order_id, carrier="zto", tracking_number=f"7{order_id}", province="江苏", shipped_at=T0 - timedelta(hours=10),
                 picked_up_at=T0 - timedelta(hours=8), last_event_at=T0,
                 answered_at=T0, **values)  # fmt: skip


def stalled(engine: Engine, at: datetime) -> bool:
    return "stalled" in set(detect(engine, CONFIG, at)["kind"])


def test_windows_are_made_listed_and_ended_by_leads(engine: Engine) -> None:
    with TestClient(create_app(AppContext(engine, CONFIG, FixedClock(T0)))) as client:
        assert client.post("/api/v1/maintenance", json=WINDOW, headers=VIEWER).status_code == 403
        made = client.post("/api/v1/maintenance", json=WINDOW, headers=LEAD)
        assert made.status_code == 201, made.text
        window = made.json()
        assert (window["carrier"], window["source"], window["created_by"]) == ("zto", "api", "小王")
        listed = client.get("/api/v1/maintenance", headers=VIEWER).json()["windows"]
        assert [(w["source"], w["carrier"]) for w in listed] == [("config", "sf"), ("api", "zto")]
        assert listed[0]["from"] == "00:00" and listed[0]["weekdays"] == ["sun"]
        ended = client.delete(f"/api/v1/maintenance/{window['id']}", headers=LEAD)
        assert ended.status_code == 200 and ended.json()["ended_at"] is not None
        assert client.delete(f"/api/v1/maintenance/{window['id']}", headers=LEAD).status_code == 404
        assert client.get("/api/v1/maintenance", headers=LEAD).json()["windows"][1:] == []
        assert len(client.get("/api/v1/maintenance", params={"ended": True},
                              headers=LEAD).json()["windows"]) == 2  # fmt: skip


def test_a_bad_window_is_refused_naming_the_field(engine: Engine) -> None:
    with TestClient(create_app(AppContext(engine, CONFIG, FixedClock(T0)))) as client:
        for body, field in (
            ({"carrier": "zto", "start": "2026-11-21", "end": "2026-11-20"}, None),
            ({"carrier": "zto", "weekdays": ["sunday"], "from": "00:00", "to": "06:00"},
             "weekdays.0"),
            ({"province": "火星", "start": "2026-11-20", "end": "2026-11-21"}, "province"),
            ({"carrier": "feimaotui", "start": "2026-11-20", "end": "2026-11-21"}, "carrier"),
            ({"carrier": "zto", "start": "2026-11-20", "end": "2026-11-21", "until": "x"}, None),
        ):  # fmt: skip
            answer = client.post("/api/v1/maintenance", json=body, headers=LEAD)
            assert answer.status_code == 422, body
            assert answer.json()["error"]
            if field:
                assert answer.json()["field"] == field


def test_a_stored_window_pauses_the_stall_clock_across_a_restart(engine: Engine) -> None:
    in_transit(engine)
    judged = T0 + timedelta(hours=60)  # 60 h quiet: past the 48 h in-transit allowance
    assert stalled(engine, judged)
    with TestClient(create_app(AppContext(engine, CONFIG, FixedClock(T0)))) as client:
        assert client.post("/api/v1/maintenance", json=WINDOW, headers=LEAD).status_code == 201
    # A new process over the same store (a restart mid-window) still sees the window:
    # 60 h quiet, 24 h of them paused, 36 h counted.
    restarted = make_config()
    assert len(with_stored_windows(engine, restarted, judged).maintenance) == 1
    assert not stalled(engine, judged)
    assert stalled(engine, T0 + timedelta(hours=72))  # 48 h counted: the clock ran on after


def test_ending_a_window_early_keeps_the_hours_it_paused(engine: Engine) -> None:
    in_transit(engine)
    half_way = T0 + timedelta(hours=13)  # the window began an hour after T0: 12 h into it
    with TestClient(create_app(AppContext(engine, CONFIG, FixedClock(half_way)))) as client:
        made = client.post("/api/v1/maintenance", json=WINDOW, headers=LEAD).json()
        assert client.delete(f"/api/v1/maintenance/{made['id']}", headers=LEAD).status_code == 200
    # 12 h paused: quiet 58 h counts 46 (not stalled), quiet 61 h counts 49 (stalled).
    assert not stalled(engine, T0 + timedelta(hours=58))
    assert stalled(engine, T0 + timedelta(hours=61))


def test_parcels_a_window_held_stay_out_of_the_incident_baseline(engine: Engine) -> None:
    done = {"status": "delivered"}
    in_transit(engine, "H1", **done, delivered_at=T0 + timedelta(hours=40))  # held by it
    in_transit(engine, "F1", **done, delivered_at=T0 + timedelta(minutes=30))  # before it
    now = T0 + timedelta(days=5)
    before = incident_baseline(engine, now, 28)
    assert before.set_index(["carrier", "province"]).loc[("zto", "江苏"), "picked_up"] == 2
    with TestClient(create_app(AppContext(engine, CONFIG, FixedClock(T0)))) as client:
        client.post("/api/v1/maintenance", json=WINDOW, headers=LEAD)
    windows = with_stored_windows(engine, CONFIG, now).maintenance
    after = incident_baseline(engine, now, 28, windows)
    assert after.set_index(["carrier", "province"]).loc[("zto", "江苏"), "picked_up"] == 1
