"""Learned lane expectations as detection and the scorecard read them: every `lane_stats` row
(the scorecard's hourly job writes them, monitor/scorecard/lanes.py). One small query."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, select

from monitor.store.frames import read_frame
from monitor.store.tables import LANE_STATS

L = LANE_STATS.c


def load_lane_expectations(engine: Engine) -> pd.DataFrame:
    """carrier, origin, province, deliveries, transit_p90_hours: every lane_stats row."""
    return read_frame(
        engine, select(L.carrier, L.origin, L.province, L.deliveries, L.transit_p90_hours)
    )
