"""Manual actions on the alert queue (monitor/alert_queue.py): acknowledge, assign, snooze,
comment and resolve, each recorded in the history, compare-and-set against the state, and the
resolve announced in the outbox."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from alerts.model import Action
from monitor.alert_queue import ActionError, act, history
from monitor.daemon.tick import run_tick
from tests.support.lifecycle import CONFIG, alerts, at, in_transit
from tests.support.lifecycle import outbox_messages as _outbox


def test_manual_actions_are_recorded_and_compare_and_set(engine: Engine) -> None:
    now = at("2026-11-19 12:00")
    in_transit(engine, now, "2026-11-17 06:00")
    run_tick(engine, CONFIG, now)
    [alert] = alerts(engine, state="active")
    alert_id = alert["id"]

    act(engine, alert_id, Action.ACKNOWLEDGE, "lead1", now)
    with pytest.raises(ActionError, match="is acknowledged"):
        act(engine, alert_id, Action.ACKNOWLEDGE, "lead2", now)
    act(engine, alert_id, Action.ASSIGN, "lead1", now, assignee="小王")
    until = now + timedelta(hours=4)
    act(engine, alert_id, Action.SNOOZE, "lead1", now, until=until)
    act(engine, alert_id, Action.COMMENT, "小王", now, note="已联系中通网点")
    resolved = act(engine, alert_id, Action.RESOLVE, "小王", now, note="补发")
    assert resolved["state"] == "resolved" and resolved["resolution"] == "manual"
    assert resolved["assignee"] == "小王" and resolved["snoozed_until"] == until

    steps = [(h["action"], h["actor"], h["note"]) for h in history(engine, alert_id)]
    assert steps == [
        ("opened", "system", None),
        ("acknowledged", "lead1", None),
        ("assigned", "lead1", "小王"),
        ("snoozed", "lead1", until.isoformat()),
        ("commented", "小王", "已联系中通网点"),
        ("resolved", "小王", "补发"),
    ]
    with pytest.raises(ActionError, match="is resolved"):
        act(engine, alert_id, Action.RESOLVE, "lead1", now)
    with pytest.raises(ActionError) as missing:
        act(engine, 9999, Action.ACKNOWLEDGE, "lead1", now)
    assert missing.value.not_found
    with pytest.raises(ActionError, match="future"):
        act(engine, alert_id, Action.SNOOZE, "lead1", now, until=now)
    manual = [m for m in _outbox(engine) if m.event == "resolved"]
    assert manual[0].payload["actor"] == "小王"
