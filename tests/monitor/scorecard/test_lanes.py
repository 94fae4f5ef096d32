"""Learned lane expectations (monitor/scorecard/lanes.py): `refresh_lane_stats` fills
lane_stats from recent deliveries, and detection reads them back (the `delayed` rule on those
lanes: tests/monitor/rules/test_transit_lanes.py)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import Engine, delete, insert, select

from monitor.detection import detect
from monitor.scorecard import load_lane_expectations, refresh_lane_stats
from monitor.store.models import LaneStats, Shipment
from tests.support.config import make_config
from tests.support.parcels import of_kind

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)
HOUR = timedelta(hours=1)
SHIPMENTS = Shipment.__table__  # type: ignore[attr-defined]
LANES = LaneStats.__table__  # type: ignore[attr-defined]
CONFIG = make_config()  # hz1 in 浙江, gz1 in 广东


def shipments(
    carrier: str,
    province: str,
    transit_hours: list[float] | np.ndarray,
    *,
    warehouse: str = "hz1",
    picked_up_days_ago: float = 10,
    start: int = 0,
    **extra: Any,
) -> list[dict[str, Any]]:
    picked = NOW - timedelta(days=picked_up_days_ago)
    rows = []
    for i, hours in enumerate(transit_hours, start=start):
        delivered = picked + float(hours) * HOUR if hours is not None else None
        rows.append(
            {
                "order_id": f"{carrier}-{warehouse}-{province}-{i}",
                "platform": "taobao",
                "warehouse": warehouse,
                "carrier": carrier,
                "province": province,
                "paid_at": picked - 6 * HOUR,
                "shipped_at": picked - 3 * HOUR,
                "picked_up_at": picked,
                "delivered_at": delivered,
                "last_event_at": delivered or picked,
                "status": "delivered" if delivered else "in_transit",
                "content_hash": "",
                "created_at": picked,
                "updated_at": picked,
                **extra,
            }
        )
    return rows


def store(engine: Engine, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        conn.execute(insert(SHIPMENTS), rows)


def lane_rows(engine: Engine) -> dict[tuple[str, str | None, str | None], dict[str, Any]]:
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(LANES))]
    return {(r["carrier"], r["origin"], r["province"]): r for r in rows}


def lognormal(median: float, n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).lognormal(math.log(median), 0.25, n)


# --- the table ----------------------------------------------------------------------------


def test_refresh_learns_each_lane_and_its_aggregates(sqlite_engine: Engine) -> None:
    hangzhou = lognormal(40, 300, 1)
    store(sqlite_engine, shipments("zto", "江苏", hangzhou))
    store(sqlite_engine, shipments("zto", "江苏", lognormal(60, 100, 2), warehouse="gz1"))
    store(sqlite_engine, shipments("sf", "广东", lognormal(30, 50, 3)))
    # Not in the window: delivered and picked up more than 28 days ago.
    store(sqlite_engine, shipments("zto", "江苏", [40.0] * 30, picked_up_days_ago=40, start=900))
    # Picked up in the window, not delivered yet: counts for picked_up, not for deliveries.
    store(sqlite_engine, shipments("zto", "江苏", [None] * 10, picked_up_days_ago=1, start=800))
    written = refresh_lane_stats(sqlite_engine, CONFIG, NOW)
    lanes = lane_rows(sqlite_engine)
    assert written == len(lanes) == 7
    hz = lanes[("zto", "浙江", "江苏")]
    assert (hz["deliveries"], hz["picked_up"]) == (300, 310)
    assert hz["transit_p50_hours"] == pytest.approx(40, rel=0.06)
    assert hz["transit_p50_hours"] == pytest.approx(np.quantile(hangzhou, 0.5), abs=1e-3)
    assert hz["transit_p90_hours"] == pytest.approx(np.quantile(hangzhou, 0.9), abs=1e-3)
    gz = lanes[("zto", "广东", "江苏")]
    assert gz["transit_p50_hours"] == pytest.approx(60, rel=0.08)
    destination = lanes[("zto", None, "江苏")]
    assert (destination["deliveries"], destination["picked_up"]) == (400, 410)
    national = lanes[("zto", None, None)]
    assert national["deliveries"] == 400
    assert lanes[("sf", None, None)]["deliveries"] == 50
    assert {r["window_days"] for r in lanes.values()} == {28}
    # Judged against the adjacent band's 72 h (no lane figures before this refresh).
    assert hz["on_time_ratio"] == pytest.approx(np.mean(hangzhou <= 72), abs=1e-4)
    assert hz["loss_ratio"] == 0.0


def test_refresh_replaces_every_row(sqlite_engine: Engine) -> None:
    store(sqlite_engine, shipments("zto", "江苏", [30.0] * 25))
    assert refresh_lane_stats(sqlite_engine, CONFIG, NOW) == 3
    assert refresh_lane_stats(sqlite_engine, CONFIG, NOW + HOUR) == 3  # no duplicates
    assert len(lane_rows(sqlite_engine)) == 3
    with sqlite_engine.begin() as conn:
        conn.execute(delete(SHIPMENTS))
    assert refresh_lane_stats(sqlite_engine, CONFIG, NOW) == 0
    assert lane_rows(sqlite_engine) == {}


def test_loss_ratio_counts_declared_and_silent_losses(sqlite_engine: Engine) -> None:
    store(sqlite_engine, shipments("yto", "江苏", [30.0] * 18))
    store(sqlite_engine, shipments("yto", "江苏", [None], start=100))  # silent for 10 days
    declared = shipments("yto", "江苏", [None], start=200, status="exception", sub_reason="lost")
    store(sqlite_engine, declared)
    refresh_lane_stats(sqlite_engine, CONFIG, NOW)
    lane = lane_rows(sqlite_engine)[("yto", "浙江", "江苏")]
    assert lane["loss_ratio"] == pytest.approx(2 / 20)
    assert lane["on_time_ratio"] == pytest.approx(18 / 20)  # the lost are overdue too


# --- detection reads them ------------------------------------------------------------------


def test_detect_reads_the_learned_lanes(sqlite_engine: Engine) -> None:
    # 19 deliveries on hz1 (浙江) -> 江苏 with zto, all within 30 h.
    store(sqlite_engine, shipments("zto", "江苏", [25.0 + i / 4 for i in range(19)]))
    waiting = shipments("zto", "江苏", [None], picked_up_days_ago=2, start=500)
    waiting[0]["last_event_at"] = NOW - HOUR  # moving, just late
    store(sqlite_engine, waiting)
    refresh_lane_stats(sqlite_engine, CONFIG, NOW)
    assert load_lane_expectations(sqlite_engine)["deliveries"].max() == 19
    assert of_kind(detect(sqlite_engine, CONFIG, NOW), "delayed") == []  # band: 72 h
    store(sqlite_engine, shipments("zto", "江苏", [26.0], start=100))  # the 20th delivery
    refresh_lane_stats(sqlite_engine, CONFIG, NOW)
    [alert] = of_kind(detect(sqlite_engine, CONFIG, NOW), "delayed")
    assert alert["detail"]["basis"] == "lane_p90"
