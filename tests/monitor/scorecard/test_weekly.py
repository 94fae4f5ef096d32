"""The Monday scorecard: stored once per week, announced once, rendered for chat sinks."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select

from alerts.sinks.alertmanager import AlertmanagerSinkConfig
from alerts.sinks.base import Notification
from alerts.sinks.render import MARKDOWN, Renderer
from monitor.config import ConfigError, parse_config
from monitor.ingest import ingest_rows
from monitor.ingest.files import RawRow
from monitor.scorecard.weekly import EVENT, publish_weekly
from monitor.store.models import OutboxMessage, ScorecardReport
from tests.support.config import make_config

SH = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=SH)  # reports on 2026-W47


def _history(engine: Engine) -> None:
    config = make_config()
    rows = []
    for i in range(40):
        picked = datetime(2026, 11, 16, 10, tzinfo=SH) + timedelta(hours=i * 2)
        rows.append(
            RawRow(i + 1, {
                "order_id": f"W{i}", "warehouse": "hz1", "province": "江苏",
                "paid_at": (picked - timedelta(hours=5)).isoformat(),
                "carrier": "zto" if i % 2 else "yto", "tracking_number": f"N{i}",
                "shipped_at": (picked - timedelta(hours=2)).isoformat(),
                "picked_up_at": picked.isoformat(),
                "delivered_at": (picked + timedelta(hours=30 + i % 7)).isoformat(),
                "status": "delivered",
            })
        )  # fmt: skip
    assert not ingest_rows(engine, config, rows, MONDAY).rejected


def _count(engine: Engine, model: type) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar())


def test_publish_stores_the_report_and_announces_it_once(engine: Engine) -> None:
    _history(engine)
    config = make_config()
    assert publish_weekly(engine, config, MONDAY) == "2026-W47"
    assert publish_weekly(engine, config, MONDAY + timedelta(minutes=1)) == "2026-W47"
    assert _count(engine, ScorecardReport) == 1
    with engine.connect() as conn:
        rows = list(conn.execute(select(OutboxMessage).where(OutboxMessage.event == EVENT)))
        report = conn.execute(select(ScorecardReport.report)).scalar_one()
    assert len(rows) == 1  # a second run (restart, another replica) announces nothing twice
    assert rows[0].payload["week"] == "2026-W47" and rows[0].alert_id is None
    assert report["week"] == "2026-W47" and report["rows"]


def test_the_digest_reads_well_in_chat() -> None:
    note = Notification(
        event=EVENT,
        idempotency_key="scorecard-2026-W47",
        created_at=MONDAY,
        payload={
            "week": "2026-W47",
            "switches": [
                {
                    "province": "四川",
                    "from": "jt",
                    "to": "sf",
                    "hours_saved": 13.2,
                    "losses_avoided_per_10k": 2.5,
                }
            ],
            "more_switches": 0,
            "link": "/scorecards?week=2026-W47",
        },
    )
    text = Renderer("https://pw.example").message(note, MARKDOWN)
    assert "每周快递评分 2026-W47" in text
    assert "四川：建议由 jt 改用 sf（快 13 小时，每万件少丢 2.5 件）" in text
    assert "https://pw.example/scorecards?week=2026-W47" in text


def test_sinks_subscribe_to_the_scorecard_but_alertmanager_cannot() -> None:
    config = parse_config(
        {"sinks": [{"name": "ops", "type": "wecom", "url_env": "X", "events": ["scorecard"]}]}
    )
    assert config.sinks[0].accepts("scorecard_weekly", None, None)
    assert not config.sinks[0].accepts("opened", "lost", "critical")
    with pytest.raises(ConfigError, match=r"sinks\[0\]\.events"):
        parse_config({"sinks": [{"name": "am", "type": "alertmanager", "url": "http://am:9093",
                                 "events": ["scorecard"]}]})  # fmt: skip
    assert AlertmanagerSinkConfig.model_fields["events"].default == [
        "opened", "escalated", "resolved",
    ]  # fmt: skip
