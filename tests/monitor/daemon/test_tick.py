"""The detection tick (monitor/daemon/tick.py) on a real store (SQLite and PostgreSQL): alerts
opened once and updated, not duplicated; auto-resolve, escalation and superseding; a manual
resolve that sticks for its episode; carrier incidents; and the outbox rows that reach a
robot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from alerts.model import Action
from monitor.alert_queue import act, history
from monitor.daemon.tick import run_tick
from monitor.ingest import ingest_rows
from monitor.ingest.files import RawRow
from monitor.store.models import Alert, OutboxMessage
from tests.support.config import make_config
from tests.support.lifecycle import CONFIG, alerts, at, count, in_transit, put
from tests.support.lifecycle import outbox_messages as _outbox
from tests.support.outbox import OK_WECOM, deliver, outbox_rows, routes, seed, wecom
from tests.support.sinks import PUBLIC, Receiver, run


def test_tick_opens_once_and_redetection_updates_not_duplicates(engine: Engine) -> None:
    now = at("2026-11-19 12:00")
    in_transit(engine, now, "2026-11-17 06:00")  # 54 h without a scan
    first = run_tick(engine, CONFIG, now)
    assert first.opened == 1
    second = run_tick(engine, CONFIG, now + timedelta(minutes=5))
    assert second.opened == 0 and second.resolved == 0
    [alert] = alerts(engine, state="active")
    assert alert["kind"] == "stalled"
    assert alert["since"] == at("2026-11-19 06:00")  # last scan + 48 h
    assert alert["detail"]["stage"] == "in_transit"
    assert count(engine, OutboxMessage) == 1
    assert [h["action"] for h in history(engine, alert["id"])] == ["opened"]


def test_new_scan_resolves_alert_by_itself(engine: Engine) -> None:
    now = at("2026-11-19 12:00")
    in_transit(engine, now, "2026-11-17 06:00")
    run_tick(engine, CONFIG, now)
    later = now + timedelta(hours=1)
    in_transit(engine, later, "2026-11-19 12:30")  # the parcel moved again
    result = run_tick(engine, CONFIG, later)
    assert result.resolved == 1
    [alert] = alerts(engine, state="resolved")
    assert alert["resolution"] == "cleared"
    assert alert["resolved_at"] == later
    assert [h["action"] for h in history(engine, alert["id"])] == ["opened", "resolved"]
    events = [m.event for m in _outbox(engine)]
    assert events == ["opened", "resolved"]


def test_stale_import_does_not_roll_back_tracking(engine: Engine) -> None:
    now = at("2026-11-19 12:00")
    in_transit(engine, now, "2026-11-19 11:00")
    in_transit(engine, now, "2026-11-17 06:00")  # an older export arrives afterwards
    assert run_tick(engine, CONFIG, now).opened == 0


def test_escalation_then_supersede(engine: Engine) -> None:
    put(engine, at("2026-11-16 10:00"), paid_at="2026-11-16 10:00", amount="300")
    run_tick(engine, CONFIG, at("2026-11-17 23:00"))  # 37 h: at risk, warning
    [risk] = alerts(engine, kind="ship_deadline_at_risk")
    assert risk["severity"] == "warning"

    result = run_tick(engine, CONFIG, at("2026-11-18 08:30"))  # 46.5 h: critical
    assert result.escalated == 1
    [risk] = alerts(engine, kind="ship_deadline_at_risk")
    assert risk["severity"] == "critical"
    assert [h["action"] for h in history(engine, risk["id"])] == ["opened", "escalated"]

    run_tick(engine, CONFIG, at("2026-11-18 10:30"))  # 48.5 h: breached
    [risk] = alerts(engine, kind="ship_deadline_at_risk")
    assert risk["state"] == "resolved" and risk["resolution"] == "superseded"
    [breach] = alerts(engine, kind="ship_deadline_breached", state="active")
    assert breach["since"] == at("2026-11-18 10:00")
    assert breach["detail"]["penalty_estimate_yuan"] == 15.0  # 5 % of 300
    events = [(m.alert_id, m.event) for m in _outbox(engine)]
    assert (risk["id"], "escalated") in events
    assert (breach["id"], "opened") in events


def test_stalled_superseded_by_lost(engine: Engine) -> None:
    now = at("2026-11-19 12:00")
    in_transit(engine, now, "2026-11-17 06:00")
    run_tick(engine, CONFIG, now)
    run_tick(engine, CONFIG, at("2026-11-24 07:00"))  # 7 days + 1 h since the last scan
    [stalled] = alerts(engine, kind="stalled")
    assert stalled["resolution"] == "superseded"
    [lost] = alerts(engine, kind="lost", state="active")
    assert lost["severity"] == "critical"


def test_manual_resolve_sticks_for_the_same_episode_only(engine: Engine) -> None:
    now = at("2026-11-19 12:00")
    in_transit(engine, now, "2026-11-17 06:00")
    run_tick(engine, CONFIG, now)
    [alert] = alerts(engine, state="active")
    act(engine, alert["id"], Action.RESOLVE, "lead1", now, note="called ZTO, reshipped")
    assert run_tick(engine, CONFIG, now + timedelta(minutes=5)).opened == 0

    # The parcel moves, then stalls again: a new episode, a new alert.
    in_transit(engine, now, "2026-11-19 11:00")
    run_tick(engine, CONFIG, now + timedelta(minutes=10))
    run_tick(engine, CONFIG, at("2026-11-21 12:00"))  # 49 h since the new scan
    first, second = alerts(engine, kind="stalled")
    assert first["state"] == "resolved" and second["state"] == "open"
    assert second["since"] == at("2026-11-21 11:00")


def test_finished_parcel_keeps_carrier_reported_alert_until_a_lead_resolves_it(
    engine: Engine,
) -> None:
    now = at("2026-11-20 12:00")
    put(
        engine,
        now,
        paid_at="2026-11-16 09:00",
        carrier="sf",
        tracking_number="SF1",
        shipped_at="2026-11-16 12:00",
        picked_up_at="2026-11-16 15:00",
        last_event_at="2026-11-19 15:00",
        status="已退签",
    )
    run_tick(engine, CONFIG, now)
    [alert] = alerts(engine, state="active")
    assert alert["kind"] == "returned"
    assert run_tick(engine, CONFIG, now + timedelta(hours=1)).resolved == 0
    act(engine, alert["id"], Action.RESOLVE, "lead1", now + timedelta(hours=2))
    assert run_tick(engine, CONFIG, now + timedelta(hours=3)).opened == 0
    assert alerts(engine, state="active") == []


def test_carrier_incident_groups_many_parcels(engine: Engine) -> None:
    now = at("2026-11-20 12:00")
    rows = []
    for i in range(30):
        stalled = i < 6
        rows.append(
            RawRow(
                i + 1,
                {
                    "order_id": f"I{i}",
                    "warehouse": "hz1",
                    "province": "四川",
                    "paid_at": "2026-11-17 09:00",
                    "carrier": "jt",
                    "tracking_number": f"JT{i}",
                    "shipped_at": "2026-11-17 12:00",
                    "picked_up_at": "2026-11-17 15:00",
                    "last_event_at": "2026-11-17 20:00" if stalled else "2026-11-20 10:00",
                    "status": "in_transit",
                },
            )
        )
    ingest_rows(engine, CONFIG, rows, now)
    run_tick(engine, CONFIG, now)
    [incident] = alerts(engine, kind="carrier_incident")
    assert (incident["carrier"], incident["province"], incident["order_id"]) == ("jt", "四川", None)
    assert incident["detail"]["affected"] == 6 and incident["detail"]["parcels"] == 30
    assert count(engine, Alert, Alert.kind == "stalled") == 6


def test_detection_rows_reach_a_robot_in_chinese(engine: Engine) -> None:
    now = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai, 48 h after shipping
    seed(engine, now - timedelta(days=1))
    run_tick(engine, make_config(), now)
    assert [r.event for r in outbox_rows(engine)] == ["opened"]
    with Receiver(OK_WECOM) as robot:
        run(lambda c: deliver(engine, routes(c, [wecom(robot)]), now))
    content = robot.seen[0].json()["markdown"]["content"]
    assert "揽收超时 no_pickup_scan · 新告警" in content and "订单 O1 · 运单 730001" in content
    assert f"({PUBLIC}/parcels/O1?platform=pinduoduo)" in content
