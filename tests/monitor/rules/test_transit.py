"""no_pickup_scan, stalled, delayed and lost (monitor/rules/transit.py; docs/rules.md
"Alert kinds and defaults")."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from monitor.rules import evaluate
from tests.support.config import make_config
from tests.support.parcels import at, of_kind, parcel_frame

MINUTE = pd.Timedelta(minutes=1)
HOUR = pd.Timedelta(hours=1)
# hz1 is in 浙江 (tests/support/config.py); the override is the example of docs/rules.md
# "Override hierarchy".
CONFIG = make_config(
    rules={
        "override": [{"carrier": "ems", "province": "新疆", "stalled_hours": {"in_transit": 96}}]
    }
)
T0 = "2026-11-24 12:00"


def alerts(frame: pd.DataFrame, now: pd.Timestamp, kind: str) -> list[dict[str, Any]]:
    return of_kind(evaluate(frame, now, CONFIG), kind)


# --- no_pickup_scan -------------------------------------------------------------------


def test_no_pickup_scan_24_hours_after_the_upload() -> None:
    frame = parcel_frame({"shipped_at": T0, "status": "label_created"})
    assert alerts(frame, at(T0) + 24 * HOUR - MINUTE, "no_pickup_scan") == []
    [alert] = alerts(frame, at(T0) + 24 * HOUR, "no_pickup_scan")
    assert alert["severity"] == "critical"
    assert alert["since"] == at(T0) + 24 * HOUR
    assert alert["detail"] == {"threshold_hours": 24.0, "penalty_estimate_yuan": None}


def test_no_pickup_scan_carries_pinduoduos_fake_shipping_penalty() -> None:
    frame = parcel_frame({"platform": "pinduoduo", "shipped_at": T0, "status": "label_created"})
    [alert] = alerts(frame, at(T0) + 30 * HOUR, "no_pickup_scan")
    assert alert["since"] == at(T0) + 24 * HOUR
    assert alert["detail"]["penalty_estimate_yuan"] == 20.0


@pytest.mark.parametrize(
    "scanned",
    [
        {"picked_up_at": "2026-11-24 20:00", "status": "picked_up"},
        {"picked_up_at": "2026-11-24 20:00", "status": "in_transit"},
        # a carrier that skipped the pickup scan but is clearly moving the parcel
        {"status": "in_transit", "last_event_at": "2026-11-25 08:00"},
    ],
)
def test_a_scanned_parcel_has_no_pickup_alert(scanned: dict[str, str]) -> None:
    frame = parcel_frame({"shipped_at": T0, **scanned})
    assert alerts(frame, at(T0) + 30 * HOUR, "no_pickup_scan") == []


# --- stalled --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "hours"),
    [("picked_up", 24), ("in_transit", 48), ("out_for_delivery", 24), ("available_for_pickup", 72)],
)
def test_stalled_after_the_allowance_of_its_stage(status: str, hours: int) -> None:
    last = at(T0) + 5 * HOUR
    frame = parcel_frame(
        {"status": status, "shipped_at": T0, "picked_up_at": T0, "last_event_at": last}
    )
    assert alerts(frame, last + hours * HOUR - MINUTE, "stalled") == []
    [alert] = alerts(frame, last + hours * HOUR, "stalled")
    assert alert["severity"] == "warning"
    assert alert["since"] == last + hours * HOUR
    assert alert["detail"] == {
        "stage": status,
        "threshold_hours": float(hours),
        "last_scan_at": last.tz_convert("UTC").isoformat(),
    }


def test_without_a_later_event_the_pickup_scan_is_the_last_scan() -> None:
    frame = parcel_frame({"status": "picked_up", "shipped_at": T0, "picked_up_at": T0})
    [alert] = alerts(frame, at(T0) + 30 * HOUR, "stalled")
    assert alert["since"] == at(T0) + 24 * HOUR


@pytest.mark.parametrize(
    ("carrier", "province", "hours"),
    [
        ("zto", "江苏", 48),
        ("zto", "青海", 72),  # remote
        ("zto", "西藏", 120),  # very remote
        ("zto", "新疆", 120),
        ("ems", "新疆", 96),  # the (carrier, province) override beats the built-in 120 h
        ("ems", "青海", 72),  # ... and only applies to 新疆
        ("ems", "江苏", 48),
    ],
)
def test_in_transit_allowance_by_destination(carrier: str, province: str, hours: int) -> None:
    frame = parcel_frame(
        {
            "carrier": carrier,
            "province": province,
            "status": "in_transit",
            "picked_up_at": T0,
            "last_event_at": T0,
        }
    )
    assert alerts(frame, at(T0) + hours * HOUR - MINUTE, "stalled") == []
    [alert] = alerts(frame, at(T0) + hours * HOUR, "stalled")
    assert alert["since"] == at(T0) + hours * HOUR
    assert alert["detail"]["threshold_hours"] == hours


def test_remote_allowance_only_relaxes_the_in_transit_stage() -> None:
    frame = parcel_frame(
        {"province": "新疆", "status": "out_for_delivery", "picked_up_at": T0, "last_event_at": T0}
    )
    [alert] = alerts(frame, at(T0) + 24 * HOUR, "stalled")
    assert alert["since"] == at(T0) + 24 * HOUR


@pytest.mark.parametrize(
    ("silent", "kinds"),
    [
        (168 * HOUR - MINUTE, {"stalled"}),
        (168 * HOUR, {"lost"}),
        (30 * 24 * HOUR, {"lost"}),
    ],
)
def test_stalled_gives_way_to_lost_after_seven_silent_days(
    silent: pd.Timedelta, kinds: set[str]
) -> None:
    frame = parcel_frame(
        # 浙江 → 浙江, so the 48 h delayed band is the only other alert
        {"province": "浙江", "status": "in_transit", "picked_up_at": T0, "last_event_at": T0}
    )
    result = evaluate(frame, at(T0) + silent, CONFIG)
    assert set(result["kind"]) - {"delayed"} == kinds
    if "lost" in kinds:
        [alert] = of_kind(result, "lost")
        assert alert["severity"] == "critical"
        assert alert["since"] == at(T0) + 168 * HOUR
        assert alert["detail"] == {
            "basis": "no_scan",
            "last_scan_at": at(T0).tz_convert("UTC").isoformat(),
        }
    else:
        [alert] = of_kind(result, "stalled")
        assert alert["since"] == at(T0) + 48 * HOUR


def test_a_failed_delivery_going_silent_is_lost() -> None:
    frame = parcel_frame({"status": "delivery_failed", "picked_up_at": T0, "last_event_at": T0})
    [alert] = alerts(frame, at(T0) + 168 * HOUR, "lost")
    assert alert["since"] == at(T0) + 168 * HOUR


def test_lost_declared_by_the_carrier_fires_at_once() -> None:
    declared = at(T0) + 30 * HOUR
    frame = parcel_frame(
        {
            "status": "exception",
            "sub_reason": "lost",
            "picked_up_at": T0,
            "last_event_at": declared,
        }
    )
    result = evaluate(frame, declared + MINUTE, CONFIG)
    [alert] = of_kind(result, "lost")
    assert alert["severity"] == "critical"
    assert alert["since"] == declared
    assert alert["detail"]["basis"] == "carrier_declared"
    assert "delivery_failed" not in set(result["kind"])  # a declared loss is a loss, once


def test_a_declared_loss_without_scan_times_starts_at_the_upload() -> None:
    # An ERP export can say 丢失 with nothing but the shipping time (no 揽收/最后更新时间).
    frame = parcel_frame(
        {"status": "exception", "sub_reason": "lost", "shipped_at": T0, "last_event_at": None}
    )
    [alert] = alerts(frame, at(T0) + 48 * HOUR, "lost")
    assert alert["since"] == at(T0)


# --- delayed --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("province", "band", "hours"),
    [
        ("浙江", "same_province", 48),
        ("江苏", "adjacent", 72),
        ("黑龙江", "cross_region", 96),
        ("新疆", "remote", 168),
    ],
)
def test_delayed_by_distance_band_from_the_warehouse(province: str, band: str, hours: int) -> None:
    frame = parcel_frame(
        {
            "province": province,
            "status": "out_for_delivery",  # moving: scans keep coming, just late
            "picked_up_at": T0,
            "last_event_at": at(T0) + (hours - 1) * HOUR,
        }
    )
    assert alerts(frame, at(T0) + hours * HOUR - MINUTE, "delayed") == []
    [alert] = alerts(frame, at(T0) + hours * HOUR, "delayed")
    assert alert["severity"] == "warning"
    assert alert["since"] == at(T0) + hours * HOUR
    assert alert["detail"] == {
        "expected_delivery_at": (at(T0) + hours * HOUR).tz_convert("UTC").isoformat(),
        "basis": f"distance_band:{band}",
    }


@pytest.mark.parametrize("estimate_hours", [30, 200])  # earlier and later than the band
def test_the_carriers_estimate_wins_over_the_band(estimate_hours: int) -> None:
    estimate = at(T0) + estimate_hours * HOUR
    frame = parcel_frame(
        {
            "province": "新疆",
            "status": "in_transit",
            "picked_up_at": T0,
            "last_event_at": T0,
            "expected_delivery_at": estimate,
        }
    )
    assert alerts(frame, estimate - MINUTE, "delayed") == []
    [alert] = alerts(frame, estimate, "delayed")
    assert alert["since"] == estimate
    assert alert["detail"]["basis"] == "carrier_estimate"


def test_a_delivered_parcel_never_fires() -> None:
    frame = parcel_frame(
        {
            "province": "新疆",
            "status": "delivered",
            "shipped_at": T0,
            "picked_up_at": T0,
            "last_event_at": at(T0) + 300 * HOUR,
            "delivered_at": at(T0) + 300 * HOUR,
            "expected_delivery_at": at(T0) + 100 * HOUR,
        },
        {"status": "delivered", "shipped_at": T0, "delivered_at": at(T0) + 5 * HOUR},
    )
    for waited in (24 * HOUR, 500 * HOUR, 2000 * HOUR):
        assert evaluate(frame, at(T0) + waited, CONFIG).empty


def test_a_parcel_waiting_at_a_locker_is_not_late() -> None:
    from monitor.rules import evaluate
    from tests.support.config import make_config
    from tests.support.parcels import at as when
    from tests.support.parcels import parcel_frame

    frame = parcel_frame(
        {
            "status": "available_for_pickup",
            "shipped_at": "2026-11-10 12:00",
            "picked_up_at": "2026-11-10 15:00",
            "last_event_at": "2026-11-12 09:00",
        }
    )
    result = evaluate(frame, when("2026-11-16 12:00"), make_config())
    assert "delayed" not in set(result["kind"])
    assert "stalled" in set(result["kind"])  # the locker's own 72 h allowance
