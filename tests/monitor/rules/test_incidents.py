"""carrier_incident (monitor/rules/incidents.py, docs/rules.md "carrier_incident"): one alert
for a carrier's stalls in one province, its thresholds, and the baseline that suppresses it."""

from __future__ import annotations

import pandas as pd
import pytest

from monitor.rules import BASELINE_COLUMNS, evaluate
from tests.support.config import make_config
from tests.support.parcels import at, of_kind, parcel_frame

HOUR = pd.Timedelta(hours=1)
CONFIG = make_config()


INCIDENT_NOW = at("2026-11-28 12:00")


def lane(healthy: int, stalled: int, carrier: str = "zto", province: str = "江苏") -> list[dict]:
    """Parcels in one carrier's hands for one province: the healthy ones scanned 2 h ago,
    the stalled ones silent for 50..54 h (past the 48 h in-transit allowance, not late yet
    on the 72 h 浙江→江苏 band)."""
    moving = {"carrier": carrier, "province": province, "status": "in_transit"}
    return [
        {
            **moving,
            "picked_up_at": INCIDENT_NOW - 30 * HOUR,
            "last_event_at": INCIDENT_NOW - 2 * HOUR,
        }
        for _ in range(healthy)
    ] + [
        {
            **moving,
            "picked_up_at": INCIDENT_NOW - 60 * HOUR,
            "last_event_at": INCIDENT_NOW - (50 + i) * HOUR,
        }
        for i in range(stalled)
    ]


def baseline(picked_up: int, affected: int) -> pd.DataFrame:
    return pd.DataFrame([("zto", "江苏", picked_up, affected)], columns=list(BASELINE_COLUMNS))


def test_one_incident_for_a_carriers_stalls_in_one_province() -> None:
    frame = parcel_frame(*lane(healthy=20, stalled=5), *lane(30, 0, carrier="yto"))
    result = evaluate(frame, INCIDENT_NOW, CONFIG)
    assert len(of_kind(result, "stalled")) == 5  # the parcel alerts stay
    [incident] = of_kind(result, "carrier_incident")
    assert incident == {
        "kind": "carrier_incident",
        "severity": "critical",
        "shipment_id": None,
        "sales_order_id": None,
        "order_id": None,
        "tracking_number": None,
        "carrier": "zto",
        "warehouse": None,
        "province": "江苏",
        "platform": None,
        "shop": None,
        "since": INCIDENT_NOW - 6 * HOUR,  # the earliest stall: 54 h silent - 48 h
        "detail": {
            "parcels": 25,
            "affected": 5,
            "share": 0.2,
            "baseline_rate": None,
            "by_kind": {"stalled": 5},
        },
    }
    assert result.iloc[0]["kind"] == "carrier_incident"  # critical first


@pytest.mark.parametrize(
    ("healthy", "stalled", "fires"),
    [
        (14, 5, False),  # 19 parcels: below min_parcels
        (15, 5, True),  # 20
        (33, 1, False),  # 1 / 34 = 2.9 %: below min_share
        (32, 1, True),  # 1 / 33 = 3.03 %
    ],
)
def test_incident_thresholds(healthy: int, stalled: int, fires: bool) -> None:
    frame = parcel_frame(*lane(healthy, stalled))
    incidents = of_kind(evaluate(frame, INCIDENT_NOW, CONFIG), "carrier_incident")
    assert len(incidents) == (1 if fires else 0)


@pytest.mark.parametrize(
    ("picked_up", "affected", "fires"),
    [
        (1000, 150, False),  # 15 %: today's 20 % is not twice that
        (1000, 100, True),  # 10 %: 20 % is exactly twice
        (1000, 50, True),
        (0, 0, True),  # no history: no baseline to beat
    ],
)
def test_a_high_baseline_suppresses_the_incident(
    picked_up: int, affected: int, fires: bool
) -> None:
    frame = parcel_frame(*lane(20, 5))
    result = evaluate(frame, INCIDENT_NOW, CONFIG, baseline(picked_up, affected))
    incidents = of_kind(result, "carrier_incident")
    assert len(incidents) == (1 if fires else 0)
    if fires and picked_up:
        assert incidents[0]["detail"]["baseline_rate"] == affected / picked_up


def test_a_baseline_for_another_lane_does_not_suppress() -> None:
    other = pd.DataFrame([("yto", "江苏", 1000, 900)], columns=list(BASELINE_COLUMNS))
    frame = parcel_frame(*lane(20, 5))
    assert len(of_kind(evaluate(frame, INCIDENT_NOW, CONFIG, other), "carrier_incident")) == 1


def test_incidents_never_carry_an_order_id() -> None:
    frame = parcel_frame(
        *lane(20, 5),
        *lane(20, 5, province="广东"),
        *lane(20, 5, carrier="jt", province="广东"),
    )
    incidents = evaluate(frame, INCIDENT_NOW, CONFIG).query("kind == 'carrier_incident'")
    assert sorted(zip(incidents["carrier"], incidents["province"], strict=True)) == [
        ("jt", "广东"),
        ("zto", "广东"),
        ("zto", "江苏"),
    ]
    subject = incidents[["shipment_id", "order_id", "tracking_number", "warehouse", "platform"]]
    assert subject.isna().all().all()
