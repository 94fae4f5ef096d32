"""The `delayed` rule on learned lanes (monitor/rules/transit.py, docs/rules.md "delayed"): from
the distance band to the lane's p90 once the lane has `rules.lane_min_deliveries` deliveries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
import pytest

from monitor.rules import evaluate
from tests.support.config import make_config
from tests.support.parcels import at, of_kind, parcel_frame

HOUR = timedelta(hours=1)
CONFIG = make_config()  # hz1 in 浙江, gz1 in 广东


T0 = "2026-11-24 12:00"


def lanes_frame(deliveries: int, p90: float = 50.0, origin: str | None = "浙江") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "carrier": ["zto", "zto"],
            "origin": [origin, None],
            "province": ["江苏", None],
            "deliveries": [deliveries, deliveries * 10],
            "transit_p90_hours": [p90, 99.0],
        }
    )


def delayed(
    frame: pd.DataFrame, hours: float, lanes: pd.DataFrame | None, config: Any = CONFIG
) -> list[dict[str, Any]]:
    now = at(T0) + hours * HOUR
    return of_kind(evaluate(frame, now, config, lane_expectations=lanes), "delayed")


def moving(**extra: Any) -> pd.DataFrame:
    # 浙江 -> 江苏 is an adjacent lane: 72 h by the distance band.
    row = {"province": "江苏", "status": "in_transit", "picked_up_at": T0}
    row["last_event_at"] = at(T0) + 40 * HOUR
    return parcel_frame(row | extra)


@pytest.mark.parametrize(("deliveries", "learned"), [(19, False), (20, True), (500, True)])
def test_delayed_uses_the_lane_p90_from_twenty_deliveries(deliveries: int, learned: bool) -> None:
    lanes = lanes_frame(deliveries)
    if learned:
        assert delayed(moving(), 50 - 1 / 60, lanes) == []
        [alert] = delayed(moving(), 50, lanes)
        assert alert["since"] == at(T0) + 50 * HOUR
        assert alert["detail"]["basis"] == "lane_p90"
    else:
        assert delayed(moving(), 71, lanes) == []
        [alert] = delayed(moving(), 72, lanes)
        assert alert["detail"]["basis"] == "distance_band:adjacent"


def test_the_threshold_is_configurable() -> None:
    config = make_config(rules={"lane_min_deliveries": 5})
    [alert] = delayed(moving(), 50, lanes_frame(5), config)
    assert alert["detail"]["basis"] == "lane_p90"


def test_a_slow_lane_waits_longer_than_the_band() -> None:
    assert delayed(moving(), 80, lanes_frame(40, p90=90.0)) == []
    [alert] = delayed(moving(), 90, lanes_frame(40, p90=90.0))
    assert alert["detail"]["basis"] == "lane_p90"


def test_the_carriers_estimate_still_wins_over_the_lane() -> None:
    frame = moving(expected_delivery_at=at(T0) + 100 * HOUR)
    assert delayed(frame, 99, lanes_frame(40)) == []
    [alert] = delayed(frame, 100, lanes_frame(40))
    assert alert["detail"]["basis"] == "carrier_estimate"


def test_lanes_are_per_carrier_origin_and_destination() -> None:
    lanes = lanes_frame(40)
    other_carrier = moving(carrier="sto")
    assert delayed(other_carrier, 60, lanes) == []  # sto has no lane: the band's 72 h
    # A warehouse with no province configured matches the carrier x destination row.
    config = make_config(warehouses=[{"id": "hz1", "timezone": "Asia/Shanghai"}])
    everywhere = lanes_frame(40, p90=55.0, origin=None)
    [alert] = delayed(moving(), 55, everywhere, config)
    assert alert["detail"]["basis"] == "lane_p90"
    assert delayed(moving(), 55, lanes, config) == []  # only an origin-specific row: no match
