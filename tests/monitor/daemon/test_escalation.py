"""Escalation at chosen moments: a critical alert nobody acknowledges pages the next sink
group after its step's minutes, then reminders come at doubling intervals; acknowledging
stops both; a silenced alert is not paged; every page is in the history; a crash mid-way
sends nothing twice; the config refuses a step to a group no sink is in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from alerts.model import Action
from alerts.sinks.base import Notification
from alerts.sinks.settings import SinkSettings
from monitor.alert_queue import act
from monitor.config import ConfigError
from monitor.daemon import escalation
from monitor.daemon.tick import run_tick
from monitor.ingest import ingest_rows
from monitor.ingest.files import RawRow
from monitor.store.silences import create_silence
from monitor.store.tables import ALERT_HISTORY, ALERTS, OUTBOX
from tests.support.config import make_config

T = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SINKS = [
    {"type": "webhook", "name": "leads", "url": "http://127.0.0.1:9/", "secret_env": "S"},
    {"type": "webhook", "name": "managers", "url": "http://127.0.0.1:9/", "secret_env": "S",
     "group": "managers"},
]  # fmt: skip
CONFIG = make_config(
    sinks=SINKS,
    escalation={"steps": [{"after_minutes": 15, "to": "managers"}], "repeat_minutes": 30,
                "repeat_max_minutes": 120},
)  # fmt: skip


@pytest.fixture
def breached(engine: Engine) -> Engine:
    """One order far past its 48 h ship promise: a critical ship_deadline_breached at T."""
    rows = [RawRow(1, {"order_id": "B1", "warehouse": "gz1", "paid_at": "2026-11-20 09:00"})]
    assert not ingest_rows(engine, CONFIG, rows, T - timedelta(days=3)).rejected
    return engine


def sent(engine: Engine) -> list[tuple[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(OUTBOX.c.event, OUTBOX.c.payload).order_by(OUTBOX.c.id))
        return [(r.event, r.payload.get("group") or r.payload.get("reminder")) for r in rows
                if r.event in ("paged", "reminder")]  # fmt: skip


def at(minutes: float) -> datetime:
    return T + timedelta(minutes=minutes)


def test_pages_then_reminders_until_acknowledged(breached: Engine) -> None:
    run_tick(breached, CONFIG, T)
    with breached.connect() as conn:
        alert = conn.execute(select(ALERTS).where(ALERTS.c.kind == "ship_deadline_breached")).one()
    assert alert.severity == "critical"
    run_tick(breached, CONFIG, at(14))
    assert sent(breached) == []
    run_tick(breached, CONFIG, at(16))
    assert sent(breached) == [("paged", "managers")]
    run_tick(breached, CONFIG, at(20))
    assert sent(breached) == [("paged", "managers")]  # once
    run_tick(breached, CONFIG, at(31))  # first reminder at 30 min
    run_tick(breached, CONFIG, at(60))  # next one 60 min after the first
    run_tick(breached, CONFIG, at(92))
    assert sent(breached) == [("paged", "managers"), ("reminder", 1), ("reminder", 2)]
    act(breached, alert.id, Action.ACKNOWLEDGE, "lead", at(95))
    run_tick(breached, CONFIG, at(400))
    assert len(sent(breached)) == 3  # acknowledged: no more
    with breached.connect() as conn:
        query = select(ALERT_HISTORY.c.action).where(ALERT_HISTORY.c.alert_id == alert.id)
        actions = list(conn.execute(query).scalars())
    assert actions.count("paged") == 1 and actions.count("reminder") == 2


def test_a_silenced_alert_is_not_paged(breached: Engine) -> None:
    create_silence(breached, {"kind": "ship_deadline_breached"}, T, at(600), "known", "lead", T)
    run_tick(breached, CONFIG, T)
    run_tick(breached, CONFIG, at(90))
    assert sent(breached) == []


def test_a_crash_mid_escalation_sends_nothing_twice(
    breached: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_tick(breached, CONFIG, T)
    real = escalation.announce
    calls = [0]

    def dies_on_the_second(*args: Any, **kwargs: Any) -> None:
        calls[0] += 1
        if calls[0] == 2:
            raise RuntimeError("killed mid-escalation")
        real(*args, **kwargs)

    monkeypatch.setattr(escalation, "announce", dies_on_the_second)
    with pytest.raises(RuntimeError):
        escalation.escalate(breached, CONFIG, at(31))  # a page and a reminder are due
    assert sent(breached) == []  # rolled back together
    monkeypatch.setattr(escalation, "announce", real)
    assert escalation.escalate(breached, CONFIG, at(32)) == 2
    assert escalation.escalate(breached, CONFIG, at(33)) == 0


def test_pages_reach_only_their_group() -> None:
    leads, managers = (SinkSettings(type="webhook", name=n, **g) for n, g in
                       (("leads", {}), ("managers", {"group": "managers"})))  # fmt: skip
    page = Notification("paged", "k", T, {"kind": "lost", "severity": "critical",
                                          "group": "managers"})  # fmt: skip
    assert managers.accepts(page.event, page.kind, page.severity, "managers")
    assert not leads.accepts(page.event, page.kind, page.severity, "managers")
    assert not managers.accepts("opened", "lost", "critical")  # a target hears only pages
    assert leads.accepts("reminder", "lost", "critical")
    assert not managers.accepts("reminder", "lost", "critical")


def test_a_step_to_an_unknown_group_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"escalation\.steps\[0\]\.to: no sink is in group"):
        make_config(sinks=SINKS, escalation={"steps": [{"after_minutes": 5, "to": "nobody"}]})


def test_a_snoozed_alert_waits_for_its_snooze(breached: Engine) -> None:
    run_tick(breached, CONFIG, T)
    with breached.connect() as conn:
        query = select(ALERTS.c.id).where(ALERTS.c.kind == "ship_deadline_breached")
        alert_id = conn.execute(query).scalar_one()
    act(breached, alert_id, Action.SNOOZE, "lead", at(1), until=at(120))
    run_tick(breached, CONFIG, at(60))
    assert sent(breached) == []  # snoozed: no page, no reminder
    run_tick(breached, CONFIG, at(121))
    assert ("paged", "managers") in sent(breached)
