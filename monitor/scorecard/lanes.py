"""Learned delivery expectations per lane: the `lane_stats` table.

`refresh_lane_stats` is a job (run it hourly or daily; it is idempotent): from the last
LANE_WINDOW_DAYS it computes, per carrier and

- lane: origin province (the warehouse's, from the config) × destination province;
- destination: origin NULL, every origin together (what /metrics shows per province);
- nationally: origin NULL and province NULL,

the deliveries in the window with their transit p50/p90 (hours), the parcels picked up in the
window, and of those the on-time ratio (judged as the scorecard judges it) and the loss
ratio. The rows are replaced in one transaction, so readers see the old set or the new one.

Detection and the scorecard read the rows back with monitor/store/lanes.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, and_, delete, insert, or_

from monitor.config import Config
from monitor.scorecard.kpis import CATEGORIES, READ_TIMES, S, parcel_outcomes, parcel_query
from monitor.store.frames import read_frame
from monitor.store.lanes import load_lane_expectations
from monitor.store.tables import LANE_STATS

LANES = LANE_STATS
L = LANES.c
LANE_WINDOW_DAYS = 28
SUMS = ("deliveries", "picked_up", "on_time", "late", "lost")


def lane_figures(
    frame: pd.DataFrame, config: Config, now: datetime, lanes: pd.DataFrame | None
) -> pd.DataFrame:
    """The lane_stats rows (without id/computed_at) for the parcels in `frame`."""
    moment = pd.Timestamp(now).tz_convert("UTC")
    start = moment - pd.Timedelta(days=LANE_WINDOW_DAYS)
    outcomes = parcel_outcomes(frame, config, moment, lanes)

    def within(column: str) -> np.ndarray:
        values = frame[column]
        return ((values >= start) & (values < moment)).to_numpy(dtype=bool, na_value=False)

    delivered = within("delivered_at") & outcomes["delivered"].to_numpy(dtype=bool)
    picked = within("picked_up_at")
    # Group on integer codes: carriers, origins and destinations factorised once.
    carrier_codes, carriers = pd.factorize(frame["carrier"])
    province_codes, provinces = pd.factorize(frame["province"])
    warehouse_codes, warehouses = pd.factorize(frame["warehouse"])
    origin_of = {w.id: w.province for w in config.warehouses if w.province}
    origin_codes, origins = pd.factorize(
        pd.Series([origin_of.get(str(w)) for w in warehouses], dtype=object)
    )
    origin = np.append(origin_codes, -1)[warehouse_codes]  # unknown warehouse: -1
    codes = {"carrier": carrier_codes, "origin": origin, "province": province_codes}
    names = {
        "carrier": np.asarray(carriers, dtype=object),
        "origin": np.asarray([*origins, None], dtype=object),
        "province": np.asarray([*provinces, None], dtype=object),
    }
    figures = pd.DataFrame(
        {
            "deliveries": delivered,
            "picked_up": picked,
            "on_time": picked & outcomes["on_time"].to_numpy(dtype=bool),
            "late": picked & outcomes["late"].to_numpy(dtype=bool),
            "lost": picked & outcomes["lost"].to_numpy(dtype=bool),
            "transit": np.where(delivered, outcomes["transit_hours"], np.nan),
        }
    )
    levels = []
    for keys in (["carrier", "origin", "province"], ["carrier", "province"], ["carrier"]):
        known = np.logical_and.reduce([codes[k] >= 0 for k in keys])
        grouped = figures[known].groupby([codes[k][known] for k in keys])
        level = grouped[list(SUMS)].sum()
        level["transit_p50_hours"] = grouped["transit"].quantile(0.5)
        level["transit_p90_hours"] = grouped["transit"].quantile(0.9)
        level.index.names = keys
        level = level.reset_index()
        for key in ("carrier", "origin", "province"):
            level[key] = names[key][level[key].to_numpy()] if key in keys else None
        levels.append(level)
    rows = pd.concat(levels, ignore_index=True)
    judged = rows["on_time"] + rows["late"]
    rows["on_time_ratio"] = (rows["on_time"] / judged.where(judged > 0)).astype("float64")
    rows["loss_ratio"] = (rows["lost"] / rows["picked_up"].where(rows["picked_up"] > 0)).astype(
        "float64"
    )
    return rows.drop(columns=["on_time", "late", "lost"])


def _records(rows: pd.DataFrame, now: datetime) -> list[dict[str, Any]]:
    records = []
    for row in rows.to_dict("records"):
        records.append(
            {
                "carrier": str(row["carrier"]),
                "origin": row["origin"],
                "province": row["province"],
                "deliveries": int(row["deliveries"]),
                "picked_up": int(row["picked_up"]),
                **{
                    key: None if pd.isna(row[key]) else round(float(row[key]), 4)
                    for key in (
                        "transit_p50_hours",
                        "transit_p90_hours",
                        "on_time_ratio",
                        "loss_ratio",
                    )
                },
                "window_days": LANE_WINDOW_DAYS,
                "computed_at": now,
            }
        )
    return records


def refresh_lane_stats(engine: Engine, config: Config, now: datetime) -> int:
    """Recompute lane_stats from the last LANE_WINDOW_DAYS and replace every row atomically.
    Returns the number of rows written."""
    if now.tzinfo is None:
        raise ValueError("`now` must be timezone-aware")
    start = now - timedelta(days=LANE_WINDOW_DAYS)
    window = or_(
        and_(S.picked_up_at >= start, S.picked_up_at < now),
        and_(S.delivered_at >= start, S.delivered_at < now),
    )
    frame = read_frame(engine, parcel_query(window, start, now), READ_TIMES, CATEGORIES)
    # On-time is judged against the expectations the delayed rule was using until now.
    current = load_lane_expectations(engine)
    rows = lane_figures(frame, config, now, current) if not frame.empty else pd.DataFrame()
    records = _records(rows, now) if not rows.empty else []
    with engine.begin() as conn:
        conn.execute(delete(LANES))
        if records:
            conn.execute(insert(LANES), records)
    return len(records)
