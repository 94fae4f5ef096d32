"""The today view of a warehouse (monitor/web/today.py): what must ship, what is close to the
deadline, and the 7-day trend of new alerts per kind, counted per local day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert

from monitor.store.tables import ALERTS
from monitor.web.today import TREND_DAYS, spark, today_view
from tests.support.config import make_config
from tests.support.store import add_order

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # 17:00 in Shanghai, past the 16:00 cutoff
CONFIG = make_config()


def opened(engine: Engine, kind: str, at: datetime, warehouse: str = "hz1") -> None:
    with engine.begin() as conn:
        conn.execute(insert(ALERTS), {
            "fingerprint": f"{kind}:{at.isoformat()}", "kind": kind, "severity": "warning",
            "state": "resolved", "warehouse": warehouse, "since": at, "opened_at": at,
            "updated_at": at, "detail": {},
        })  # fmt: skip


def test_the_trend_counts_alerts_opened_per_local_day(engine: Engine) -> None:
    # 23:30 Shanghai on 11-23 is 15:30 UTC: the 23rd locally, whatever UTC says.
    opened(engine, "stalled", datetime(2026, 11, 23, 15, 30, tzinfo=UTC))
    opened(engine, "stalled", datetime(2026, 11, 23, 16, 30, tzinfo=UTC))  # 00:30 on the 24th
    opened(engine, "stalled", NOW - timedelta(hours=1))
    opened(engine, "lost", NOW - timedelta(days=3))
    opened(engine, "lost", NOW - timedelta(days=8))  # before the window
    opened(engine, "stalled", NOW - timedelta(hours=2), warehouse="gz1")  # another warehouse
    day = today_view(engine, CONFIG, "hz1", NOW)
    assert day is not None
    assert [d.isoformat() for d in day.days][-2:] == ["2026-11-23", "2026-11-24"]
    assert len(day.days) == TREND_DAYS
    trend = dict(day.trend)
    assert trend["stalled"] == [0, 0, 0, 0, 0, 1, 2]
    assert trend["lost"] == [0, 0, 0, 1, 0, 0, 0]
    assert [kind for kind, _ in day.trend] == ["stalled", "lost"]  # busiest first


def test_what_must_ship_today_comes_from_the_unshipped_orders(engine: Engine) -> None:
    add_order(engine, "PAID-EARLY", platform="taobao", paid_at=NOW - timedelta(hours=6))
    add_order(engine, "PAID-LATE", paid_at=NOW - timedelta(minutes=30))  # after the cutoff
    add_order(engine, "SHIPPED", paid_at=NOW - timedelta(hours=7), shipped_at=NOW)
    day = today_view(engine, CONFIG, "hz1", NOW)
    assert day is not None
    assert [o["order_id"] for o in day.to_ship] == ["PAID-EARLY"] and day.to_ship_count == 1


def test_a_sparkline_is_scaled_to_the_busiest_day() -> None:
    assert spark([0, 0, 0]) == "▁▁▁"
    assert spark([0, 4, 8]) == "▁▅█"
