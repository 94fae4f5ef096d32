"""The scorecard's KPIs (monitor/scorecard/kpis.py; docs/scorecard.md "KPI definitions" and
"Wilson interval") on generated histories whose truth is known."""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pytest
from sqlalchemy import Engine

from monitor.scorecard.kpis import wilson
from tests.support.scorecard import (
    HOUR,
    REPORT_AT,
    SHANGHAI,
    W47,
    History,
    Lane,
    row,
    scorecard,
)

# --- statistics ---------------------------------------------------------------------------


def test_wilson_interval_matches_the_textbook_values() -> None:
    low, high = wilson(np.array([5, 0, 10]), np.array([10, 10, 10]))
    assert low[0] == pytest.approx(0.2366, abs=1e-4)
    assert high[0] == pytest.approx(0.7634, abs=1e-4)
    assert (low[1], high[1]) == (0.0, pytest.approx(0.2775, abs=1e-4))
    assert (low[2], high[2]) == (pytest.approx(0.7225, abs=1e-4), 1.0)
    nothing = wilson(np.array([0]), np.array([0]))
    assert (nothing[0][0], nothing[1][0]) == (0.0, 1.0)


# --- KPIs ---------------------------------------------------------------------------------


def test_lane_medians_are_recovered(sqlite_engine: Engine) -> None:
    truth = {
        ("zto", "江苏"): 40.0,
        ("zto", "广东"): 60.0,
        ("sf", "江苏"): 28.0,
        ("sf", "广东"): 45.0,
        ("yto", "新疆"): 110.0,
    }
    history = History(sqlite_engine)
    for (carrier, province), median in truth.items():
        history.lane(Lane(carrier, province, 400, median, sigma=0.3))
    history.save()
    card = scorecard(sqlite_engine)
    for (carrier, province), median in truth.items():
        cell = row(card, carrier, province)
        assert cell["parcels"] == cell["delivered"] == 400
        assert cell["transit_hours_p50"] == pytest.approx(median, rel=0.06)
        # log-normal p90 = median * exp(1.2816 sigma)
        assert cell["transit_hours_p90"] == pytest.approx(median * math.exp(1.2816 * 0.3), rel=0.1)
    assert row(card, "zto", None)["parcels"] == 800


def test_open_and_overdue_parcels_count_against_the_carrier(sqlite_engine: Engine) -> None:
    # 浙江 -> 江苏 is an adjacent lane: expected within 72 h of pickup (no lane history yet).
    history = History(sqlite_engine)
    monday = W47.start(SHANGHAI) + 10 * HOUR
    for i in range(10):
        history.parcel("zto", "江苏", monday + i * HOUR, transit_hours=30)  # on time
    for i in range(2):
        history.parcel("zto", "江苏", monday + i * HOUR, transit_hours=90)  # delivered late
    recent_scan = REPORT_AT - 2 * HOUR  # still scanning: open, not lost
    overdue = [
        history.parcel("zto", "江苏", monday + i * HOUR, last_event_at=recent_scan)
        for i in range(5)
    ]
    sunday = datetime(2026, 11, 22, 20, 0, tzinfo=SHANGHAI)  # picked up Sunday night: not due
    for i in range(3):
        history.parcel("zto", "江苏", sunday + i * HOUR, last_event_at=recent_scan)
    history.save()
    cell = row(scorecard(sqlite_engine, at=REPORT_AT), "zto", "江苏")
    assert len(overdue) == 5
    assert cell["parcels"] == 20
    assert cell["delivered"] == 12
    assert cell["open"] == 8  # never dropped
    assert (cell["on_time"], cell["late"]) == (10, 7)
    assert cell["on_time_ratio"] == pytest.approx(10 / 17)
    low, high = wilson(np.array([10]), np.array([17]))
    assert cell["on_time_ratio_low"] == pytest.approx(low[0])
    assert cell["on_time_ratio_high"] == pytest.approx(high[0])


def test_a_lost_parcel_is_counted_once(sqlite_engine: Engine) -> None:
    history = History(sqlite_engine)
    monday = W47.start(SHANGHAI) + 9 * HOUR
    for i in range(20):
        history.parcel("yto", "广东", monday + i * HOUR, transit_hours=40)
    # Declared lost by the carrier, with a `lost` alert, and silent for weeks: one loss.
    everything = history.parcel(
        "yto", "广东", monday, status="exception", sub_reason="lost", last_event_at=monday
    )
    history.alert(everything, "lost", monday + 7 * 24 * HOUR)
    history.alert(everything, "stalled", monday + 48 * HOUR)
    history.alert(everything, "stalled", monday + 100 * HOUR)  # twice: still one parcel
    silent = history.parcel("yto", "广东", monday, last_event_at=monday + 5 * HOUR)
    # A `lost` alert that was wrong: the parcel turned up and was delivered.
    found = history.parcel("yto", "广东", monday, transit_hours=300)
    history.alert(found, "lost", monday + 200 * HOUR)
    history.save()
    card = scorecard(sqlite_engine)
    for province in ("广东", None):
        cell = row(card, "yto", province)
        assert cell["parcels"] == 23
        assert cell["lost"] == 2, silent
        assert cell["stalled"] == 1
        assert cell["open"] == 0
        assert cell["loss_ratio"] == pytest.approx(2 / 23)


def test_pickup_timeliness_counts_parcels_never_scanned(sqlite_engine: Engine) -> None:
    history = History(sqlite_engine)
    tuesday = datetime(2026, 11, 17, 15, 0, tzinfo=SHANGHAI)
    for i in range(8):
        history.parcel(
            "jt", "江苏", tuesday + 3 * HOUR + i * HOUR, shipped_at=tuesday, transit_hours=30
        )
    history.parcel("jt", "江苏", tuesday + 30 * HOUR, shipped_at=tuesday, transit_hours=30)
    history.parcel("jt", "江苏", None, shipped_at=tuesday)  # tracking uploaded, never collected
    history.save()
    cell = row(scorecard(sqlite_engine), "jt", "江苏")
    assert cell["parcels"] == 9  # the pickup cohort
    assert (cell["picked_up_24h"], cell["shipped"]) == (8, 10)
    assert cell["pickup_ratio"] == pytest.approx(0.8)


def test_a_parcel_without_a_province_counts_only_nationally(sqlite_engine: Engine) -> None:
    history = History(sqlite_engine)
    monday = W47.start(SHANGHAI) + 9 * HOUR
    for i in range(12):
        history.parcel("sto", "江苏", monday + i * HOUR, transit_hours=30)
    history.parcel("sto", None, monday, transit_hours=30)
    history.save()
    card = scorecard(sqlite_engine)
    assert row(card, "sto", None)["parcels"] == 13
    assert row(card, "sto", "江苏")["parcels"] == 12
    assert len(card.rows) == 2
