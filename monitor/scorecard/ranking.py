"""Composite score and rank per carrier within each province (and nationally), built so that
a small sample cannot win by luck (docs/scorecard.md "Small-sample ranking").

How each component becomes 0–100 (weights from `[scorecard] weights`):

- on-time and pickup timeliness (common, good events): 100 × the 95 % Wilson *lower*
  bound. At the usual rates (80–97 %) the bound costs a 30-parcel cell a few points and a
  3-parcel cell half its score, which is the intended caution.
- stall, loss and damage (rare, bad events): the empirical-Bayes estimate
  (k + α) / (n + α + β), with a Beta(α, β) prior fitted by the method of moments to all
  carrier × province cells of the week, scored against a rate that earns 0. As with transit
  times, a cell is pulled toward its carrier's national rate (itself pulled toward the
  network's), so a courier's few parcels in a province inherit its record elsewhere. We do not rank
  these by the Wilson *upper* bound: for events as rare as loss (about 2 in 10,000), the
  upper bound is set by n rather than by what happened (0 losses in 300 parcels gives
  1.26 %, 60 times the typical rate), so the component would become a volume bonus for
  whichever carrier already has the most parcels in a province, and no challenger could
  ever be recommended. The Beta prior pulls a small cell toward the carrier's usual rate
  instead, and lets a cell stand out only when its own evidence is strong. A fitted prior needs
  many units, hence all cells of the week rather than the few carriers of one province.
- speed: the cell's transit p50 shrunk toward the carrier's national p50 with
  w = n / (n + m) (n deliveries, m = `shrink_parcels`); a national row shrinks toward the
  all-carrier national p50. Scored as 100 × (fastest shrunk p50 among the ranked carriers of
  the province) / (own shrunk p50).

Cells with fewer than `min_parcels` parcels keep their figures but get no score and no rank
("insufficient data").
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from monitor.config import ScorecardConfig
from monitor.scorecard.kpis import wilson

# The rate that scores 0 on each rare-event component: several times the network's typical
# rate (docs/scorecard.md "Carrier profiles": stalls 1–4.5 %, loss 0.5–3 and damage 5–25 per
# 10,000), so that the usual spread between couriers moves the score by a few points, not by all of
# it.
RATE_AT_ZERO = {"stall": 0.10, "loss": 0.001, "damage": 0.005}
RARE_EVENTS = {
    # component: (events, base, ratio column)
    "stall": ("stalled", "parcels", "stall_ratio"),
    "loss": ("lost", "parcels", "loss_ratio"),
    "damage": ("damaged", "damage_base", "damage_ratio"),
}
PRIOR_STRENGTH = (2.0, 100_000.0)  # bounds on α + β: from "know nothing" to "all alike"
COMPONENTS = ("on_time", "speed", "stall", "loss", "damage", "pickup")


def beta_prior(k: pd.Series, n: pd.Series) -> tuple[float, float]:
    """Method-of-moments Beta(α, β) for rates k/n across units with different n: the
    n-weighted variance of the observed rates minus the part binomial noise explains."""
    keep = (n > 0).to_numpy(dtype=bool)
    k_arr = k.to_numpy(dtype="float64")[keep]
    n_arr = n.to_numpy(dtype="float64")[keep]
    total = n_arr.sum()
    if total <= 0:
        return 1.0, 1.0
    mean = k_arr.sum() / total
    if mean <= 0 or mean >= 1:
        # No event anywhere (or all events): the rate is as known as it can be.
        strength = PRIOR_STRENGTH[1]
        return max(mean, 0.0) * strength, max(1 - mean, 0.0) * strength
    observed = float(np.sum(n_arr * (k_arr / n_arr - mean) ** 2) / total)
    noise = mean * (1 - mean) * len(n_arr) / total
    spread = observed - noise
    strength = mean * (1 - mean) / spread - 1 if spread > 0 else PRIOR_STRENGTH[1]
    strength = float(np.clip(strength, *PRIOR_STRENGTH))
    return mean * strength, (1 - mean) * strength


def shrunk_rate(week_rows: pd.DataFrame, events: str, base: str) -> pd.Series:
    """Empirical-Bayes rate of a rare event, in two levels like the transit times: a
    carrier's national rate is pulled toward the network's, and each of its cells toward
    that national rate, both with the prior strength α + β fitted across the week's cells."""
    cells = week_rows["province"].notna()
    alpha, beta = beta_prior(week_rows.loc[cells, events], week_rows.loc[cells, base])
    strength = alpha + beta
    network = alpha / strength
    national = week_rows[~cells]
    carrier_rate = (national[events] + network * strength) / (national[base] + strength)
    prior = week_rows["carrier"].map(dict(zip(national["carrier"], carrier_rate, strict=True)))
    prior = prior.astype("float64").where(cells, network).fillna(network)
    return (week_rows[events] + prior * strength) / (week_rows[base] + strength)


def shrunk_p50(week_rows: pd.DataFrame, m: float) -> pd.Series:
    """Transit p50 pulled toward the carrier's national figure, w = n / (n + m)."""
    national = week_rows[week_rows["province"].isna()]
    carrier_p50 = national.set_index("carrier")["transit_hours_p50"]
    # The national rows' own prior: all carriers together, weighted by deliveries.
    weights = national["delivered"].where(national["transit_hours_p50"].notna(), 0)
    overall = (
        float(np.average(national["transit_hours_p50"].fillna(0), weights=weights))
        if weights.sum() > 0
        else np.nan
    )
    prior = week_rows["carrier"].map(carrier_p50).astype("float64")
    prior = prior.where(week_rows["province"].notna(), overall)
    n = week_rows["delivered"].astype("float64")
    w = n / (n + m) if m > 0 else pd.Series(1.0, index=week_rows.index)
    own = week_rows["transit_hours_p50"].astype("float64")
    shrunk = w * own + (1 - w) * prior
    # No delivery of its own: the prior alone; no prior either: its own figure.
    return shrunk.where(own.notna(), prior).where(prior.notna(), own)


def score_week(week_rows: pd.DataFrame, config: ScorecardConfig) -> pd.DataFrame:
    """Adds the components, `score` and `rank` to one week's rows (national rows have
    province None and are ranked among themselves)."""
    rows = week_rows.copy()
    eligible = (rows["parcels"] >= config.min_parcels).to_numpy(dtype=bool)
    rows["insufficient_data"] = ~eligible
    rows["small_sample"] = eligible & (rows["parcels"] < 30).to_numpy(dtype=bool)

    on_time_low, _ = wilson(rows["on_time"], rows["on_time"] + rows["late"])
    pickup_low, _ = wilson(rows["picked_up_24h"], rows["shipped"])
    rows["score_on_time"] = 100 * on_time_low
    rows["score_pickup"] = 100 * pickup_low

    for component, (events, base, ratio) in RARE_EVENTS.items():
        estimate = shrunk_rate(rows, events, base)
        rows[f"{ratio}_shrunk"] = estimate
        rows[f"score_{component}"] = 100 * np.clip(1 - estimate / RATE_AT_ZERO[component], 0, 1)

    rows["transit_hours_p50_shrunk"] = shrunk_p50(rows, config.shrink_parcels)
    group = rows["province"].astype(object).where(rows["province"].notna(), "")
    fastest = rows["transit_hours_p50_shrunk"].where(eligible).groupby(group).transform("min")
    speed = 100 * fastest / rows["transit_hours_p50_shrunk"]
    rows["score_speed"] = speed.clip(upper=100).fillna(0)

    weights = config.weights.model_dump()
    total = sum(weights.values())
    score = sum(weights[c] * rows[f"score_{c}"] for c in COMPONENTS) / total
    rows["score"] = score.round(2).where(eligible)
    rows["rank"] = rows["score"].groupby(group).rank(method="min", ascending=False).astype("Int64")
    return rows


def score(frame: pd.DataFrame, config: ScorecardConfig) -> pd.DataFrame:
    """`score_week` for every week in the frame."""
    if frame.empty:
        return frame.assign(score=pd.Series(dtype="float64"), rank=pd.Series(dtype="Int64"))
    return pd.concat(
        [score_week(rows, config) for _, rows in frame.groupby("week", sort=True)],
        ignore_index=True,
    )
