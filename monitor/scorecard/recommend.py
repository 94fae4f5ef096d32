"""A carrier per province, and a switch only on sustained evidence.

The current carrier of a province is the one that carried most of its parcels this week.
A switch is suggested only when this week's best-ranked carrier scored above the current one
this week *and* last week, both weeks with enough parcels to be ranked (docs/scorecard.md
"Recommendations": "only if its bound is worse than the best carrier's for ≥ 2 consecutive weeks");
one bad week is reported as a watch, not a switch. The gain is stated from the same shrunk figures
that ranked them, averaged over the two weeks: transit hours saved per parcel (p50) and
losses avoided per 10,000 parcels.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

PER_10K = 10_000


@dataclass(frozen=True)
class Recommendation:
    province: str
    carrier: str  # the carrier to use from now on
    current_carrier: str
    best_carrier: str  # ranked first this week
    switch: bool
    weeks_behind: int  # consecutive weeks (0–2) the current carrier trailed the best
    score: float | None  # of `carrier`
    current_score: float | None
    hours_saved: float | None  # p50 transit, per parcel, if the switch is made
    losses_avoided_per_10k: float | None
    on_time_gain: float | None  # ratio points (0.05 = five percentage points)
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _number(value: Any, digits: int = 2) -> float | None:
    if value is None or pd.isna(value):
        return None
    return round(float(value), digits)


def _mean(rows: list[pd.Series], column: str) -> float:
    values = [float(r[column]) for r in rows if not pd.isna(r[column])]
    return sum(values) / len(values) if values else math.nan


def recommend(scored: pd.DataFrame, week: str, previous: str) -> list[Recommendation]:
    cells = scored[scored["province"].notna()]
    this = cells[cells["week"] == week]
    last = cells[cells["week"] == previous].set_index(["province", "carrier"])
    result: list[Recommendation] = []
    for province, rows in this.groupby("province", sort=True):
        ranked = rows[rows["rank"].notna()]
        if ranked.empty:
            continue
        # Most parcels; among equals the better ranked.
        current = rows.sort_values(["parcels", "score"], ascending=[False, False]).iloc[0]
        best = ranked.sort_values(["rank", "parcels"], ascending=[True, False]).iloc[0]
        behind_now = best["carrier"] != current["carrier"] and bool(
            pd.notna(current["score"]) and best["score"] > current["score"]
        )
        before: tuple[pd.Series, pd.Series] | None = None
        key_best, key_current = (province, best["carrier"]), (province, current["carrier"])
        if behind_now and key_best in last.index and key_current in last.index:
            b, c = last.loc[key_best], last.loc[key_current]
            if pd.notna(b["score"]) and pd.notna(c["score"]) and b["score"] > c["score"]:
                before = (b, c)
        switch = before is not None
        weeks_behind = 2 if switch else int(behind_now)
        hours = losses = on_time = None
        if behind_now:
            bests = [best, *(before[:1] if before else [])]
            currents = [current, *(before[1:] if before else [])]
            hours = _mean(currents, "transit_hours_p50_shrunk") - _mean(
                bests, "transit_hours_p50_shrunk"
            )
            losses = PER_10K * (
                _mean(currents, "loss_ratio_shrunk") - _mean(bests, "loss_ratio_shrunk")
            )
            on_time = _mean(bests, "on_time_ratio") - _mean(currents, "on_time_ratio")
        chosen = best if switch else current
        result.append(
            Recommendation(
                province=str(province),
                carrier=str(chosen["carrier"]),
                current_carrier=str(current["carrier"]),
                best_carrier=str(best["carrier"]),
                switch=switch,
                weeks_behind=weeks_behind,
                score=_number(chosen["score"]),
                current_score=_number(current["score"]),
                hours_saved=_number(hours, 1),
                losses_avoided_per_10k=_number(losses, 2),
                on_time_gain=_number(on_time, 4),
                reason=_reason(current, best, switch, behind_now, hours, losses),
            )
        )
    # What needs a decision first: switches, then carriers to watch, then the rest.
    return sorted(result, key=lambda r: (not r.switch, -r.weeks_behind, r.province))


def _reason(
    current: pd.Series,
    best: pd.Series,
    switch: bool,
    behind_now: bool,
    hours: float | None,
    losses: float | None,
) -> str:
    name, other = current["carrier"], best["carrier"]
    if pd.isna(current["score"]):
        return f"{name} has too few parcels here to rank; {other} ranks first"
    if not behind_now:
        return f"keep {name}: ranked first"
    gain = []
    if hours is not None and not math.isnan(hours):
        gain.append(f"{hours:.1f} h faster" if hours >= 0 else f"{-hours:.1f} h slower")
    if losses is not None and not math.isnan(losses):
        gain.append(
            f"{losses:.2f} fewer losses per 10,000"
            if losses >= 0
            else f"{-losses:.2f} more losses per 10,000"
        )
    detail = f" ({', '.join(gain)})" if gain else ""
    if switch:
        return f"switch {name} → {other}: behind for two weeks in a row{detail}"
    return f"keep {name} and watch: behind {other} this week only{detail}"
