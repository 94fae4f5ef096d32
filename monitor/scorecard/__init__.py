"""The weekly carrier scorecard (docs/scorecard.md "Carrier scorecard").

    scorecard = build_scorecard(engine, config, "2026-W47", now)

reads the parcels picked up (or shipped) in that ISO week and the TREND_WEEKS - 1 before it
with one query, computes the KPIs per carrier × destination province and per carrier
nationally (kpis.py), scores and ranks them (ranking.py), recommends a carrier per province
(recommend.py); render.py turns the result into JSON, CSV, Markdown or an HTML page with
charts. `refresh_lane_stats` (lanes.py) is the job that learns per-lane transit times.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from monitor.config import Config
from monitor.scorecard import kpis, ranking
from monitor.scorecard.lanes import refresh_lane_stats
from monitor.scorecard.penalties import penalty_costs, with_penalty_costs
from monitor.scorecard.recommend import Recommendation, recommend
from monitor.scorecard.weeks import Week, WeekError, report_zone
from monitor.store.lanes import load_lane_expectations

__all__ = [
    "TREND_WEEKS",
    "Recommendation",
    "Scorecard",
    "Week",
    "WeekError",
    "build_scorecard",
    "load_lane_expectations",
    "refresh_lane_stats",
]

TREND_WEEKS = 6  # the report week and the five before it, for the trend chart
# Figures compared with the previous week in each row (`<name>_change`).
CHANGES = ("on_time_ratio", "transit_hours_p50", "loss_ratio", "stall_ratio", "score")


@dataclass(frozen=True)
class Scorecard:
    week: str
    previous_week: str
    generated_at: datetime
    timezone: str
    rows: pd.DataFrame  # the report week: national rows first, then carrier × province
    recommendations: list[Recommendation]
    trend: pd.DataFrame  # the national rows of every loaded week, oldest first
    transit_spread: pd.DataFrame  # the report week's transit percentiles per carrier
    min_parcels: int
    # Charged for the carrier's lateness that week, per carrier (province None) and lane.
    penalties: pd.DataFrame = field(default_factory=pd.DataFrame)


def build_scorecard(engine: Engine, config: Config, week: str | None, now: datetime) -> Scorecard:
    """The scorecard of `week` ('2026-W47'; None: the last complete week) as of `now`.
    Raises WeekError for a malformed week or one that has not started."""
    if now.tzinfo is None:
        raise ValueError("`now` must be timezone-aware")
    zone = report_zone(config)
    target = Week.parse(week) if week else Week.last_complete(now, zone)
    if target.start(zone) > now:
        raise WeekError(f"week {target} has not started yet")
    weeks = [target.shift(offset) for offset in range(1 - TREND_WEEKS, 1)]
    starts = [w.start(zone) for w in weeks] + [target.end(zone)]
    labels = [w.label for w in weeks]

    frame = kpis.load_window(engine, starts[0], starts[-1], now)
    lanes = load_lane_expectations(engine)
    outcomes = kpis.parcel_outcomes(frame, config, now, lanes)
    cells = kpis.with_ratios(kpis.aggregate(frame, outcomes, starts, labels))
    scored = ranking.score(cells, config.scorecard)
    scored = _with_changes(scored, target.label, target.shift(-1).label)

    rows = scored[scored["week"] == target.label].drop(columns=["week"])
    rows = _ordered(rows)
    penalties = penalty_costs(engine, config, target.start(zone), target.end(zone), now)
    rows = with_penalty_costs(rows, penalties)
    pickup_week = kpis.week_index(frame["picked_up_at"], starts)
    spread = kpis.transit_spread(frame, outcomes, pickup_week == len(weeks) - 1)
    trend = scored[scored["province"].isna()].drop(columns=["province"])
    return Scorecard(
        week=target.label,
        previous_week=target.shift(-1).label,
        generated_at=now,
        timezone=zone.key,
        rows=rows.reset_index(drop=True),
        recommendations=recommend(scored, target.label, target.shift(-1).label),
        trend=trend.sort_values(["week", "carrier"]).reset_index(drop=True),
        transit_spread=spread,
        min_parcels=config.scorecard.min_parcels,
        penalties=penalties,
    )


def _with_changes(scored: pd.DataFrame, week: str, previous: str) -> pd.DataFrame:
    if scored.empty:
        return scored.assign(
            parcels_previous=pd.Series(dtype="Int64"),
            **{f"{c}_change": pd.Series(dtype="float64") for c in CHANGES},
        )
    keys = ["carrier", "province"]
    before = scored[scored["week"] == previous][[*keys, "parcels", *CHANGES]]
    before = before.assign(province=before["province"].fillna(""))
    joined = scored.assign(province=scored["province"].fillna("")).merge(
        before, on=keys, how="left", suffixes=("", "_previous")
    )
    for column in CHANGES:
        change = joined[column] - joined[f"{column}_previous"]
        joined[f"{column}_change"] = change.where(joined["week"] == week)
    joined["parcels_previous"] = (
        joined["parcels_previous"].where(joined["week"] == week).astype("Int64")
    )
    joined = joined.drop(columns=[f"{c}_previous" for c in CHANGES])
    joined["province"] = joined["province"].where(joined["province"] != "", None)
    return joined


def _ordered(rows: pd.DataFrame) -> pd.DataFrame:
    """National rows first, then provinces by volume; best rank first, unranked last."""
    volume = rows.groupby(rows["province"].fillna(""))["parcels"].transform("sum")
    order = pd.DataFrame(
        {
            "national": rows["province"].notna().astype(int),
            "volume": -volume,
            "province": rows["province"].fillna(""),
            "rank": rows["rank"].astype("float64").fillna(np.inf),
            "parcels": -rows["parcels"],
        },
        index=rows.index,
    )
    return rows.loc[order.sort_values(list(order.columns), kind="stable").index]
